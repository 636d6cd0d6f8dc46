# Two entry points, each building its own virtual environment from scratch when missing:
#   make demo   install tailwise with its extras (implicit, serve) and run `tailwise demo` on the bundled data
#   make test   install tailwise with the test extras and run the whole test suite
PYTHON ?= python3
DEMO_VENV ?= .venv-demo
TEST_VENV ?= .venv

.PHONY: demo test bench clean

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	@echo "installing tailwise with its implicit and serve extras into $(DEMO_VENV) (a few minutes the first time)"
	$(DEMO_VENV)/bin/pip install --progress-bar on ".[implicit,serve]"
	touch $@

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	@echo "installing tailwise with its test and torch extras into $(TEST_VENV) (several minutes the first time)"
	$(TEST_VENV)/bin/pip install --progress-bar on -e ".[test,torch]"
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/tailwise demo

test: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python -m pytest

bench: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python bench/baselines.py

clean:
	rm -rf $(DEMO_VENV) $(TEST_VENV) tailwise-demo build src/*.egg-info

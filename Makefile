# Two entry points, each building its own virtual environment from scratch when missing:
#   make demo   install tailwise with its extras and run `tailwise demo` on the bundled data
#   make test   install tailwise with the test extras and run the whole test suite
PYTHON ?= python3
DEMO_VENV ?= .venv-demo
TEST_VENV ?= .venv

.PHONY: demo test bench clean

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet ".[implicit]"
	touch $@

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install --quiet -e ".[test,torch]"
	touch $@

demo: $(DEMO_VENV)/.installed
	$(DEMO_VENV)/bin/tailwise demo

test: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python -m pytest

bench: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/python bench/baselines.py

clean:
	rm -rf $(DEMO_VENV) $(TEST_VENV) tailwise-demo build src/*.egg-info

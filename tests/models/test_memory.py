"""Memory budgets: sizes parsed and printed, dense models refusing above the budget before they
allocate, the budget kept in the manifest, and the estimates checked against measured peaks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tailwise.errors import MemoryBudgetError, TailwiseError
from tailwise.models import EASE, ItemKNN, Popular, memory
from tailwise.models.ease import _symmetrise_upper, ease_bytes, item_gram
from tailwise.models.itemknn import itemknn_bytes
from tailwise.models.memory import format_bytes, parse_budget, refuse_above
from tailwise.models.state import StateCheck
from tailwise.pipeline import Pipeline
from tailwise.testing.contract import random_dataset


# ---------------------------------------------------------------------------------- sizes
@pytest.mark.parametrize(
    "text, expected",
    [
        ("12G", 12 * 10**9), ("12GB", 12 * 10**9), ("12gb", 12 * 10**9), ("800M", 800 * 10**6),
        ("512MiB", 512 * 2**20), ("1.5T", 1_500_000_000_000), ("2TiB", 2 * 2**40), ("1000000", 1_000_000),
        (" 64 kB ", 64_000), ("1K", 1000), (".5G", 500_000_000), ("3b", 3),
    ],
)  # fmt: skip
def test_parse_budget_sizes(text, expected):
    assert parse_budget(text) == expected


def test_parse_budget_share_of_total_memory(monkeypatch):
    monkeypatch.setattr(memory, "total_memory", lambda: 16 * 10**9)
    assert parse_budget("50%") == 8 * 10**9
    assert parse_budget("12.5 %") == 2 * 10**9
    assert parse_budget("100%") == 16 * 10**9


@pytest.mark.parametrize(
    "text", ["nonsense", "", "12X", "-1G", "0", "0.0001", "0%", "150%", "%", "1e9", "G", "12 G B"]
)
def test_parse_budget_rejects_with_the_value_and_the_forms(text):
    with pytest.raises(ValueError) as exc:
        parse_budget(text)
    message = str(exc.value)
    assert repr(text.strip()) in message and "12G" in message and "50%" in message


def test_format_bytes_is_decimal():
    assert format_bytes(999) == "999 bytes"
    assert format_bytes(1000) == "1.0 kB"
    assert format_bytes(36_200_000_000) == "36.2 GB"
    assert format_bytes(999_960_000) == "1.0 GB"  # no "1000.0 MB"
    assert format_bytes(2 * 10**15) == "2000.0 TB"
    assert format_bytes(parse_budget("12G")) == "12.0 GB"


def test_total_memory_and_the_default_budget(monkeypatch):
    assert memory.total_memory() > 0
    assert memory.default_budget() == int(memory.total_memory() * memory.DEFAULT_SHARE)

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(memory.os, "sysconf", no_sysconf)
    assert memory.total_memory() == memory.FALLBACK_TOTAL


def test_cli_help_names_the_default_share():
    from tailwise.cli.common import DEFAULT_BUDGET_HELP

    assert DEFAULT_BUDGET_HELP.startswith(f"{memory.DEFAULT_SHARE:.0%} of")


def test_refuse_above_names_estimate_budget_and_alternative():
    refuse_above("ease", 10**9, 10**9, "--model als")  # at the budget: fine
    with pytest.raises(MemoryBudgetError) as exc:
        refuse_above("ease", 40_600_000_000, 12 * 10**9, "--model als", "for 98,640 items")
    assert str(exc.value) == (
        "ease needs about 40.6 GB for 98,640 items, above the memory budget of 12.0 GB; "
        "use --model als, or raise --memory-budget"
    )
    assert isinstance(exc.value, TailwiseError) and isinstance(exc.value, MemoryError)


# ---------------------------------------------------------------------------------- models
@pytest.mark.parametrize(
    "model, alternative", [(EASE(), "--model als"), (ItemKNN(), "--model als")]
)
def test_dense_models_refuse_a_tiny_budget_before_fitting(model, alternative):
    ds = random_dataset()
    estimate = model.memory_estimate(ds)
    with pytest.raises(MemoryBudgetError) as exc:
        model.fit(ds, memory_budget=1000)
    message = str(exc.value)
    assert f"{model.name} needs about {format_bytes(estimate)}" in message
    assert (
        "memory budget of 1.0 kB" in message
        and alternative in message
        and "--memory-budget" in message
    )
    assert not hasattr(model, "n_items_"), "nothing fitted"
    model.fit(ds, memory_budget=estimate)  # exactly the estimate is enough
    assert model.memory_budget_ == estimate


def test_ease_message_counts_the_items_with_interactions():
    ds = random_dataset(n_items=30)
    sub = ds.subset(ds.item_idx >= 10)  # items 0..9 lose their interactions, stay in the catalogue
    assert sub.n_items == 30
    with pytest.raises(MemoryBudgetError, match="for 20 items with interactions"):
        EASE().fit(sub, memory_budget=1)


def test_default_budget_fits_as_before_and_is_kept():
    ds = random_dataset()
    for model in (EASE(), ItemKNN(), Popular()):
        model.fit(ds)
        assert model.memory_budget_ == memory.default_budget()
        assert model.fit_info() == {}
        assert "memory_budget_" not in model.get_state()
    assert Popular().memory_estimate(ds) is None
    assert Popular().fit(ds, memory_budget=1).memory_budget_ == 1  # nothing to estimate: no refusal


def test_estimates_grow_with_the_catalogue():
    assert ease_bytes(98_640) > 4 * 98_640**2  # at least the dense matrix
    assert ease_bytes(98_640) < 1.2 * 4 * 98_640**2
    assert ease_bytes(1000, nnz=10**6) > ease_bytes(1000)
    assert (
        itemknn_bytes(100_000, 2048, 100)
        > itemknn_bytes(100_000, 512, 100)
        > itemknn_bytes(10_000, 512, 100)
    )
    assert itemknn_bytes(10, 2048, 100) == itemknn_bytes(
        10, 10, 9
    )  # block and neighbours cut to the catalogue


@pytest.mark.parametrize("l2_item", [0.0, 1.5])
def test_ease_weights_match_the_closed_form(l2_item):
    ds = random_dataset(60, 45, density=0.15, seed=3)
    model = EASE(l2=20.0, l2_item=l2_item).fit(ds)
    x = ds.matrix().toarray().astype(np.float64)[:, model.active_]
    gram = x.T @ x
    p = np.linalg.inv(gram + np.diag(20.0 + l2_item * np.diag(gram)))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.weights_, b, rtol=1e-3, atol=1e-5)
    assert model.weights_.flags.c_contiguous  # scoring multiplies by it row-major


def test_item_gram_is_symmetric_and_fortran_ordered():
    ds = random_dataset(200, 150, density=0.1, seed=4)
    active, gram = item_gram(ds.matrix())
    x = ds.matrix()[:, active]
    np.testing.assert_array_equal(gram, (x.T @ x).toarray())
    assert gram.flags.f_contiguous and gram.dtype == np.float32


@pytest.mark.parametrize("n", [1, 2, 31, 33, 100])
def test_symmetrise_in_place_equals_the_triangles(n):
    a = np.asfortranarray(np.random.default_rng(n).standard_normal((n, n)).astype(np.float32))
    expected = np.triu(a) + np.triu(a, 1).T
    _symmetrise_upper(a)
    np.testing.assert_array_equal(a, expected)


def test_state_check_counts_non_finite_values_in_blocks(monkeypatch):
    from tailwise.models import state

    monkeypatch.setattr(state, "FINITE_BLOCK", 3)
    bad = np.array([[1, np.nan], [np.inf, 2], [3, np.nan]], np.float32)
    check = StateCheck(
        {
            "a_": bad,
            "b_": np.array([np.nan, 1, 2, -np.inf, 4]),
            "c_": np.zeros((0, 3)),
            "d_": np.float64(1.0),
        },
        3,
        3,
    )
    check.finite()
    assert check.problems == [
        "'a_' has 3 NaN or infinite values",
        "'b_' has 2 NaN or infinite values",
    ]


# ---------------------------------------------------------------------------------- pipeline
def test_pipeline_records_the_budget_and_fit_info(tmp_path):
    ds = random_dataset()
    model = EASE()
    pipe = Pipeline.fit(model, ds, memory_budget=5 * 10**9)
    assert pipe.meta["memory_budget"] == 5 * 10**9 and pipe.meta["fit_info"] == {}
    target = pipe.save(tmp_path / "m")
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["memory_budget"] == 5 * 10**9 and manifest["fit_info"] == {}
    for key in ("memory_budget", "fit_info"):  # directories written before budgets load as before
        del manifest[key]
    (target / "manifest.json").write_text(json.dumps(manifest))
    loaded = Pipeline.load(target)
    assert "memory_budget" not in loaded.meta
    np.testing.assert_array_equal(loaded.model.weights_, model.weights_)


def test_fit_info_is_what_the_model_records():
    class Chooser(EASE):
        def _fit(self, train, dataset):
            self.fit_info_["backbone"] = "dense"
            super()._fit(train, dataset)

    model = Chooser().fit(random_dataset())
    assert model.fit_info() == {"backbone": "dense"}
    assert Pipeline.fit(Chooser(), random_dataset()).meta["fit_info"] == {"backbone": "dense"}


def test_refused_pipeline_fit_raises_before_anything(tmp_path):
    with pytest.raises(MemoryBudgetError):
        Pipeline.fit(ItemKNN(), random_dataset(), memory_budget=10)


# ---------------------------------------------------------------------------------- measured
PEAK = r"""
import json, sys
import numpy as np
from threadpoolctl import threadpool_limits
from tailwise.data.dataset import Dataset
from tailwise.models import make_model

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

name, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(0)
users = np.repeat(np.arange(n), 50)
ds = Dataset.from_ids(users.astype(str), rng.integers(0, n, len(users)).astype(str))
ds.matrix()
model = make_model(name)
estimate = model.memory_estimate(ds)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak starts again from here
before = status("VmRSS")
with threadpool_limits(1):
    model.fit(ds)
print(json.dumps({"estimate": estimate, "measured": status("VmHWM") - before}))
"""


def can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return Path("/proc/self/status").read_text().count("VmHWM") == 1
    except OSError:
        return False


@pytest.mark.skipif(
    not can_reset_peak(), reason="needs Linux's /proc/self/clear_refs to measure a peak"
)
@pytest.mark.parametrize("name, n", [("ease", 3000), ("itemknn", 8000)])
def test_estimate_bounds_the_measured_peak(name, n):
    out = subprocess.run(
        [sys.executable, "-c", PEAK, name, str(n)], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["measured"] <= got["estimate"] <= 2 * got["measured"], got

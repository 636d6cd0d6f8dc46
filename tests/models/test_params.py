"""Hyperparameter rules (tailwise.models.params) and fitted-state checks (tailwise.models.state)."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tailwise.errors import NumericalError, ParameterError
from tailwise.models import EASE, MODELS, ItemKNN, Popular, make_model
from tailwise.models.params import BIG, Flag, Int, OneOf, Real, Text, check_params
from tailwise.models.state import StateCheck
from tailwise.testing.contract import random_dataset


@pytest.mark.parametrize("name", list(MODELS))
def test_every_parameter_has_one_rule_and_its_default_follows_it(name):
    cls = MODELS[name]
    sig = inspect.signature(cls.__init__)
    params = {p: v.default for p, v in sig.parameters.items() if p != "self"}
    assert set(cls.param_rules) == set(params), "param_rules must list exactly the init parameters"
    check_params(name, cls.param_rules, params)  # the defaults are allowed values
    assert make_model(name).get_params() == params


BAD = [
    ("ease", "l2", "abc"), ("ease", "l2", None), ("ease", "l2", math.nan), ("ease", "l2", math.inf),
    ("ease", "l2", 1e308), ("ease", "l2", 0), ("ease", "l2", -1), ("ease", "l2", True),
    ("hybrid", "alpha", 2), ("hybrid", "alpha", -1), ("hybrid", "alpha", math.nan), ("hybrid", "evidence", -10),
    ("hybrid", "evidence", 0), ("hybrid", "tail_share", 2), ("hybrid", "fusion", "sum"), ("hybrid", "encoder", ""),
    ("adapter", "factors", 0), ("adapter", "factors", 10**9), ("adapter", "tfidf", "yes"), ("adapter", "max_anchors", 2.0),
    ("itemknn", "neighbours", 0), ("itemknn", "shrink", -1), ("content", "profile", "median"),
    ("als", "factors", 0), ("als", "random_state", -1), ("bpr", "learning_rate", 0), ("twotower", "loss", "mse"),
    ("twotower", "threads", 0), ("twotower", "cache_dir", 3),
]  # fmt: skip


@pytest.mark.parametrize(("name", "param", "value"), BAD)
def test_bad_values_are_refused_naming_the_parameter(name, param, value):
    with pytest.raises(ParameterError, match=f"{name} parameter '{param}' must be") as info:
        make_model(name, **{param: value})
    assert info.value.param == param and info.value.model == name
    assert repr(value) in str(info.value)


def test_fit_checks_the_parameters_of_a_model_built_directly():
    with pytest.raises(ParameterError, match="'l2'"):
        EASE(l2=-5).fit(random_dataset())
    with pytest.raises(ParameterError, match="'neighbours'"):
        ItemKNN(neighbours=0).fit(random_dataset())


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(ParameterError, match="has no parameter 'lambda'; its parameters are: l2"):
        make_model("ease", **{"lambda": 3})


def test_a_fit_that_gives_nan_is_an_error():
    class Broken(EASE):
        def _fit(self, train, dataset):
            super()._fit(train, dataset)
            self.weights_ = self.weights_ * np.nan

    with pytest.raises(NumericalError, match=r"fitting ease \(l2=3, l2_item=0.0\) gave unusable values: 'weights_' has .* NaN"):
        Broken(l2=3).fit(random_dataset())


def test_large_l2_still_fits_finite_weights():
    model = EASE(l2=BIG).fit(random_dataset())
    assert np.isfinite(model.weights_).all() and np.abs(model.weights_).max() > 0


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20) | st.booleans() | st.text(max_size=3) | st.none())
def test_real_rule_accepts_exactly_finite_numbers_in_range(value):
    rule = Real(0, 1, low_open=True)
    ok = not isinstance(value, (bool, str)) and value is not None and math.isfinite(value) and 0 < value <= 1
    assert rule.accepts(value) == ok


def test_rule_descriptions():
    assert Real(0, 1).describe() == "a finite number in [0, 1]"
    assert Real(0, None, low_open=True).describe() == "a finite number > 0"
    assert Int(1, 10).describe() == "an integer in [1, 10]"
    assert Int(0).accepts(np.int64(3)) and not Int(0).accepts(3.0)
    assert Flag().accepts(False) and not Flag().accepts(0)
    assert Text(optional=True).accepts(None) and not Text().accepts(None)
    assert OneOf("a", "b").accepts("a") and not OneOf("a", "b").accepts("c")


# ---------------------------------------------------------------------------- fitted state
@pytest.mark.parametrize("model", [Popular(), EASE(l2=10.0), ItemKNN(neighbours=5)])
def test_a_fitted_model_has_a_consistent_state(model):
    assert model.fit(random_dataset()).check_state() == []


def test_state_check_names_what_is_wrong():
    model = EASE(l2=10.0).fit(random_dataset())
    model.weights_ = model.weights_[:, :-1]
    assert "'weights_' has shape" in model.check_state()[0]
    model = EASE(l2=10.0).fit(random_dataset())
    del model.active_
    assert model.check_state() == ["the array 'active_' is missing"]
    model = Popular().fit(random_dataset())
    model.n_items_ = "many"
    assert "'n_items_' is missing or not a count" in model.check_state()[0]


def test_state_check_binds_named_dimensions():
    check = StateCheck({"a": np.zeros((4, 3)), "b": np.zeros((3, 2)), "i": np.array([0, 9])}, n_items=4, n_users=2)
    check.shape("a", "items", "d")
    check.shape("b", "d", 2)
    check.indices("i", 4)
    assert check.problems == ["'i' holds indices outside 0..3"]

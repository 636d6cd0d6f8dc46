"""Hyperparameter rules: what values each model parameter accepts, declared once per model.

Following scikit-learn's parameter constraints, every model class maps each of its init
parameters to a rule in ``param_rules`` (the defaults stay in the init signature, the rules
say what else is allowed). :func:`check_params` applies them where parameters enter the
library: :func:`tailwise.models.make_model` (the command line, the experiment runner, a
model directory's manifest) and :meth:`Recommender.fit` (models built directly). A value of
the wrong type, NaN, an infinity or a value outside the range is a
:class:`~tailwise.errors.ParameterError` naming the model, the parameter and what is allowed.

Examples
--------
>>> Real(0, BIG, low_open=True).describe()
'a finite number in (0, 1e+12]'
>>> Int(1).describe()
'an integer >= 1'
>>> OneOf("gate", "blend").describe()
"one of 'gate', 'blend'"
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from tailwise.errors import ParameterError

#: the largest penalty or weight a parameter may take: beyond it float32 arithmetic under- or
#: overflows (EASE's weights are about ``1 / l2``, so ``l2 = 1e20`` gives all-zero weights)
BIG = 1e12
#: the largest vector dimension (factors, hidden units) a model may be asked for
MAX_DIM = 16384
#: seeds are unsigned 32-bit integers (NumPy's and torch's generators)
MAX_SEED = 2**32 - 1


class Rule:
    """One parameter's allowed values; subclasses implement :meth:`accepts` and :meth:`describe`."""

    def accepts(self, value: object) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        """The allowed values in words, completing "must be ..."."""
        raise NotImplementedError


@dataclass(frozen=True)
class Real(Rule):
    """A finite real number in ``[low, high]`` (ends excluded when `low_open` / `high_open`);
    integers are accepted, booleans are not; None too when `optional`."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def accepts(self, value: object) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        return f"a finite number {_interval(self.low, self.high, self.low_open, self.high_open)}" + (" or null" if self.optional else "")


@dataclass(frozen=True)
class Int(Rule):
    """An integer in ``[low, high]`` (booleans and floats are not integers here)."""

    low: int | None = None
    high: int | None = None

    def accepts(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        return f"an integer {_interval(self.low, self.high, False, False)}"


@dataclass(frozen=True)
class Flag(Rule):
    """``True`` or ``False``."""

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Text(Rule):
    """A non-empty string, or also None when `optional`."""

    optional: bool = False

    def accepts(self, value: object) -> bool:
        return (value is None and self.optional) or (isinstance(value, str) and bool(value.strip()))

    def describe(self) -> str:
        return "a non-empty string" + (" or null" if self.optional else "")


class OneOf(Rule):
    """One of a fixed set of strings."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def accepts(self, value: object) -> bool:
        return isinstance(value, str) and value in self.choices

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))


def rules(**by_name: Rule) -> Mapping[str, Rule]:
    """A model's ``param_rules``: parameter name -> rule, read-only.

    >>> dict(rules(l2=Real(0, BIG, low_open=True)))
    {'l2': Real(low=0, high=1000000000000.0, low_open=True, high_open=False, optional=False)}
    """
    return MappingProxyType(by_name)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def check_params(model: str, rules: Mapping[str, Rule], params: Mapping[str, object]) -> None:
    """Check `params` of the model named `model` against its `rules`.

    Raises
    ------
    ParameterError
        For the first parameter the model does not have, or whose value its rule rejects.

    Examples
    --------
    >>> check_params("ease", {"l2": Real(0, BIG, low_open=True)}, {"l2": 200})
    >>> check_params("ease", {"l2": Real(0, BIG, low_open=True)}, {"l2": float("nan")})
    Traceback (most recent call last):
    ...
    tailwise.errors.ParameterError: ease parameter 'l2' must be a finite number in (0, 1e+12], not nan
    """
    for name, value in params.items():
        if name not in rules:
            raise ParameterError(
                f"model {model!r} has no parameter {name!r}; its parameters are: {', '.join(rules) or '(none)'}",
                model, name,
            )  # fmt: skip
        rule = rules[name]
        if not rule.accepts(value):
            raise ParameterError(f"{model} parameter {name!r} must be {rule.describe()}, not {value!r}", model, name)


def literal(raw: str) -> object:
    """A parameter value typed on a command line: an int, else a float, else true/false, else
    the text itself.

    >>> literal("3"), literal("0.5"), literal("True"), literal("use")
    (3, 0.5, True, 'use')
    """
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(raw.lower(), raw)

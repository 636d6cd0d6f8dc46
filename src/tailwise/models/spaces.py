"""Search spaces for ``tailwise tune``: the ranges each model's hyperparameters are searched in.

Declared once per model, beside the parameter rules (:mod:`tailwise.models.params`): a
:class:`Dim` per searched parameter, its low and high ends and whether it is searched on a log
scale (penalties, learning rates, confidence scalings: their effect is multiplicative). A user
narrows or widens a range, or searches a parameter that is not searched by default, with
:func:`parse_space` (``--space l2=100:5000:log``); every end is checked against the
parameter's rule, so a space can never propose a value the model refuses.

Examples
--------
>>> space_for("ease")["l2"].describe()
'1:100000:log'
>>> sorted(space_for("ease", ["l2=100:2000"]).items())
[('l2', Dim(low=100.0, high=2000.0, log=False, integer=False, choices=()))]
"""

from __future__ import annotations

from dataclasses import dataclass

from tailwise.errors import ParameterError
from tailwise.models.params import Int, OneOf, Rule, literal


@dataclass(frozen=True)
class Dim:
    """One searched parameter: a range ``[low, high]`` (log scale, integers) or a set of choices."""

    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple = ()

    def describe(self) -> str:
        """The range as ``--space`` writes it (``low:high[:log]`` or ``a,b,c``)."""
        if self.choices:
            return ",".join(map(str, self.choices))
        return f"{self.low:g}:{self.high:g}" + (":log" if self.log else "")

    def to_json(self) -> dict:
        """A JSON object of the dimension (what a study stores to recognise its space)."""
        if self.choices:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log, "integer": self.integer}


def _real(low: float, high: float, log: bool = False) -> Dim:
    return Dim(float(low), float(high), log)


def _int(low: int, high: int, log: bool = False) -> Dim:
    return Dim(float(low), float(high), log, True)


#: model name -> parameter -> its default search range. Models left out (popular, content)
#: have nothing worth searching by default; their parameters can still be given with --space.
SPACES: dict[str, dict[str, Dim]] = {
    "ease": {"l2": _real(1.0, 1e5, log=True)},
    "als": {
        "factors": _int(16, 256, log=True),
        "regularization": _real(1e-3, 100.0, log=True),
        "alpha": _real(0.1, 50.0, log=True),
        "iterations": _int(5, 30),
    },
    "bpr": {
        "factors": _int(16, 256, log=True),
        "learning_rate": _real(1e-3, 0.2, log=True),
        "regularization": _real(1e-5, 0.1, log=True),
        "iterations": _int(20, 200, log=True),
    },
    "itemknn": {"neighbours": _int(10, 1000, log=True), "shrink": _real(0.0, 100.0)},
    "adapter": {"factors": _int(16, 512, log=True), "l2": _real(0.01, 1e3, log=True), "norm": _real(0.0, 1.0)},
    "hybrid": {  # all four self-tuned settings: a trial fits once, without an inner search
        "l2": _real(10.0, 1e4, log=True),
        "l2_item": _real(0.0, 5.0),
        "text_weight": _real(1.0, 100.0, log=True),
        "alpha": _real(0.0, 1.0),
        "evidence": _real(0.1, 100.0, log=True),
        "tail_mix": _real(0.0, 1.0),
        "tail_share": _real(0.0, 1.0),
    },
    "twotower": {
        "dim": _int(16, 256, log=True),
        "lr": _real(1e-4, 0.1, log=True),
        "epochs": _int(2, 30),
        "evidence": _real(0.0, 100.0),
    },
}


def space_for(model: str, overrides: list[str] | None = None, fixed: set[str] | frozenset = frozenset()) -> dict[str, Dim]:
    """The search space of `model`: its default ranges, then `overrides` (``--space``), less
    the parameters in `fixed` (given with ``--param``).

    Raises
    ------
    ValueError
        For an unknown model name.
    ParameterError
        For an override of a parameter the model does not have or with ends outside its rule,
        or when nothing is left to search.
    """
    from tailwise.models import MODELS

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    rules = MODELS[model].param_rules
    space = dict(SPACES.get(model, {}))
    for spec in overrides or []:
        name, dim = parse_dim(model, rules, spec)
        space[name] = dim
    space = {k: v for k, v in space.items() if k not in fixed}
    if not space:
        raise ParameterError(
            f"nothing to search for model {model!r}: give ranges with --space KEY=LOW:HIGH[:log] "
            f"(its parameters: {', '.join(rules) or 'none'})", model, "",
        )  # fmt: skip
    return space


def parse_dim(model: str, rules: dict[str, Rule], spec: str) -> tuple[str, Dim]:
    """``KEY=LOW:HIGH``, ``KEY=LOW:HIGH:log`` or ``KEY=A,B,C`` -> (key, dimension), checked
    against the model's rule for KEY.

    >>> from tailwise.models import EASE
    >>> parse_dim("ease", EASE.param_rules, "l2=10:1000:log")
    ('l2', Dim(low=10.0, high=1000.0, log=True, integer=False, choices=()))
    """
    if "=" not in spec:
        raise ParameterError(f"--space must look like key=low:high[:log] or key=a,b,c, not {spec!r}", model, spec)
    name, raw = (s.strip() for s in spec.split("=", 1))
    if name not in rules:
        raise ParameterError(f"--space {spec!r}: model {model!r} has no parameter {name!r}; its parameters are: {', '.join(rules)}", model, name)
    rule = rules[name]
    if "," in raw or isinstance(rule, OneOf):
        choices = tuple(_value(c.strip(), rule) for c in raw.split(",") if c.strip())
        bad = [c for c in choices if not rule.accepts(c)]
        if not choices or bad:
            raise ParameterError(f"--space {spec!r}: every choice of {name!r} must be {rule.describe()}", model, name)
        return name, Dim(choices=choices)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip().lower() != "log"):
        raise ParameterError(f"--space {spec!r}: write a range as low:high or low:high:log", model, name)
    integer = isinstance(rule, Int)
    try:
        low, high = (int(p) if integer else float(p) for p in parts[:2])
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise ParameterError(f"--space {spec!r}: the ends of {name!r} must be {kind}", model, name) from None
    log = len(parts) == 3
    if not low < high:
        raise ParameterError(f"--space {spec!r}: low must be below high", model, name)
    if log and low <= 0:
        raise ParameterError(f"--space {spec!r}: a log range needs low > 0", model, name)
    for end in (low, high):
        if not rule.accepts(end):
            raise ParameterError(f"--space {spec!r}: {name!r} must be {rule.describe()}, not {end!r}", model, name)
    return name, Dim(float(low), float(high), log, integer)


def _value(raw: str, rule: Rule) -> object:
    return raw if isinstance(rule, OneOf) else literal(raw)

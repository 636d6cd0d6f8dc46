"""The experiment runner: model specs x a split x exposure settings -> results.

An :class:`Experiment` is a frozen value: which models (:class:`ModelSpec`), how to split
(:class:`SplitSpec`), the cutoff k, the head share, the exposure settings of every list
(:class:`~tailwise.rerank.Exposure`) and, optionally, a trade-off sweep (:class:`SweepSpec`).
:func:`run` turns it and a dataset into :class:`Results`: the metric rows, each model's lists
on the split (for the report), the sweep's rows and the evaluation context. ``tailwise
evaluate``, ``tradeoff``, ``report`` and ``demo`` all call it, so one specification gives the
same numbers whichever command runs it.

Each model is fitted once per split through :meth:`Pipeline.fit` and its lists come from the
pipeline (:func:`~tailwise.eval.evaluator.score_pipeline`); a swept model reuses that fit and
those lists (:func:`~tailwise.eval.tradeoff.sweep_pipeline`).

Examples
--------
::

    from tailwise.eval.runner import Experiment, ModelSpec, SweepSpec, run

    exp = Experiment((ModelSpec("ease", {"l2": 300}), ModelSpec("hybrid")), k=10,
                     sweep=SweepSpec(("xquad",), (0.0, 0.5, 1.0)))
    results = run(exp, dataset)
    results.rows        # one metric row per model
    results.tradeoff    # one row per model x re-ranker x tail weight
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from tailwise.data.dataset import Dataset
from tailwise.data.splits import SPLITS, Split, k_fold, make_split
from tailwise.eval.evaluator import EvalContext, fit_pipeline, score_pipeline
from tailwise.eval.tradeoff import DEFAULT_WEIGHTS, mark_pareto, sweep_pipeline
from tailwise.models import make_model
from tailwise.models.base import Recommender
from tailwise.rerank import Exposure

log = logging.getLogger(__name__)

#: progress callback: ``on_step(description, steps done, steps in all)``
OnStep = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ModelSpec:
    """A model by name and parameters (:func:`tailwise.models.make_model`); checked at once."""

    name: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        self.build()  # an unknown name or parameter fails here, before any data is read

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params.items()))))

    def build(self) -> Recommender:
        """A new, unfitted model."""
        return make_model(self.name, **self.params)


@dataclass(frozen=True)
class SplitSpec:
    """How to split: ``kind`` is a name of :data:`tailwise.data.splits.SPLITS` or ``"kfold"``
    (`folds` folds, metrics averaged over them); `test_fraction` and `seed` as the split takes
    them."""

    kind: str = "random"
    test_fraction: float = 0.2
    seed: int = 42
    folds: int = 5

    def __post_init__(self) -> None:
        if self.kind not in (*SPLITS, "kfold"):
            raise ValueError(f"unknown split {self.kind!r}; choose from {', '.join(SPLITS)}, kfold")
        if self.kind == "kfold" and self.folds < 2:
            raise ValueError(f"folds must be at least 2, not {self.folds}")

    @property
    def n_splits(self) -> int:
        """How many splits (folds) the experiment runs on."""
        return self.folds if self.kind == "kfold" else 1

    def make(self, dataset: Dataset) -> list[Split]:
        """The split (or the folds) of `dataset`."""
        if self.kind == "kfold":
            return list(k_fold(dataset, self.folds, self.seed))
        return [make_split(dataset, self.kind, self.test_fraction, self.seed)]


@dataclass(frozen=True)
class SweepSpec:
    """A trade-off sweep: every re-ranker at every knob value, for the models named in `models`
    (None: every model of the experiment). Names and weights are checked at once."""

    rerankers: tuple[str, ...]
    weights: tuple[float, ...] = DEFAULT_WEIGHTS
    models: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = tuple(str(n).strip().lower() for n in self.rerankers)
        weights = tuple(float(w) for w in self.weights)
        if not names:
            raise ValueError("a sweep needs at least one re-ranker")
        if not weights:
            raise ValueError("a sweep needs at least one tail weight")
        for name in names:
            for w in weights:
                Exposure(name, w)  # ValueError naming the valid choices or the range
        object.__setattr__(self, "rerankers", names)
        object.__setattr__(self, "weights", weights)
        if self.models is not None:
            object.__setattr__(self, "models", tuple(self.models))

    def covers(self, model: str) -> bool:
        """Whether the sweep runs for the model named `model`."""
        return self.models is None or model in self.models

    @property
    def n_points(self) -> int:
        """Points per swept model."""
        return len(self.rerankers) * len(self.weights)


@dataclass(frozen=True)
class Experiment:
    """Models x a split x exposure settings (and an optional sweep): everything a run needs
    besides the data.

    Parameters
    ----------
    models : tuple of ModelSpec
        In the order of the rows.
    split : SplitSpec
        How to split the data.
    k : int
        List length and cutoff of every metric.
    head_share : float
        Share of items that are head, by training popularity (the metrics' and the re-rankers'
        tail is the rest).
    exposure : Exposure
        The re-ranking stage of every list; default: each model's own lists (the hybrid keeps
        its tail slots). Its ``n_candidates`` and ``seed`` also hold for the sweep.
    sweep : SweepSpec, optional
        A trade-off sweep on the (one) split.
    memory_budget : int, optional
        Bytes each model's fit may use (:meth:`Recommender.fit
        <tailwise.models.base.Recommender.fit>`; default: a share of the machine's total
        memory). A model above it stops the run before its fit starts.
    """

    models: tuple[ModelSpec, ...]
    split: SplitSpec = field(default_factory=SplitSpec)
    k: int = 20
    head_share: float = 0.2
    exposure: Exposure = field(default_factory=Exposure)
    sweep: SweepSpec | None = None
    memory_budget: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        if not self.models:
            raise ValueError("an experiment needs at least one model")
        if int(self.k) < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        if not 0.0 <= float(self.head_share) <= 1.0:
            raise ValueError(f"head_share must be in [0, 1], not {self.head_share}")
        if self.sweep is not None and self.split.n_splits > 1:
            raise ValueError("a trade-off sweep runs on one split, not on k folds")
        if self.memory_budget is not None and int(self.memory_budget) <= 0:
            raise ValueError(f"memory_budget must be above 0 bytes, not {self.memory_budget}")

    def swept(self) -> list[ModelSpec]:
        """The models the sweep runs for (none without a sweep)."""
        return [m for m in self.models if self.sweep is not None and self.sweep.covers(m.name)]

    @property
    def n_steps(self) -> int:
        """Steps :func:`run` reports: a fit-and-score per model and split, a point per sweep
        setting of each swept model."""
        points = self.sweep.n_points if self.sweep is not None else 0
        return len(self.models) * self.split.n_splits + len(self.swept()) * points


@dataclass(frozen=True)
class ModelRun:
    """One evaluated model on the (first) split: its metric row and its lists.

    ``row`` is the row of :func:`~tailwise.eval.evaluator.score_pipeline`; ``items`` is int64
    [n_users, k], one row per user of the context's ``users``.
    """

    name: str
    row: dict[str, float]
    items: np.ndarray


@dataclass(frozen=True)
class Results:
    """What :func:`run` gives back.

    Attributes
    ----------
    experiment : Experiment
        What was run.
    dataset : str
        The dataset's name.
    split : str
        The split's name (``"5-fold"`` for five folds).
    ctx : EvalContext
        The evaluation context of the split (the first fold's for k folds).
    runs : list of ModelRun
        Each model's row and lists on `ctx`, in order (the report's input).
    rows : list of dict
        The table: per model ``dataset``, ``split`` and its row (the mean over folds).
    tradeoff : list of dict
        The sweep's rows (``dataset``, ``split``, ``model``, ``rerank``, ``tail_weight``,
        metrics, timings, and the frontier flags of :func:`~tailwise.eval.tradeoff.mark_pareto`);
        empty without a sweep.
    """

    experiment: Experiment
    dataset: str
    split: str
    ctx: EvalContext
    runs: list[ModelRun]
    rows: list[dict]
    tradeoff: list[dict]


def run(experiment: Experiment, dataset: Dataset, on_step: OnStep | None = None) -> Results:
    """Split `dataset`, fit and score every model, sweep the swept ones.

    Parameters
    ----------
    experiment : Experiment
        The specification.
    dataset : Dataset
        The interactions (and item texts) to split.
    on_step : callable, optional
        Called as ``on_step(description, done, total)`` as each step starts (``done`` steps of
        :attr:`Experiment.n_steps` are finished), e.g. to drive a progress bar.

    Returns
    -------
    Results
    """
    exp = experiment
    done = 0

    def step(description: str) -> None:
        nonlocal done
        if on_step is not None:
            on_step(description, done, exp.n_steps)
        done += 1

    if on_step is not None:
        on_step("Splitting", 0, exp.n_steps)
    contexts = [EvalContext.build(s, k=exp.k, head_share=exp.head_share) for s in exp.split.make(dataset)]
    for spec in exp.models:  # a model above the memory budget stops the run before any fit
        for ctx in contexts:
            spec.build().check_memory(ctx.split.train, exp.memory_budget)
    label = f"{len(contexts)}-fold" if exp.split.kind == "kfold" else contexts[0].split.name
    runs, rows, tradeoff = [], [], []
    for spec in exp.models:
        per_split = []
        for n, ctx in enumerate(contexts, start=1):
            fold = f" (fold {n}/{len(contexts)})" if len(contexts) > 1 else ""
            step(f"Fitting and scoring {spec.name}{fold}")
            pipe = fit_pipeline(spec.build(), ctx, exp.memory_budget)
            recs, row = score_pipeline(pipe, ctx, exp.exposure)
            per_split.append(row)
            if n > 1:
                del pipe, recs
                continue
            runs.append(ModelRun(row["model"], row, recs.items))
            if exp.sweep is not None and exp.sweep.covers(spec.name):
                own = None if exp.exposure.active else row  # weight 0: the model's own lists

                def on_point(rerank: str, w: float, name: str = spec.name) -> None:
                    step(f"{name}: re-ranking with {rerank} at tail weight {w:g}")

                tradeoff += sweep_pipeline(pipe, ctx, exp.sweep.rerankers, exp.sweep.weights, exp.exposure, own, on_point)
            del pipe, recs  # free this model before the next one is fitted: one fitted model at a time
        rows.append({"dataset": dataset.name, "split": label, **mean_rows(per_split)})
    marked = [{"dataset": dataset.name, "split": label, **r} for r in mark_pareto(tradeoff)]
    return Results(exp, dataset.name, label, contexts[0], runs, rows, marked)


def mean_rows(rows: list[dict]) -> dict:
    """The mean of each float column over rows (folds; NaN-aware); other columns from the
    first row. One row comes back as it is."""
    out = dict(rows[0])
    if len(rows) > 1:
        for key, value in rows[0].items():
            if isinstance(value, float):
                out[key] = float(np.nanmean([r.get(key, np.nan) for r in rows]))
    return out

"""What a report is built from: the evaluation context, each model's lists and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from tailwise.eval.evaluator import EvalContext, evaluate_model
from tailwise.models.base import Recommender
from tailwise.ranking import Recommendations

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelRun:
    """One evaluated model: its metric row (as :func:`evaluate_model` returns it) and its lists.

    ``items`` is int64 [n_users, k], one row per user of the context's ``users``.
    """

    name: str
    row: dict[str, float]
    items: np.ndarray


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows.

    Parameters
    ----------
    ctx : EvalContext
        The split, cutoff, evaluated users, held-out truth, training popularity and tail mask.
    runs : list of ModelRun
        The models in the order they appear in the table and legends.
    dataset : str
        The dataset's name for the title.
    tradeoff : list of dict, optional
        Rows of :func:`tailwise.eval.tradeoff.sweep` (``model``, ``rerank``, ``tail_weight``,
        ``ndcg``, ``tail_recall``, ...); without them the trade-off section says how to add it.
    command : str, optional
        The command line that produced the report, shown in its header.
    """

    ctx: EvalContext
    runs: list[ModelRun]
    dataset: str = ""
    tradeoff: list[dict] | None = None
    command: str | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a report needs at least one evaluated model")
        for run in self.runs:
            if run.items.shape[0] != len(self.ctx.users):
                raise ValueError(
                    f"model {run.name!r} has lists for {run.items.shape[0]} users, "
                    f"the context evaluates {len(self.ctx.users)}"
                )

    @property
    def rows(self) -> list[dict[str, float]]:
        """The metric rows, one per model."""
        return [run.row for run in self.runs]


def run_model(model: Recommender, ctx: EvalContext, fit: bool = True) -> ModelRun:
    """Fit (unless `fit` is false), recommend and score one model, keeping its lists."""
    kept: list[Recommendations] = []
    row = evaluate_model(model, ctx, fit=fit, on_recs=kept.append)
    return ModelRun(model.name, row, kept[0].items)


def collect(
    models: Iterable[Recommender],
    ctx: EvalContext,
    on_model: Callable[[str], None] | None = None,
) -> list[ModelRun]:
    """:func:`run_model` for each model in order; `on_model` gets each name as it starts."""
    runs = []
    for model in models:
        if on_model is not None:
            on_model(model.name)
        runs.append(run_model(model, ctx))
    return runs

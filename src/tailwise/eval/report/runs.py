"""What a report is built from: the evaluation context, each model's lists and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from tailwise.eval.evaluator import EvalContext
from tailwise.eval.runner import ModelRun, Results


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
        Rows of a trade-off sweep (``model``, ``rerank``, ``tail_weight``, ``ndcg``,
        ``tail_recall``, ...; :attr:`Results.tradeoff <tailwise.eval.runner.Results>`);
        without them the trade-off section says how to add it.
    command : str, optional
        The command line that produced the report, shown in its header.
    notes : list of str, optional
        Lines shown under the header.
    tune : dict, optional
        A ``tailwise tune`` summary (:func:`tailwise.eval.tune_results.load_summary`); adds the
        tuning section (objective over trials, or the Pareto front, and the best parameters).
    """

    ctx: EvalContext
    runs: list[ModelRun]
    dataset: str = ""
    tradeoff: list[dict] | None = None
    command: str | None = None
    notes: list[str] = field(default_factory=list)
    tune: dict | None = None

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("a report needs at least one evaluated model")
        for run in self.runs:
            if run.items.shape[0] != len(self.ctx.users):
                raise ValueError(
                    f"model {run.name!r} has lists for {run.items.shape[0]} users, "
                    f"the context evaluates {len(self.ctx.users)}"
                )

    @classmethod
    def from_results(cls, results: Results, command: str | None = None) -> ReportData:
        """The report of an experiment run (:func:`tailwise.eval.runner.run`) on one split."""
        if results.experiment.split.n_splits > 1:
            raise ValueError("a report shows one split, not k folds")
        return cls(results.ctx, list(results.runs), results.dataset, results.tradeoff or None, command)

    @property
    def rows(self) -> list[dict[str, float]]:
        """The metric rows, one per model."""
        return [run.row for run in self.runs]

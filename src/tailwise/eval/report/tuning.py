"""The report's tuning section: a ``tailwise tune`` study as a figure and tables.

Shown when the report is given tune results (``tailwise report --tune STUDY_OR_JSON``,
``ReportData(tune=summary)`` with a summary of :mod:`tailwise.eval.tune_results`). For the
accuracy objective the figure is validation NDCG@K per trial with the best so far; for the
Pareto objective it is every trial in NDCG/tail-recall space with the front ringed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

from tailwise.eval.report.plots import _figure, _png

TUNE_TITLE = "Hyperparameter search (tailwise tune)"
_DONE, _PRUNED, _INFEASIBLE = "#3b6ea8", "#999999", "#e08a2c"


def tune_figure(s: Mapping) -> bytes:
    """The search as a PNG: objective over trials, or the trials in NDCG/tail-recall space."""
    k = s.get("k") or 20
    trials = list(s["trials"])
    if s.get("objective") == "pareto":
        return _pareto_figure(trials, [r["trial"] for r in s.get("front", [])], k)
    fig, (ax,) = _figure(7.6, 4.3)
    done = [r for r in trials if r["state"] == "complete" and r.get("ndcg") is not None]
    feasible = [r for r in done if r.get("feasible", True)]
    infeasible = [r for r in done if not r.get("feasible", True)]
    pruned = [r for r in trials if r["state"] == "pruned" and r.get("intermediate")]
    ax.scatter([r["trial"] for r in feasible], [r["ndcg"] for r in feasible], s=22, color=_DONE, label="complete", zorder=3)
    if infeasible:
        ax.scatter([r["trial"] for r in infeasible], [r["ndcg"] for r in infeasible], s=26, facecolors="none",
                   edgecolors=_INFEASIBLE, label=f"below the tail-recall floor {s.get('tail_floor'):g}", zorder=3)  # fmt: skip
    if pruned:
        last = [list(r["intermediate"].values())[-1] for r in pruned]
        ax.scatter([r["trial"] for r in pruned], last, s=24, marker="x", color=_PRUNED, label="pruned (last reported)", zorder=2)
    if feasible:
        xs = np.array([r["trial"] for r in feasible])
        best = np.maximum.accumulate(np.array([r["ndcg"] for r in feasible]))
        ax.step(np.r_[xs, max(r["trial"] for r in trials)], np.r_[best, best[-1]], where="post", color="black", linewidth=1.2, label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"validation NDCG@{k}")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return _png(fig)


def _pareto_figure(trials: list, front_ids: list, k: int) -> bytes:
    fig, (ax,) = _figure(7.6, 5.0)
    done = [r for r in trials if r["state"] == "complete" and r.get("ndcg") is not None]
    x = np.array([r.get("tail_recall", np.nan) for r in done], dtype=float)
    y = np.array([r["ndcg"] for r in done], dtype=float)
    ax.scatter(x, y, s=22, color=_DONE, label="trial", zorder=3)
    on = np.array([r["trial"] in set(front_ids) for r in done], dtype=bool)
    if on.any():
        order = np.argsort(x[on])
        ax.plot(x[on][order], y[on][order], color="black", linestyle="--", linewidth=1, zorder=2)
        ax.scatter(x[on], y[on], s=110, facecolors="none", edgecolors="black", linewidths=1.2, zorder=4, label="Pareto front")
    ax.set_xlabel(f"validation tail recall@{k}")
    ax.set_ylabel(f"validation NDCG@{k}")
    ax.legend(fontsize=8, frameon=False, loc="best")
    return _png(fig)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.4g}"
    return "–" if value is None else str(value)


def _table(table_id: str, rows: list, names: list[str], star: set | None = None) -> str:
    metrics = [m for m in ("ndcg", "recall", "tail_recall", "coverage", "fit_s") if any(m in r for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["", "trial", "state", *names, *metrics])
    body = []
    for r in rows:
        mark = "★" if star and r["trial"] in star else ""
        cells = [mark, r["trial"], r["state"], *(r["params"].get(n) for n in names), *(r.get(m) for m in metrics)]
        body.append("<tr>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in cells) + "</tr>")
    return f'<table class="small" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def tune_parts(s: Mapping) -> tuple[str, bytes, str, str]:
    """(intro HTML, figure PNG, caption HTML, tables HTML) of the tuning section."""
    k = s.get("k") or 20
    names = sorted({p for r in s["trials"] for p in r["params"]})
    objective = {"pareto": f"NDCG@{k} and tail recall@{k} together (Pareto front)"}.get(
        s.get("objective"), f"NDCG@{k}" + (f" with tail recall@{k} at least {s['tail_floor']:g}" if s.get("tail_floor") is not None else "")
    )
    intro = (
        f"<p>{html.escape(str(s.get('model')))}: {s['n_trials']} trials ({s['n_complete']} complete, "
        f"{s['n_pruned']} pruned, {s['n_failed']} failed) maximising validation {html.escape(objective)}. "
        "The validation split is carved from the training data (per user, a random 20% of the "
        "training interactions, seed 42); the test split is never seen by the search.</p>"
    )
    if s.get("objective") == "pareto":
        caption = (f"Every complete trial at its validation tail recall@{k} (right) and NDCG@{k} (up); ringed points joined by "
                   "the dashed line form the Pareto front: no other trial is better on both.")  # fmt: skip
        star = {r["trial"] for r in s.get("front", [])}
        tables = "<h3>Pareto front</h3>" + _table("tune-front", list(s.get("front", [])), names, star)
    else:
        caption = (f"Validation NDCG@{k} of each trial in the order they ran; the black line is the best so far. "
                   "Crosses: trials the median pruner stopped early, at their last reported value.")  # fmt: skip
        best = s.get("best")
        star = {best["trial"]} if best else set()
        tables = (
            "<h3>Best parameters</h3>" + _table("tune-best", [best], names, star)
            if best else "<p class='missing'>No trial reached the tail-recall floor.</p>"
        )  # fmt: skip
    tables += f"<details><summary>All {len(s['trials'])} trials</summary>{_table('tune-trials', list(s['trials']), names, star)}</details>"
    return intro, tune_figure(s), caption, tables

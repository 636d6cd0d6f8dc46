"""The report's sections: the numbers each figure needs, the figure, and how to read it."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tailwise.eval.report import data as D
from tailwise.eval.report import plots
from tailwise.eval.report.runs import ReportData
from tailwise.eval.report.tuning import TUNE_TITLE, tune_parts
from tailwise.eval.tradeoff import pareto

#: the command that adds a trade-off frontier to a report (shown when the report has none)
TRADEOFF_HINT = "tailwise report ... --rerank xquad,calibrated,mmr --tail-weights 0,0.25,0.5,0.75,1"

TRADEOFF_TITLE = "Accuracy against the long tail: the trade-off frontier"
#: the columns of the trade-off table (those present in the sweep's rows)
TRADEOFF_COLUMNS = (
    "model", "rerank", "tail_weight", "ndcg", "recall", "tail_recall", "coverage", "gini", "rerank_s",
)  # fmt: skip
#: the figure sections in page order, as :func:`build_sections` reports them to `on_step`
SECTION_STEPS = (
    "catalogue curve", "recommendation curves", "Lorenz curves", "popularity buckets",
    "trade-off frontier", "cold items", "tuning results",
)  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """One embedded PNG with its alt text and a caption saying how to read it (HTML)."""

    id: str
    png: bytes
    alt: str
    caption: str


@dataclass(frozen=True)
class Section:
    """A titled part of the page: intro paragraph(s), figures, then any extra HTML."""

    id: str
    title: str
    nav: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    extra: str = ""


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def catalog_section(d: ReportData) -> Section:
    ctx = d.ctx
    pop, tail = ctx.item_pop, ctx.tail
    n, n_head = len(pop), int((~tail).sum())
    share = float(pop[~tail].sum() / max(pop.sum(), 1))
    png = plots.catalog_curve(pop, tail)
    caption = (
        "Every item's number of training interactions, items sorted from most to least popular; "
        "both axes are logarithmic, so a straight line is a power law. Left of the dashed line "
        f"is the <b>head</b> (the {n_head:,} most popular items, {_pct(n_head / n)} of the "
        f"catalogue, holding {_pct(share)} of the interactions); right of it the <b>long tail</b>. "
        "A grey band marks items with no training interaction (always tail)."
    )
    return Section(
        "catalog", "The catalogue's long tail", "Long tail",
        intro=f"{n:,} items, {int(pop.sum()):,} training interactions; the head/tail cut is the "
        "one every long-tail metric in the table uses.",
        figures=[Figure("fig-catalog", png, "training interactions per item by popularity rank", caption)],
    )  # fmt: skip


def recommendation_section(
    d: ReportData, exposures: dict[str, np.ndarray], colors: dict
) -> Section:
    ctx = d.ctx
    png = plots.recommendation_curve(
        ctx.item_pop, exposures, ctx.split.train.n_users, len(ctx.users), ctx.tail, ctx.k, colors
    )
    tail_share = {
        name: float(exp[ctx.tail].sum() / max(exp.sum(), 1)) for name, exp in exposures.items()
    }
    listing = ", ".join(f"{html.escape(n)} {s:.1%}" for n, s in tail_share.items())
    n_head = int((~ctx.tail).sum())
    caption = (
        "<b>Left</b>: the long-tail curve of the recommendations themselves: for each model, the "
        f"share of evaluated users whose top-{ctx.k} list holds an item, items sorted from most "
        "to least recommended (log-log); each curve ends at the number of distinct items the "
        "model recommends at all. The dashed grey curve is the catalogue's (share of training "
        "users with the item). A steep, short curve means few items reach everyone. "
        "<b>Right</b>: which items those are. Items in the catalogue's popularity order (log "
        "scale), against the cumulative share of recommendation slots they take; the grey curve "
        "is the catalogue's cumulative share of interactions. A curve that reaches 100% left of "
        f"the dashed cut (the top {n_head:,} items) never recommends the tail; the lower it "
        f"crosses the cut, the more slots go to tail items. Tail share of slots: {listing}."
    )
    return Section(
        "recommendations", "Where the recommendations fall on the popularity curve", "Recommendations",
        figures=[Figure("fig-recommendations", png, "recommendation counts by rank, and their cumulative share by catalogue popularity rank", caption)],
    )  # fmt: skip


def exposure_section(d: ReportData, exposures: dict[str, np.ndarray], colors: dict) -> Section:
    png = plots.lorenz_curves(exposures, d.ctx.item_pop, colors)
    caption = (
        "Lorenz curves of exposure: items sorted from least to most recommended (x), against the "
        "cumulative share of all recommendation slots they receive (y). The dotted diagonal is "
        "perfectly even exposure; the further a curve sags below it, the more the lists "
        "concentrate on few items. The <b>Gini</b> index in the legend is one minus twice the "
        "area under the curve (0 = even, near 1 = a handful of items get everything); it equals "
        "the table's gini. Items never recommended sit on the flat start of each curve. "
        "<b>Right</b>: the same curves read from the top, on a log scale: the share of all "
        "recommendations taken by the most recommended 0.1%, 1%, 10% ... of items; the lower "
        "and flatter a curve, the more evenly exposure is spread. The dashed grey curves are "
        "the catalogue's own inequality of training interactions."
    )
    return Section(
        "exposure", "Exposure: Lorenz curves and Gini", "Exposure",
        figures=[Figure("fig-lorenz", png, "Lorenz curves of item exposure per model", caption)],
    )  # fmt: skip


def bucket_section(d: ReportData, colors: dict, n_buckets: int = 5) -> Section:
    ctx = d.ctx
    buckets = D.popularity_buckets(ctx.item_pop, n_buckets)
    recall, slots = {}, {}
    relevant = np.zeros(len(buckets), dtype=np.int64)
    rows = []
    for run in d.runs:
        hits, relevant = D.bucket_recall(run.items, ctx.truth, buckets.of_item, len(buckets))
        recall[run.name] = np.where(relevant > 0, hits / np.maximum(relevant, 1), np.nan)
        exp = D.bucket_exposure(run.items, buckets.of_item, len(buckets))
        slots[run.name] = exp / max(exp.sum(), 1)
        rows.append((run.name, recall[run.name]))
    heldout = relevant / max(relevant.sum(), 1)
    png = plots.bucket_figure(buckets, recall, slots, heldout, ctx.k, colors)
    caption = (
        "Items are grouped by their number of training interactions into buckets that each hold "
        "about the same share of all interactions, so the first bucket is a few blockbusters and "
        "the last (before a possible bucket of items with no interactions, labelled 0) thousands "
        f"of rarely seen items. <b>Left</b>: of the held-out interactions with a bucket's items, "
        f"the share found in the top-{ctx.k} lists, pooled over users (the y-axis turns "
        "logarithmic when values span orders of magnitude; a missing bar is a recall of 0 or a "
        "bucket without held-out interactions; the table below has the numbers). "
        "<b>Right</b>: how the models spend their list slots over the buckets; black ticks mark "
        "how the held-out interactions themselves are spread."
    )
    head = "".join(f"<th>{html.escape(lab)}</th>" for lab in buckets.labels)
    body = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        + "".join(f"<td>{'–' if math.isnan(v) else f'{v:.4f}'}</td>" for v in values)
        + "</tr>"
        for name, values in rows
    )
    table = (
        '<table class="small" id="bucket-table"><thead><tr><th>recall by bucket</th>'
        f"{head}</tr></thead><tbody>{body}<tr class='muted'><td>held-out interactions</td>"
        + "".join(f"<td>{int(v):,}</td>" for v in relevant)
        + "</tr></tbody></table>"
    )
    return Section(
        "buckets", "Recall by popularity bucket", "Buckets",
        figures=[Figure("fig-buckets", png, "recall and list share per popularity bucket, per model", caption)],
        extra=table,
    )  # fmt: skip


def tradeoff_section(d: ReportData, colors: dict) -> Section:
    rows = d.tradeoff or []
    if not rows:
        return Section(
            "tradeoff", TRADEOFF_TITLE, "Trade-off",
            intro="<p class='missing'>This report has no trade-off frontier. A frontier re-ranks "
            "each model's candidates with a long-tail re-ranker at a series of tail weights and "
            "plots NDCG against tail recall. Add it with<br><code>"
            f"{html.escape(TRADEOFF_HINT)}</code><br>or, in Python, give the experiment a "
            "<code>tailwise.eval.runner.SweepSpec</code> and pass <code>Results.tradeoff</code> as "
            "<code>ReportData(tradeoff=rows)</code>.</p>",
        )  # fmt: skip
    png = plots.tradeoff_figure(rows, colors, d.ctx.k)
    caption = (
        f"Each line is one model with one re-ranker (its own colour; the re-ranker sets the line "
        "style and marker; named where the line ends); its points are NDCG@{d.ctx.k} (accuracy, up) "
        f"against tail recall@{d.ctx.k} (held-out tail items found, right) as the tail weight, "
        "printed beside the points (where they are not crowded), grows from 0 (the model's own "
        "ranking); the table below lists every setting. Up and to the right "
        "is better on both. Ringed points joined by the dashed line form the <b>Pareto "
        "front</b>: no other setting is better on both axes; a point below it is beaten."
    )
    cols = [c for c in TRADEOFF_COLUMNS if any(c in r for r in rows)]
    front = pareto(
        np.array([float(r["tail_recall"]) for r in rows]),
        np.array([float(r["ndcg"]) for r in rows]),
    )
    table = _rows_table("tradeoff-table", rows, cols, front)
    return Section(
        "tradeoff", TRADEOFF_TITLE, "Trade-off",
        figures=[Figure("fig-tradeoff", png, "NDCG against tail recall as the tail weight grows", caption)],
        extra=f"<details><summary>All {len(rows)} settings (★ = on the Pareto front)</summary>{table}</details>",
    )  # fmt: skip


def _rows_table(table_id: str, rows: list[dict], cols: list[str], star: np.ndarray) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r, on in zip(rows, star):
        cells = "".join(
            f"<td>{html.escape(f'{r[c]:g}' if c == 'tail_weight' else format_value(r.get(c)))}</td>"
            for c in cols
        )
        body.append(f"<tr><td>{'★' if on else ''}</td>{cells}</tr>")
    return f'<table class="small" id="{table_id}"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def cold_section(d: ReportData, colors: dict) -> Section:
    ctx = d.ctx
    names = [r.name for r in d.runs if not math.isnan(r.row.get("cold_recall", math.nan))]
    cold_truth = ctx.truth[:, ctx.cold]
    title = "Cold items: recommending what nobody has interacted with yet"
    if not names or cold_truth.nnz == 0:
        return Section(
            "cold", title, "Cold items",
            intro="<p class='missing'>No held-out interaction in this split is with an item "
            "that has no training interactions, so there is no cold-item result. Evaluate on a "
            "cold-item split (<code>--split cold-item</code>) to hold out a share of items with "
            "all their interactions and see which models can rank them from their text.</p>",
        )  # fmt: skip
    n_cold_items = int((np.diff(cold_truth.tocsc().indptr) > 0).sum())
    share = cold_truth.nnz / max(ctx.truth.nnz, 1)
    if d.ctx.split.cold_items is not None:
        intro = (
            f"This is a cold-item split: {len(d.ctx.split.cold_items):,} items were held out "
            "with all their interactions, and every model ranks only among them, so each "
            "recommendation is a cold item and recall is cold-item recall."
        )
    else:
        intro = (
            f"{cold_truth.nnz:,} held-out interactions ({_pct(share)}) are with {n_cold_items:,} "
            "items that have no training interaction; models that only learn from interactions "
            "cannot score them, text-aware models can."
        )
    runs = [r for r in d.runs if r.name in names]
    png = plots.cold_figure(
        names, [r.row["cold_recall"] for r in runs], [r.row["recall"] for r in runs], colors, ctx.k
    )
    caption = (
        f"Solid bars: recall@{ctx.k} on held-out interactions with cold items (no training "
        "interaction), per model; hatched bars: recall on all held-out interactions, for scale. "
        "A solid bar at zero: the model found none of them; models that learn only from "
        "interactions cannot rank an item nobody has interacted with."
    )
    return Section(
        "cold", title, "Cold items", intro=f"<p>{intro}</p>",
        figures=[Figure("fig-cold", png, "cold-item recall per model", caption)],
    )  # fmt: skip


def tune_section(d: ReportData) -> Section | None:
    """The hyperparameter search, when the report was given one (:mod:`.tuning`)."""
    if not d.tune:
        return None
    intro, png, caption, tables = tune_parts(d.tune)
    alt = "the tuning trials" + (" in NDCG/tail-recall space" if d.tune.get("objective") == "pareto" else ": objective over trials")
    return Section("tuning", TUNE_TITLE, "Tuning", intro=intro, figures=[Figure("fig-tuning", png, alt, caption)], extra=tables)


def format_value(value: object) -> str:
    """A table cell: floats with 4 decimals (2 from 10 up), NaN and None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "–"
        return f"{value:,.2f}" if abs(value) >= 10 else f"{value:.4f}"
    return str(value)


def build_sections(d: ReportData, on_step: Callable[[str], None] | None = None) -> list[Section]:
    """Every figure section in page order; `on_step` gets each section's title as it starts."""
    n_items = len(d.ctx.item_pop)
    exposures = {run.name: D.exposure(run.items, n_items) for run in d.runs}
    colors = plots.model_colors(
        [run.name for run in d.runs] + [str(r["model"]) for r in d.tradeoff or []]
    )
    makers = [
        lambda: catalog_section(d),
        lambda: recommendation_section(d, exposures, colors),
        lambda: exposure_section(d, exposures, colors),
        lambda: bucket_section(d, colors),
        lambda: tradeoff_section(d, colors),
        lambda: cold_section(d, colors),
        lambda: tune_section(d),
    ]
    out = []
    for label, make in zip(SECTION_STEPS, makers, strict=True):
        if on_step is not None:
            on_step(label)
        section = make()
        if section is not None:  # a section shown only when its input is given
            out.append(section)
    return out

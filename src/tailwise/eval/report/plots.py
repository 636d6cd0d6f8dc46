"""The report's figures: one function per figure, arrays in, PNG bytes out.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend
switch, no display needed); matplotlib is imported only when a figure is drawn. Models keep
one colour and one line style across every figure, and lines are labelled where they end, so
a figure reads without matching colours to a legend (and in grey print); the catalogue's own
curve is grey and dashed. In the trade-off figure every (model, re-ranker) line has its own
colour, the re-ranker its own line style and marker.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tailwise._compat import require
from tailwise.eval.report.data import (
    Buckets,
    cumulative_share,
    lorenz,
    lorenz_gini,
    popularity_order,
)  # fmt: skip
from tailwise.eval.tradeoff import pareto

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110
CATALOGUE = "#555555"
HEAD, TAIL, COLD = "#3b6ea8", "#e08a2c", "#bbbbbb"
_MAX_POINTS = 2000  # points per Lorenz curve drawn (the Gini uses every item)


def _figure(width: float = 7.6, height: float = 4.3, ncols: int = 1) -> tuple[Figure, list[Axes]]:
    require("matplotlib", "drawing the report's figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(1, ncols, squeeze=False)[0])
    for ax in axes:
        ax.grid(True, which="major", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def model_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per model name, stable in the order given (tab10, then tab20)."""
    require("matplotlib", "drawing the report's figures")
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    unique = list(dict.fromkeys(names))
    if len(unique) <= 9:  # tab10 without its grey, which is the catalogue's colour
        palette = [c for n, c in enumerate(colormaps["tab10"].colors) if n != 7]
    else:
        palette = list(colormaps["tab20"].colors)
    return {name: to_hex(palette[n % len(palette)]) for n, name in enumerate(unique)}


#: line styles, one per model in order (solid first); the catalogue is grey ``--``
LINESTYLES = ("-", (0, (6, 2)), "-.", ":", (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2, 2, 2)), (0, (1, 1)), (0, (4, 4)))


def model_styles(names: Sequence[str]) -> dict[str, object]:
    """One matplotlib line style per model name, stable in the order given.

    Examples
    --------
    >>> model_styles(["ease", "hybrid", "ease"])
    {'ease': '-', 'hybrid': (0, (6, 2))}
    """
    unique = list(dict.fromkeys(names))
    return {name: LINESTYLES[n % len(LINESTYLES)] for n, name in enumerate(unique)}


def label_ends(ax: Axes, ends: Sequence[tuple[float, float, str, str]], min_gap: float = 11.0, dy0: float = 0.0) -> None:
    """Write each line's name just right of its last point, in its colour, moving labels up (in
    points; down near the top) where they would overlap one already placed. `ends` holds
    (x, y, text, colour); `dy0` shifts every label (e.g. below a point's own annotation)."""
    to_px = ax.transData.transform
    top = ax.get_window_extent().y1
    scale = ax.figure.dpi / 72.0  # display pixels per point
    placed: list[tuple[float, float]] = []  # label centres in display pixels

    def free(px: float, y_px: float) -> bool:
        return not any(abs(px - qx) < 110 and abs(y_px - qy) < min_gap * scale for qx, qy in placed)

    for x, y, text, colour in sorted(ends, key=lambda e: e[1]):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        px, py = to_px((x, y))
        # the nearest free place in steps of half a line: up first, down where up leaves the axes
        ups = [dy0 + n * min_gap / 2 for n in range(80)]
        tries = [d for d in ups if py + (d + min_gap) * scale < top] + [dy0 - n * min_gap / 2 for n in range(1, 80)]
        dy = next((d for d in tries if free(px, py + d * scale)), dy0)
        placed.append((px, py + dy * scale))
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, dy), fontsize=8,
                    color=colour, va="center", fontweight="bold", annotation_clip=False)  # fmt: skip


def _cut_line(ax: Axes, n_head: int, n_items: int, n_cold: int, label_cold: bool = True) -> None:
    """The head/tail cut as a vertical line and the cold items as a grey band (rank axis)."""
    if 0 < n_head < n_items:
        ax.axvline(n_head + 0.5, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f" head | tail (top {n_head:,} items)", (n_head + 0.5, 1.0),
            xycoords=("data", "axes fraction"), va="top", ha="left", fontsize=8,
        )  # fmt: skip
    if n_cold:
        ax.axvspan(n_items - n_cold + 0.5, n_items + 0.5, color=COLD, alpha=0.35, linewidth=0)
    if n_cold and label_cold:
        ax.annotate(
            f"no training\ninteractions\n({n_cold:,} items) ", (n_items - n_cold + 0.5, 0.78),
            xycoords=("data", "axes fraction"), ha="right", va="center", fontsize=8, color="#666666",
        )  # fmt: skip


def catalog_curve(item_pop: np.ndarray, tail: np.ndarray) -> bytes:
    """The catalogue's long tail: training interactions per item by popularity rank (log-log)."""
    pop = np.asarray(item_pop, dtype=np.float64)
    counts = pop[popularity_order(pop)]
    n, n_head = len(counts), int((~tail).sum())
    ranks = np.arange(1, n + 1)
    total = max(counts.sum(), 1.0)
    fig, (ax,) = _figure()
    head, rest = slice(0, n_head), slice(n_head, n)
    share_head = counts[head].sum() / total
    for part, colour, label in (
        (head, HEAD, f"head: {n_head:,} items, {share_head:.0%} of interactions"),
        (rest, TAIL, f"tail: {n - n_head:,} items, {1 - share_head:.0%} of interactions"),
    ):
        x, y = ranks[part], counts[part]
        keep = y > 0
        if keep.any():
            ax.fill_between(
                x[keep], y[keep], 0.8, step="mid", color=colour, alpha=0.35, linewidth=0
            )
            ax.step(x[keep], y[keep], where="mid", color=colour, linewidth=1.6, label=label)
    _cut_line(ax, n_head, n, int((counts == 0).sum()))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.8)
    ax.set_xlim(0.8, n * 1.15)
    ax.set_xlabel("item rank by training interactions (log scale; 1 = most popular)")
    ax.set_ylabel("training interactions per item (log scale)")
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return _png(fig)


def _log_sample(n: int, points: int = 600) -> np.ndarray:
    """About `points` indices of ``0 .. n - 1``, log-spaced (every one of the first ranks)."""
    return np.unique(np.round(np.geomspace(1, max(n, 1), points)).astype(np.int64) - 1)


def recommendation_curve(
    item_pop: np.ndarray,
    exposures: Mapping[str, np.ndarray],
    n_train_users: int,
    n_eval_users: int,
    tail: np.ndarray,
    k: int,
    colors: Mapping[str, str],
) -> bytes:
    """The long-tail curve of the recommendations, and where on the catalogue's it falls.

    Left: each model's own popularity-by-rank curve, the share of evaluated users whose top-k
    holds the item, items sorted by it (log-log); the catalogue's curve (share of training
    users with the item) dashed. Right: the cumulative share of recommendation slots taken by
    the catalogue's most popular items, by catalogue popularity rank (log x), with the cut.
    """
    pop = np.asarray(item_pop, dtype=np.float64)
    n = len(pop)
    ranks = np.arange(1, n + 1)
    fig, (left, right) = _figure(11.0, 4.6, ncols=2)
    order = popularity_order(pop)
    styles = model_styles(list(exposures))
    curves = [("catalogue", pop, max(n_train_users, 1), CATALOGUE, "--")]
    curves += [(name, np.asarray(exp, np.float64), max(n_eval_users, 1), colors[name], styles[name])
               for name, exp in exposures.items()]  # fmt: skip
    ends = []
    for label, values, users, colour, style in curves:
        own = np.sort(values)[::-1] / users
        idx = _log_sample(int((own > 0).sum()))
        left.plot(ranks[idx], own[idx], color=colour, linestyle=style, linewidth=1.8, label=label)
        if len(idx):
            ends.append((float(ranks[idx][-1]), float(own[idx][-1]), label, colour))
        cum = cumulative_share(values, order)
        idx = _log_sample(n)
        right.plot(ranks[idx], cum[idx], color=colour, linestyle=style, linewidth=1.8, label=label)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("item rank by times recommended (log scale; 1 = most recommended)")
    left.set_ylabel(f"share of users with the item in their top-{k} (log)")
    left.set_xlim(right=n * 4)  # room for the labels at the lines' ends
    label_ends(left, ends, dy0=6.0)
    right.legend(loc="lower right", fontsize=8, frameon=False)
    _cut_line(right, int((~tail).sum()), n, int((pop == 0).sum()), label_cold=False)
    right.set_xscale("log")
    right.set_xlim(0.8, n * 1.15)
    right.set_ylim(0, 1.02)
    right.set_xlabel("item rank by training interactions (log scale; 1 = most popular)")
    right.set_ylabel("cumulative share of recommendations")
    return _png(fig)


def lorenz_curves(
    exposures: Mapping[str, np.ndarray], item_pop: np.ndarray, colors: Mapping[str, str]
) -> bytes:
    """Lorenz curves of exposure per model (left) and the same as concentration (right).

    Left: items from least to most recommended against the cumulative share of recommendations,
    with the Gini index in the legend. Right: the share of all recommendations that the most
    recommended x% of items take, x on a log scale so the few items at the top are readable.
    The catalogue's training interactions are drawn for reference.
    """
    fig, (left, right) = _figure(11.0, 4.8, ncols=2)
    left.plot(
        [0, 1], [0, 1], color="black", linestyle=":", linewidth=1, label="equal exposure (Gini 0)"
    )
    styles = model_styles(list(exposures))
    curves = [("catalogue: training interactions", item_pop, CATALOGUE, "--")]
    curves += [(name, exp, colors[name], styles[name]) for name, exp in exposures.items()]
    for label, values, colour, style in curves:
        x, y = lorenz(values)
        gini = lorenz_gini(x, y)
        keep = np.unique(np.round(np.linspace(0, len(x) - 1, _MAX_POINTS)).astype(np.int64))
        left.plot(x[keep], y[keep], color=colour, linestyle=style, linewidth=1.8,
                  label=f"{label} (Gini {gini:.3f})")  # fmt: skip
        top_x, top_y = 1.0 - x[::-1][1:], 1.0 - y[::-1][1:]  # most recommended first
        keep = np.unique(np.round(np.geomspace(1, len(top_x), _MAX_POINTS)).astype(np.int64) - 1)
        right.plot(top_x[keep], top_y[keep], color=colour, linestyle=style, linewidth=1.8)
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.set_xlabel("share of items, least to most recommended")
    left.set_ylabel("cumulative share of recommendations")
    left.legend(loc="upper left", fontsize=8, frameon=False)
    right.set_xscale("log")
    right.set_ylim(0, 1.02)
    right.set_xlabel("share of items, most recommended first (log scale)")
    right.set_ylabel("their share of all recommendations")
    right.xaxis.set_major_formatter(_percent_formatter())
    return _png(fig)


def _percent_formatter() -> object:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _: f"{v * 100:g}%")


def _log_if_spread(ax: Axes, values: np.ndarray) -> None:
    """Log scale on y when the positive values span more than two orders of magnitude."""
    pos = values[np.isfinite(values) & (values > 0)]
    if pos.size and pos.max() / pos.min() > 100:
        ax.set_yscale("log")
        ax.set_ylim(bottom=pos.min() / 2, top=pos.max() * 1.6)


def bucket_figure(
    buckets: Buckets,
    recall: Mapping[str, np.ndarray],
    slot_share: Mapping[str, np.ndarray],
    heldout_share: np.ndarray,
    k: int,
    colors: Mapping[str, str],
) -> bytes:
    """Left: pooled recall per popularity bucket; right: share of list slots per bucket."""
    fig, (left, right) = _figure(11.0, 4.4, ncols=2)
    nb, names = len(buckets), list(recall)
    width = 0.8 / max(len(names), 1)
    pos = np.arange(nb)
    for m, name in enumerate(names):
        off = pos - 0.4 + width * (m + 0.5)
        left.bar(off, np.nan_to_num(recall[name]), width, color=colors[name], label=name)
        right.bar(off, slot_share[name], width, color=colors[name], label=name)
    right.scatter(pos, heldout_share, marker="_", s=900, linewidths=2.2, color="black", zorder=3,
                  label="held-out interactions")  # fmt: skip
    ticks = [f"{lab}\n({n:,})" for lab, n in zip(buckets.labels, buckets.n_items)]
    _log_if_spread(left, np.concatenate([np.asarray(v, dtype=np.float64) for v in recall.values()]))
    for ax in (left, right):
        ax.set_xticks(pos, ticks, fontsize=8)
        ax.set_xlabel("training interactions per item (number of items in the bucket)")
    left.set_ylabel(f"recall@{k} of the bucket's held-out interactions" + _log_label(left))
    right.set_ylabel(f"share of top-{k} slots" + _log_label(right))
    right.set_ylim(0, 1.02)
    right.legend(
        fontsize=8, frameon=False, markerscale=0.45, loc="upper left", bbox_to_anchor=(1.0, 1.0)
    )
    return _png(fig)


def _log_label(ax: Axes) -> str:
    return " (log)" if ax.get_yscale() == "log" else ""


def tradeoff_figure(
    rows: Sequence[Mapping[str, object]], colors: Mapping[str, str], k: int
) -> bytes:
    """NDCG against tail recall for each (model, re-ranker) as the tail weight grows.

    Each point is labelled with its tail weight; ringed points are on the Pareto front (no other
    setting has both higher NDCG and higher tail recall), joined by a dashed black line.
    """
    fig, (ax,) = _figure(7.6, 5.0)
    x = np.array([float(r["tail_recall"]) for r in rows])
    y = np.array([float(r["ndcg"]) for r in rows])
    markers = "osD^vP*X"
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((str(r["model"]), str(r.get("rerank") or "none")), []).append(i)
    rerankers = list(dict.fromkeys(rr for _, rr in groups))
    line_colors = model_colors([f"{m} + {rr}" for m, rr in groups])
    ends = []
    for (model, rr), idx in groups.items():
        idx = sorted(idx, key=lambda i: float(rows[i].get("tail_weight") or 0.0))
        colour = line_colors[f"{model} + {rr}"]
        ax.plot(x[idx], y[idx], color=colour, linewidth=1.7,
                linestyle=LINESTYLES[rerankers.index(rr) % len(LINESTYLES)],
                marker=markers[rerankers.index(rr) % len(markers)], markersize=5,
                label=f"{model} + {rr}")  # fmt: skip
        ends.append((float(x[idx][-1]), float(y[idx][-1]), f"{model} + {rr}", colour))
    span = np.array([np.ptp(x[np.isfinite(x)]) or 1.0, np.ptp(y[np.isfinite(y)]) or 1.0])
    placed: list[np.ndarray] = []
    for i in range(len(rows)):  # label the tail weights, skipping points crowded by a label
        at = np.array([x[i], y[i]]) / span
        if not np.all(np.isfinite(at)) or any(np.abs(at - p).max() < 0.035 for p in placed):
            continue
        placed.append(at)
        ax.annotate(f"{float(rows[i].get('tail_weight') or 0.0):g}", (x[i], y[i]),
                    textcoords="offset points", xytext=(4, 3), fontsize=7, color="#444444")  # fmt: skip
    front = np.flatnonzero(pareto(x, y))
    front = front[np.argsort(x[front])]
    ax.plot(x[front], y[front], color="black", linestyle="--", linewidth=1, zorder=1)
    ax.scatter(x[front], y[front], s=110, facecolors="none", edgecolors="black", linewidths=1.2,
               zorder=4, label="Pareto front")  # fmt: skip
    ax.set_xlabel(f"tail recall@{k} (held-out tail items found)")
    ax.set_ylabel(f"NDCG@{k}")
    fin = np.isfinite(x)
    if fin.any():  # room on the right for the labels at the lines' ends
        lo, hi = float(x[fin].min()), float(x[fin].max())
        ax.set_xlim(lo - 0.03 * (hi - lo or 1.0), hi + 0.3 * (hi - lo or 1.0))
    label_ends(ax, ends, dy0=-9.0)  # below the point: its tail weight is written above it
    ax.legend(fontsize=8, frameon=False, loc="best")
    return _png(fig)


def cold_figure(
    names: Sequence[str], cold_recall: Sequence[float], recall: Sequence[float],
    colors: Mapping[str, str], k: int,
) -> bytes:  # fmt: skip
    """Recall on cold items (no training interaction) next to overall recall, per model."""
    fig, (ax,) = _figure(7.6, 4.0)
    pos = np.arange(len(names))
    cold = np.nan_to_num(np.asarray(cold_recall, dtype=np.float64))
    from matplotlib.patches import Patch

    ax.bar(pos - 0.2, cold, 0.4, color=[colors[n] for n in names])
    ax.bar(pos + 0.2, np.nan_to_num(np.asarray(recall, dtype=np.float64)), 0.4,
           color=[colors[n] for n in names], alpha=0.35, hatch="//")  # fmt: skip
    handles = [Patch(color="#777777", label="cold items"),
               Patch(facecolor="#dddddd", hatch="//", label="all held-out items")]  # fmt: skip
    for p, v in zip(pos, cold):
        label = f"{v:.3f}" if v >= 0.001 or v == 0 else "<0.001"
        ax.annotate(label, (p - 0.2, v), textcoords="offset points", xytext=(0, 2),
                    ha="center", fontsize=8)  # fmt: skip
    ax.set_xticks(pos, list(names))
    ax.set_ylabel(f"recall@{k}")
    ax.legend(handles=handles, fontsize=8, frameon=False)
    return _png(fig)

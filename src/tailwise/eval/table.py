"""Result tables: printed with rich, written as CSV or JSON (atomically)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from tailwise.artifacts import atomic_write_text
from tailwise.eval.evaluator import ACCURACY, LONG_TAIL
from tailwise.eval.summary import DEFAULT_MODEL, default_summary, sweep_summary

#: metrics where a lower value is the better one (↓ in the tables; ↑ for the others)
LOWER_IS_BETTER = frozenset({"arp", "gini", "fit_s", "recommend_s"})
#: one line per metric for the table's legend
LEGEND = {
    "recall": "share of a user's held-out items in the list",
    "precision": "share of the list that is held out",
    "ndcg": "ranking quality: held-out items near the top",
    "hit_rate": "users with at least one held-out item listed",
    "mrr": "1 / rank of the first held-out item",
    "tail_recall": "recall on held-out long-tail items (outside the 20% most popular)",
    "head_recall": "recall on held-out head items",
    "coverage": "share of the catalogue recommended to anyone",
    "tail_coverage": "share of tail items recommended to anyone",
    "aplt": "share of list slots given to tail items",
    "arp": "mean training popularity of listed items",
    "gini": "inequality of exposure across items (0 = equal)",
    "novelty": "mean self-information of listed items",
    "diversity": "intra-list dissimilarity of item text",
    "cold_recall": "recall on items with no training interaction",
}


def arrow(metric: str) -> str:
    """``↓`` for a metric where lower is better, else ``↑``.

    Examples
    --------
    >>> arrow("gini"), arrow("ndcg")
    ('↓', '↑')
    """
    return "↓" if metric in LOWER_IS_BETTER else "↑"

TIMES = ("fit_s", "recommend_s")


def columns(rows: list[dict]) -> list[str]:
    """Column order: label columns, accuracy, long tail, cold recall, then timings."""
    present = {key for row in rows for key in row}
    labels = [c for c in ("dataset", "split", "model", "rerank", "tail_weight") if c in present]
    ordered = [*ACCURACY, *LONG_TAIL, "cold_recall", *TIMES]
    known = set(labels) | set(ordered)
    rest = sorted(present - known)
    return labels + [c for c in ordered if c in present] + rest


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
    return str(value)


def print_table(rows: list[dict], k: int, title: str, console: Console | None = None) -> None:
    """Print one table with a column per model and a row per metric (fits narrow terminals).

    Accuracy metrics come first, then long-tail metrics, then timings; metrics carry ``@k`` and
    an arrow for the better direction (↑ higher, ↓ lower); the default model's column is marked,
    and a legend under the table says what each metric measures.
    """
    console = console or Console()
    table = Table(title=title, header_style="bold", show_lines=False, box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("metric", justify="left")
    for row in rows:
        name = str(row.get("model", "?"))
        if name == DEFAULT_MODEL:
            table.add_column(f"{name}\n(default)", justify="right", header_style="bold yellow", style="yellow", min_width=6)
        else:
            table.add_column(name, justify="right", min_width=6)
    metrics = [c for c in columns(rows) if c not in ("dataset", "split", "model")]
    groups = {"accuracy": ACCURACY, "long tail": (*LONG_TAIL, "cold_recall"), "time": TIMES}

    def group(c: str) -> str:
        return next((g for g, names in groups.items() if c in names), "other")

    for n, c in enumerate(metrics):
        label = (c if group(c) in ("time", "other") else f"{c}@{k}") + f" {arrow(c)}"
        last = n + 1 == len(metrics) or group(metrics[n + 1]) != group(c)
        table.add_row(label, *(_fmt(row.get(c, float("nan"))) for row in rows), end_section=last)
    console.print(table)
    shown = [c for c in metrics if c in LEGEND]
    if shown:
        width = max(len(c) for c in shown)
        lines = [f"  {c + ' ' * (width - len(c))}  {LEGEND[c]}" for c in shown]
        console.print(
            f"[dim]↑ higher is better, ↓ lower is better; @{k}: over each user's top {k}. "
            "Formulas: docs/evaluation.md[/]\n[dim]" + "\n".join(lines) + "[/]",
            highlight=False,
        )


def print_summary(
    rows: list[dict], k: int, tradeoff: list[dict] | None = None, console: Console | None = None
) -> None:
    """Print the plain-language summary: the default model against the most accurate other
    model, then, when a trade-off sweep ran, what each re-ranker bought within 2% of NDCG."""
    console = console or Console()
    said = default_summary(rows, k)
    if said:
        console.print("[bold]In short:[/] " + " ".join(said), highlight=False)
    sweep = sweep_summary(tradeoff or [])
    if sweep:
        console.print(f"[bold]Trade-off sweep ({len(tradeoff or [])} settings):[/]", highlight=False)
        for line in sweep:
            console.print(f"  {line}", highlight=False)


def write_table(rows: list[dict], path: str | Path) -> Path:
    """Write rows as ``.csv`` or ``.json`` by the file's suffix; the file appears whole or not at all."""
    path = Path(path)
    cols = columns(rows)
    # NaN and missing cells: null in JSON (strict JSON has no NaN), an empty cell in CSV
    clean = [{c: (None if isinstance(r.get(c), float) and math.isnan(r[c]) else r.get(c)) for c in cols} for r in rows]
    if path.suffix.lower() == ".json":
        text = json.dumps(clean, indent=2)
    elif path.suffix.lower() == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(clean)
        text = buf.getvalue()
    else:
        raise ValueError(f"write the table as .csv or .json, not {path.suffix or 'no suffix'!r}")
    atomic_write_text(path, text)
    return path

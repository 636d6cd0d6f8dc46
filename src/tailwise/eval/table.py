"""Result tables: printed with rich, written as CSV or JSON (atomically)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tailwise.artifacts import atomic_write_text
from tailwise.eval.evaluator import ACCURACY, LONG_TAIL

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

    Accuracy metrics come first, then long-tail metrics, then timings; metrics carry ``@k``.
    """
    console = console or Console()
    table = Table(title=title, header_style="bold", show_lines=False)
    table.add_column("metric", justify="left")
    for row in rows:
        table.add_column(str(row.get("model", "?")), justify="right")
    metrics = [c for c in columns(rows) if c not in ("dataset", "split", "model")]
    groups = {"accuracy": ACCURACY, "long tail": (*LONG_TAIL, "cold_recall"), "time": TIMES}

    def group(c: str) -> str:
        return next((g for g, names in groups.items() if c in names), "other")

    for n, c in enumerate(metrics):
        label = c if group(c) in ("time", "other") else f"{c}@{k}"
        last = n + 1 == len(metrics) or group(metrics[n + 1]) != group(c)
        table.add_row(label, *(_fmt(row.get(c, float("nan"))) for row in rows), end_section=last)
    console.print(table)


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

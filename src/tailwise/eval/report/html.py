"""The report page: one self-contained HTML file (inline CSS, PNG figures as data URIs).

The page loads nothing from anywhere: no scripts, fonts, stylesheets or images outside the
file, so it opens offline and can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tailwise.artifacts import atomic_write_text
from tailwise.eval.evaluator import ACCURACY, LONG_TAIL
from tailwise.eval.report.runs import ReportData
from tailwise.eval.report.sections import Section, build_sections, format_value
from tailwise.eval.summary import DEFAULT_MODEL, default_summary, sweep_summary
from tailwise.eval.table import LOWER_IS_BETTER, TIMES

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#fafafa}
main{max-width:1240px;margin:0 auto;padding:24px 28px 64px;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.meta{color:#555;font-size:.92em}nav a{margin-right:1em}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.8em}
th,td{padding:3px 5px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}
thead th{white-space:normal;vertical-align:bottom}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f3f3}
tr.group th{background:#fff;text-align:center;border-bottom:2px solid #ccc}
td.best{font-weight:700}tr.default td{background:#fff4d6}tr.default td:first-child{font-weight:700}
.summary{font-size:1.05em;background:#f4f8fc;border-left:4px solid #3b6ea8;padding:.5em 1em;max-width:900px}.scroll{overflow-x:auto}table.small{margin-top:1em}
tr.muted td{color:#777}figure{margin:1em 0}figure img{max-width:100%;height:auto;display:block}
figcaption{color:#444;font-size:.92em;max-width:900px;margin-top:.4em}
.missing{background:#fff8e6;border-left:4px solid #e0a82c;padding:.6em 1em}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px}details{margin-top:.8em}
"""


def metric_columns(rows: list[dict]) -> list[tuple[str, list[str]]]:
    """Table column groups present in `rows`: accuracy, long tail (with cold recall), time."""
    present = {key for row in rows for key in row}
    groups = [
        ("accuracy", list(ACCURACY)),
        ("long tail", [*LONG_TAIL, "cold_recall"]),
        ("time (s)", list(TIMES)),
    ]
    return [
        (g, [c for c in cols if c in present])
        for g, cols in groups
        if any(c in present for c in cols)
    ]


def _best(rows: list[dict], col: str) -> float | None:
    values = [r.get(col) for r in rows]
    values = [v for v in values if isinstance(v, float) and not math.isnan(v)]
    if len(rows) < 2 or not values or min(values) == max(values):
        return None
    return min(values) if col in LOWER_IS_BETTER else max(values)


def metrics_table(rows: list[dict], k: int) -> str:
    """One row per model; the best value of each column in bold, the default model's row shaded."""
    groups = metric_columns(rows)
    cols = [c for _, cs in groups for c in cs]
    top = "".join(
        f'<th colspan="{len(cs)}">{g}{"" if g.startswith("time") else f" at {k}"}</th>'
        for g, cs in groups
    )
    head = "".join(
        f'<th title="{c}: {"lower" if c in LOWER_IS_BETTER else "higher"} is better">'
        f"{c.replace('_', '_<wbr>')}&nbsp;{'↓' if c in LOWER_IS_BETTER else '↑'}</th>"
        for c in cols
    )
    best = {c: _best(rows, c) for c in cols}
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=best' if best[c] is not None and row.get(c) == best[c] else ''}>"
            f"{format_value(row.get(c, math.nan))}</td>"
            for c in cols
        )
        name = html.escape(str(row.get("model", "?")))
        if row.get("model") == DEFAULT_MODEL:
            body.append(f'<tr data-model="{name}" class="default"><td>{name} (default)</td>{cells}</tr>')
        else:
            body.append(f'<tr data-model="{name}"><td>{name}</td>{cells}</tr>')
    return (
        '<div class="scroll"><table id="metrics-table"><thead>'
        f'<tr class="group"><th></th>{top}</tr><tr><th>model</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _section_html(s: Section) -> str:
    parts = [f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>']
    if s.intro:
        parts.append(s.intro if s.intro.startswith("<") else f"<p>{s.intro}</p>")
    for f in s.figures:
        uri = "data:image/png;base64," + base64.b64encode(f.png).decode("ascii")
        parts.append(
            f'<figure id="{f.id}"><img src="{uri}" alt="{html.escape(f.alt)}">'
            f"<figcaption>{f.caption}</figcaption></figure>"
        )
    parts.append(s.extra)
    parts.append("</section>")
    return "".join(parts)


def render(d: ReportData, on_step: Callable[[str], None] | None = None) -> str:
    """The whole page as one HTML string; `on_step` is called with each figure as it is drawn."""
    from tailwise import __version__

    ctx = d.ctx
    sections = build_sections(d, on_step)
    n_items, n_tail = len(ctx.item_pop), int(ctx.tail.sum())
    title = f"tailwise report: {d.dataset}" if d.dataset else "tailwise report"
    meta = (
        f"{html.escape(ctx.split.name)} split · top-{ctx.k} lists for {len(ctx.users):,} users · "
        f"{n_items:,} items ({n_items - n_tail:,} head, {n_tail:,} tail) · "
        f"{ctx.truth.nnz:,} held-out interactions"
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    extra = f"<br><code>{html.escape(d.command)}</code>" if d.command else ""
    notes = "".join(f"<p class='missing'>{html.escape(n)}</p>" for n in d.notes)
    nav = "".join(
        f'<a href="#{s.id}">{html.escape(s.nav)}</a>'
        for s in [Section("metrics", "Metrics", "Metrics"), *sections]
    )
    metrics = (
        '<section id="metrics"><h2>Metrics</h2>'
        f"<p>Every metric at K = {ctx.k}, averaged over the evaluated users. Accuracy on the "
        "left, the long tail on the right: tail recall is recall on held-out items outside the "
        "head, coverage the share of the catalogue recommended to anyone, APLT the share of "
        "list slots that go to tail items, ARP the mean training popularity of listed items. "
        "Bold: the best value of each column (↑ higher is better, ↓ lower is better); "
        f"shaded: the default model ({DEFAULT_MODEL}). "
        "Formulas: docs/evaluation.md.</p>"
        f"{metrics_table(d.rows, ctx.k)}</section>"
    )
    said = default_summary(d.rows, ctx.k) + sweep_summary(d.tradeoff or [])
    summary = (
        '<section id="summary"><h2>In short</h2><div class="summary">'
        + "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in said)
        + "</div></section>"
        if said
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<header><h1>{html.escape(title)}</h1><p class='meta'>{meta}<br>"
        f"tailwise {html.escape(__version__)} · {stamp}{extra}</p>{notes}<nav>{nav}</nav></header>"
        f"{summary}{metrics}{''.join(_section_html(s) for s in sections)}</main></body></html>\n"
    )


def write_report(
    d: ReportData, path: str | Path, on_step: Callable[[str], None] | None = None
) -> Path:
    """Render the report and write it to `path` atomically (the old file stays until it is whole)."""
    path = Path(path)
    atomic_write_text(path, render(d, on_step))
    return path

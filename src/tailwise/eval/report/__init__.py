"""A self-contained HTML evaluation report: metrics table, long-tail figures, trade-off.

Build :class:`ReportData` from an :class:`~tailwise.eval.evaluator.EvalContext` and each
model's lists (:func:`collect` fits, recommends and scores them), then :func:`write_report`.
The page embeds its figures as PNG data URIs and loads nothing from outside, so it opens offline.

Examples
--------
In Python::

    from tailwise.eval.report import ReportData, collect, write_report

    runs = collect([EASE(), Popular()], ctx)
    write_report(ReportData(ctx, runs, dataset="ml-1m"), "report.html")
"""

from tailwise.eval.report.html import render, write_report
from tailwise.eval.report.runs import ModelRun, ReportData, collect, run_model

__all__ = ["ModelRun", "ReportData", "collect", "render", "run_model", "write_report"]

"""A self-contained HTML evaluation report: metrics table, long-tail figures, trade-off.

Run an experiment (:func:`tailwise.eval.runner.run` fits, recommends and scores each model,
keeping its lists, and sweeps the frontier), turn its results into :class:`ReportData`, then
:func:`write_report`. The page embeds its figures as PNG data URIs and loads nothing from
outside, so it opens offline.

Examples
--------
In Python::

    from tailwise.eval.report import ReportData, write_report
    from tailwise.eval.runner import Experiment, ModelSpec, SweepSpec, run

    exp = Experiment((ModelSpec("ease"), ModelSpec("popular")), sweep=SweepSpec(("xquad",)))
    write_report(ReportData.from_results(run(exp, dataset)), "report.html")
"""

from tailwise.eval.report.html import render, write_report
from tailwise.eval.report.runs import ModelRun, ReportData

__all__ = ["ModelRun", "ReportData", "render", "write_report"]

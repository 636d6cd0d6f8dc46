"""What a hyperparameter search leaves: its study file, its summary and the params file.

A study lives in one SQLite file (Optuna's storage) under the name :data:`STUDY_NAME`; its
user attribute ``tailwise`` records what it was created for (:meth:`TuneSpec.identity
<tailwise.eval.tune.TuneSpec.identity>`): the model, the objective, the cutoff, the head
share, the search space, the fixed parameters and a fingerprint of the data. A rerun
continues it only when all of them agree. :func:`summarize` turns a study into a plain JSON
object (the params file ``tailwise fit --params`` reads, and the report's tune section).
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from tailwise.errors import DataError
from tailwise.eval.tradeoff import pareto

#: the name of the one study a tailwise study file holds
STUDY_NAME = "tailwise"
#: the ``format`` field of a tune summary / params file
FORMAT = "tailwise-tune"
#: the validation figures kept per trial
FIGURES = ("ndcg", "recall", "tail_recall", "coverage", "fit_s")
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_study_file(path: Path) -> None:
    """Refuse an existing file that is not a study ``tailwise tune`` wrote (it would be changed).

    Raises
    ------
    DataError
        Naming the file: unreadable, not SQLite, or SQLite without a tailwise study.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DataError(f"cannot read the study file: {exc.strerror or exc}", path=path) from None
    if head != SQLITE_MAGIC:
        raise DataError("is not a SQLite study file written by tailwise tune; choose a new --study file (it is created)", path=path)
    try:
        con = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT study_name FROM studies")}
        finally:
            con.close()
    except sqlite3.Error:
        names = set()
    if STUDY_NAME not in names:
        raise DataError("is a SQLite file but holds no tailwise tune study; choose a new --study file (it is created)", path=path)


def identity_mismatch(stored: dict, wanted: dict) -> str | None:
    """Words naming what differs between a study's stored identity and this run's, or None."""
    labels = {
        "model": "model", "objective": "objective", "tail_floor": "tail-recall floor", "k": "cutoff k",
        "head_share": "head share", "space": "search space", "fixed": "fixed parameters",
        "validation": "validation split", "data": "data",
    }  # fmt: skip
    diffs = []
    for key, label in labels.items():
        if stored.get(key) != wanted.get(key):
            if key in ("data", "space", "fixed"):
                diffs.append({"data": "the data differ", "space": "the search space differs", "fixed": "the fixed parameters differ"}[key])
            else:
                diffs.append(f"{label} {stored.get(key)!r}, not {wanted.get(key)!r}")
    return "; ".join(diffs) or None


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def trial_rows(study: Any) -> list[dict]:
    """One JSON-ready row per trial: number, state, params, validation figures, feasibility."""
    rows = []
    for t in study.trials:
        row = {"trial": t.number, "state": t.state.name.lower(), "params": dict(t.params)}
        row.update({m: _clean(t.user_attrs[m]) for m in FIGURES if m in t.user_attrs})
        if "constraint" in t.user_attrs:
            row["feasible"] = bool(t.user_attrs["constraint"] <= 0)
        if t.intermediate_values:
            row["intermediate"] = {str(s): _clean(v) for s, v in sorted(t.intermediate_values.items())}
        rows.append(row)
    return rows


def summarize(study: Any) -> dict:
    """The study as a JSON object: what it searched, every trial, the best trial (or the
    Pareto front) and ``params`` (fixed plus best values) for ``tailwise fit --params``.

    For the ``accuracy`` objective the best trial has the highest validation NDCG@K; with a
    tail-recall floor, the highest among the trials at or above the floor (``params`` is None
    when none is); for ``pareto``, ``front`` lists the non-dominated trials in (NDCG@K, tail
    recall@K) and ``params`` is the front's most accurate point.
    """
    ident = dict(study.user_attrs.get("tailwise", {}))
    rows = trial_rows(study)
    done = [r for r in rows if r["state"] == "complete" and r.get("ndcg") is not None]
    front: list[dict] = []
    if ident.get("objective") == "pareto":
        mask = pareto([r["ndcg"] for r in done], [r.get("tail_recall", float("nan")) for r in done])
        front = sorted((r for r, on in zip(done, mask) if on), key=lambda r: -r["ndcg"])
        pool = front
    elif ident.get("tail_floor") is not None:
        pool = [r for r in done if r.get("feasible")]
    else:
        pool = done
    best = max(pool, key=lambda r: (r["ndcg"], -r["trial"])) if pool else None
    count = {s: sum(r["state"] == s for r in rows) for s in ("complete", "pruned", "fail")}
    return {
        "format": FORMAT,
        "version": 1,
        **{k: ident.get(k) for k in ("model", "objective", "tail_floor", "k", "head_share", "validation", "space", "fixed")},
        "n_trials": len(rows),
        "n_complete": count["complete"],
        "n_pruned": count["pruned"],
        "n_failed": count["fail"],
        "best": best,
        "params": None if best is None else {**ident.get("fixed", {}), **best["params"]},
        "front": front,
        "trials": rows,
    }


def load_summary(path: Path) -> dict:
    """A tune summary from a params/summary JSON file or a study file (``.db``/SQLite).

    Raises
    ------
    DataError
        Naming the file when it is neither.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DataError(f"cannot read the tune results: {exc.strerror or exc}", path=path) from None
    if head == SQLITE_MAGIC:
        return summarize(open_existing_study(path))
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"is neither a study file nor a tune JSON file ({exc})", path=path) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"is not a file written by tailwise tune (no \"format\": \"{FORMAT}\")", path=path)
    return obj


def open_existing_study(path: Path) -> Any:
    """Load the tailwise study of an existing study file (read as it is; nothing is added)."""
    from tailwise._compat import require

    optuna = require("optuna", "tailwise tune")
    check_study_file(path)
    return optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{Path(path).resolve()}")


def read_params_file(path: Path) -> tuple[str | None, dict[str, object]]:
    """(model, params) from a params file: a tune summary (``params``, ``model``) or a plain
    JSON object of parameter values (model None).

    Raises
    ------
    DataError
        Naming the file: unreadable, not JSON, not an object, or a tune run without a best trial.
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"cannot read the params file: {exc.strerror or exc}", path=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"is not a JSON params file ({exc})", path=path) from None
    if not isinstance(obj, dict):
        raise DataError("a params file must hold a JSON object of parameter values", path=path)
    if obj.get("format") == FORMAT:
        if not isinstance(obj.get("params"), dict):
            raise DataError("this tune run found no trial to use (none met the tail-recall floor?), so it has no params", path=path)
        return obj.get("model"), dict(obj["params"])
    bad = [k for k, v in obj.items() if isinstance(v, (dict, list))]
    if bad:
        raise DataError(f"parameter {bad[0]!r} must be a number, string, true/false or null", path=path)
    return None, obj

"""Hyperparameter search for any model (``tailwise tune``) with Optuna.

The search never sees the test split: it carves a validation split from the *training* data,
``random_holdout(train, test_fraction=0.2, seed=42)`` (per user, 20% of the training
interactions), fits every trial on the rest and scores it with the evaluator of every other
command (:class:`~tailwise.eval.evaluator.EvalContext`: cutoff K, head = the ``head_share``
most interacted-with items of the validation split's training side).

Objectives
----------
``accuracy``
    Maximise NDCG@K.
``accuracy`` with ``tail_floor``
    Maximise NDCG@K among trials whose tail recall@K is at least the floor. The floor is an
    Optuna *constraint* (``floor - tail_recall <= 0``): the TPE sampler learns from infeasible
    trials where not to look, and the best trial is the most accurate feasible one (none when
    no trial reaches the floor). A penalised value would rank infeasible trials by an
    arbitrary penalty; a constraint keeps the two apart.
``pareto``
    Maximise NDCG@K and tail recall@K together (multi-objective TPE); the result is the Pareto
    front of the trials.

A new study's first trial is the model's defaults (when they lie in the space), so the best
trial is never worse than the defaults on validation. Sampling is TPE, seeded (a resumed study seeds with ``seed + trials so far``, so each
continuation is reproducible). Pruning: models that iterate and report their factors per
epoch (ALS and BPR, through their ``epoch_hook``) report NDCG@K of the factors so far every
:data:`CHECK_EVERY` epochs, and Optuna's median pruner stops a trial below the median of
earlier trials at the same epoch. Closed-form or one-pass models (EASE, item-kNN, the text
models) have no intermediate values and are never pruned; neither is a multi-objective
(``pareto``) search, which Optuna cannot prune.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailwise import metrics as M
from tailwise._compat import require
from tailwise.data.dataset import Dataset
from tailwise.data.splits import random_holdout
from tailwise.errors import DataError, TailwiseError
from tailwise.eval.evaluator import EvalContext, fit_pipeline, score_pipeline
from tailwise.eval.tune_results import (
    FIGURES,
    STUDY_NAME,
    check_study_file,
    identity_mismatch,
    summarize,
)
from tailwise.models import make_model
from tailwise.models.spaces import Dim
from tailwise.ranking import top_k

log = logging.getLogger(__name__)

OBJECTIVES = ("accuracy", "pareto")
#: epochs between intermediate reports of iterating models (the pruner's steps)
CHECK_EVERY = 5
#: the validation split: carved from the training data, never from the test split
VALIDATION = {"split": "random", "test_fraction": 0.2, "seed": 42}


@dataclass(frozen=True)
class TuneSpec:
    """What to search: the model, its space, fixed parameters, the objective and the cutoff."""

    model: str
    space: dict[str, Dim]
    fixed: dict[str, object] = field(default_factory=dict)
    objective: str = "accuracy"
    tail_floor: float | None = None
    k: int = 20
    head_share: float = 0.2
    seed: int = 42

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose from {', '.join(OBJECTIVES)}")
        if self.tail_floor is not None and not 0.0 <= self.tail_floor <= 1.0:
            raise ValueError(f"the tail-recall floor must be in [0, 1], not {self.tail_floor}")
        if self.tail_floor is not None and self.objective == "pareto":
            raise ValueError("a tail-recall floor goes with the accuracy objective; the pareto objective keeps every trade-off")
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")

    def identity(self, data: str) -> dict:
        """What a study records to recognise a rerun of the same search (JSON-ready)."""
        return {
            "model": self.model, "objective": self.objective, "tail_floor": self.tail_floor, "k": self.k,
            "head_share": self.head_share, "validation": dict(VALIDATION),
            "space": {k: v.to_json() for k, v in self.space.items()}, "fixed": dict(self.fixed), "data": data,
        }  # fmt: skip


def fingerprint(ds: Dataset) -> str:
    """A short hash of the interactions (users, items, values) and the catalogue size."""
    m = ds.matrix("rating") if ds.rating is not None else ds.matrix()
    h = hashlib.sha256(f"{ds.n_users}x{ds.n_items}:{m.nnz}".encode())
    for arr in (m.indptr, m.indices, m.data):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


def validation_context(train: Dataset, k: int = 20, head_share: float = 0.2) -> EvalContext:
    """The context every trial is scored in: :data:`VALIDATION` carved from `train`."""
    split = random_holdout(train, VALIDATION["test_fraction"], VALIDATION["seed"])
    return EvalContext.build(split, k=k, head_share=head_share)


def open_study(spec: TuneSpec, data: str, path: Path | None) -> Any:
    """The study of `path` (created when the file does not exist; in memory when None),
    seeded for its next trial.

    Raises
    ------
    DataError
        An existing file that is not a tailwise study, or a study created for another model,
        objective, space or data (naming what differs).
    """
    optuna = require("optuna", "tailwise tune")
    ident = spec.identity(data)
    storage = None
    if path is not None:
        path = Path(path)
        if path.exists():
            check_study_file(path)
            study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{path.resolve()}")
            why = identity_mismatch(study.user_attrs.get("tailwise", {}), ident)
            if why:
                raise DataError(f"this study was created for another search ({why}); use a new --study file", path=path)
            study.sampler = _sampler(optuna, spec, len(study.trials))
            study.pruner = _pruner(optuna)
            return study
        if not path.parent.is_dir():
            raise DataError("the folder of the study file does not exist", path=path)
        storage = f"sqlite:///{path.resolve()}"
    directions = ["maximize", "maximize"] if spec.objective == "pareto" else ["maximize"]
    study = optuna.create_study(
        storage=storage, study_name=STUDY_NAME, directions=directions,
        sampler=_sampler(optuna, spec, 0), pruner=_pruner(optuna),
    )  # fmt: skip
    study.set_user_attr("tailwise", ident)
    defaults = start_point(spec)
    if defaults:
        study.enqueue_trial(defaults)
    return study


def start_point(spec: TuneSpec) -> dict[str, object]:
    """The model's default values of the searched parameters, when all lie in the space: a new
    study's first trial, so the search never reports worse than the defaults on validation."""
    from tailwise.models import MODELS

    defaults = MODELS[spec.model]().get_params()
    out = {}
    for name, d in spec.space.items():
        value = defaults.get(name)
        inside = value in d.choices if d.choices else isinstance(value, (int, float)) and d.low <= value <= d.high
        if not inside:
            return {}
        out[name] = value
    return out


def _sampler(optuna: Any, spec: TuneSpec, done: int) -> Any:
    constraints = _constraint if spec.tail_floor is not None else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate / constraints are marked experimental
        return optuna.samplers.TPESampler(seed=spec.seed + done, multivariate=True, constraints_func=constraints)


def _pruner(optuna: Any) -> Any:
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)


def _constraint(trial: Any) -> list[float]:
    return [trial.user_attrs.get("constraint", 1.0)]


def suggest(trial: Any, space: dict[str, Dim]) -> dict[str, object]:
    """One value per dimension of `space` from the trial."""
    out: dict[str, object] = {}
    for name, d in space.items():
        if d.choices:
            out[name] = trial.suggest_categorical(name, list(d.choices))
        elif d.integer:
            out[name] = trial.suggest_int(name, int(d.low), int(d.high), log=d.log)
        else:
            out[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
    return out


def factor_ndcg(user_factors: np.ndarray, item_factors: np.ndarray, ctx: EvalContext, batch: int = 4096) -> float:
    """Mean NDCG@K of the lists ``user_factors @ item_factors.T`` give the context's users
    (seen items excluded, the candidates only): an iterating model's intermediate value."""
    values = []
    for start in range(0, len(ctx.users), batch):
        users = ctx.users[start : start + batch]
        scores = np.asarray(user_factors[users] @ item_factors.T, dtype=np.float32)
        hist = ctx.history[start : start + batch]
        scores[np.repeat(np.arange(len(users)), np.diff(hist.indptr)), hist.indices] = -np.inf
        if ctx.candidates is not None:
            keep = np.full(scores.shape[1], -np.inf, dtype=np.float32)
            keep[ctx.candidates] = 0.0
            scores += keep
        items, _ = top_k(scores, ctx.k)
        values.append(M.ndcg(items, ctx.truth[start : start + batch], ctx.k))
    return float(np.nanmean(np.concatenate(values)))


def _pruning_hook(optuna: Any, trial: Any, ctx: EvalContext, iterations: int) -> Callable:
    def hook(epoch: int, user_factors: np.ndarray, item_factors: np.ndarray) -> None:
        step = epoch + 1
        if step % CHECK_EVERY or step >= iterations:
            return
        trial.report(factor_ndcg(user_factors, item_factors, ctx), step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {step}")

    return hook


def make_objective(spec: TuneSpec, ctx: EvalContext, memory_budget: int | None = None) -> Callable[[Any], Any]:
    """The function Optuna calls per trial: fit on the validation split's train side, score,
    record the figures (trial user attributes) and return NDCG@K (and tail recall@K)."""
    optuna = require("optuna", "tailwise tune")

    def objective(trial: Any) -> Any:
        params = {**spec.fixed, **suggest(trial, spec.space)}
        model = make_model(spec.model, **params)
        if spec.objective == "accuracy" and hasattr(type(model), "epoch_hook"):
            model.epoch_hook = _pruning_hook(optuna, trial, ctx, int(params.get("iterations", model.get_params().get("iterations", 0))))
        _, row = score_pipeline(fit_pipeline(model, ctx, memory_budget), ctx)
        for name in FIGURES:
            trial.set_user_attr(name, float(row[name]))
        if spec.tail_floor is not None:
            trial.set_user_attr("constraint", float(spec.tail_floor - row["tail_recall"]))
        if spec.objective == "pareto":
            return row["ndcg"], row["tail_recall"]
        return row["ndcg"]

    return objective


def tune(
    spec: TuneSpec,
    train: Dataset,
    n_trials: int,
    study_path: Path | None = None,
    memory_budget: int | None = None,
    on_trial: Callable[[dict], None] | None = None,
    ctx: EvalContext | None = None,
) -> dict:
    """Run `n_trials` more trials of the search `spec` on `train` and summarise the study.

    Parameters
    ----------
    spec : TuneSpec
        Model, space, fixed parameters, objective, K.
    train : Dataset
        The training data; the validation split is carved from it (:data:`VALIDATION`).
    n_trials : int
        Trials to add (a study file keeps the earlier ones).
    study_path : Path, optional
        The SQLite study file, created or continued; default in memory.
    memory_budget : int, optional
        Bytes each fit may use.
    on_trial : callable, optional
        Called after each trial with the summary so far (progress).
    ctx : EvalContext, optional
        A validation context already built from `train` (:func:`validation_context`).

    Returns
    -------
    dict
        :func:`~tailwise.eval.tune_results.summarize` of the study.
    """
    if n_trials < 1:
        raise ValueError(f"the number of trials must be at least 1, not {n_trials}")
    study = open_study(spec, fingerprint(train), study_path)
    ctx = validation_context(train, spec.k, spec.head_share) if ctx is None else ctx
    callbacks = [] if on_trial is None else [lambda study, _trial: on_trial(summarize(study))]
    study.optimize(make_objective(spec, ctx, memory_budget), n_trials=n_trials, callbacks=callbacks, catch=(TailwiseError,))
    return summarize(study)

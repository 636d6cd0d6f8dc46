"""Retraining: the model directory's interactions plus the stored feedback, refitted.

:func:`merged_dataset` rebuilds a :class:`~tailwise.data.Dataset` from a model directory (its
training history, ids and item texts) and a feedback database (every event becomes an
interaction; items added through the service join the catalogue with their text, updated texts
replace the old ones). :func:`retrain` fits the same model with the same parameters on it and
writes a model directory, atomically; a service watching that directory swaps it in.

With pseudonymised user ids the secret is needed, to match the stored keyed hashes to the
training users; users known only from feedback join under their keyed hash.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from tailwise.data.dataset import Dataset
from tailwise.errors import DataError
from tailwise.pipeline import Pipeline
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import FeedbackStore

log = logging.getLogger(__name__)


def merged_dataset(pipe: Pipeline, store: FeedbackStore, settings: ServiceSettings) -> tuple[Dataset, dict]:
    """The pipeline's training interactions plus every stored event, and a summary of the merge.

    Returns
    -------
    dataset : Dataset
        Binary interactions (a repeated pair counts once, as in fitting); the catalogue is the
        model's items plus the items added through the service.
    summary : dict
        ``events``, ``new_users``, ``new_items``, ``updated_items`` and ``feedback_through``
        (the last event id merged; the service folds in only later events).
    """
    if store.pseudonymised and not settings.pseudonymise:
        raise DataError("the database stores pseudonymised user ids: give the same secret", path=store.path)
    h = pipe.history.tocoo()
    user_ids = pipe.users.ids[h.row].tolist()
    item_ids = pipe.items.ids[h.col].tolist()
    events = store.events()
    train_of = {settings.user_key(u): u for u in pipe.users.ids.tolist()} if settings.pseudonymise else {}
    ev_users = [train_of.get(e.user_key, e.user_key) for _, e in events]
    texts = dict(zip(pipe.items.ids.tolist(), pipe.item_text))
    stored = store.items()
    updated = sum(1 for it in stored if it.item_id in texts and texts[it.item_id] != it.text)
    new_items = sum(1 for it in stored if it.item_id not in texts)
    texts.update({it.item_id: it.text for it in stored})
    unknown = sorted({e.item_id for _, e in events} - texts.keys())
    if unknown:
        raise DataError(f"{len(unknown)} feedback events name items that are in neither the model nor the database, e.g. {unknown[0]!r}", path=store.path)
    ds = Dataset.from_ids(
        np.asarray(user_ids + ev_users, dtype=object), np.asarray(item_ids + [e.item_id for _, e in events], dtype=object),
        item_text=texts, name=str(pipe.meta.get("dataset", {}).get("name", "dataset")),
    )  # fmt: skip
    summary = {
        "events": len(events),
        "new_users": len(set(ev_users) - set(pipe.users.ids.tolist())),
        "new_items": new_items,
        "updated_items": updated,
        "feedback_through": events[-1][0] if events else int(pipe.meta.get("feedback_through", 0)),
    }
    return ds, summary


def retrain(model_dir: str | Path, db_path: str | Path, output: str | Path | None = None, settings: ServiceSettings | None = None) -> tuple[Pipeline, dict]:
    """Refit the model of `model_dir` on its interactions plus the feedback in `db_path`.

    The new model directory is written to `output` (default: `model_dir` itself, replaced
    atomically). Returns the fitted pipeline and the merge summary (with ``fit_seconds``).
    """
    from tailwise.models import make_model

    settings = settings or ServiceSettings.from_env()
    if not Path(db_path).exists():
        raise DataError("no feedback database here", path=db_path)
    pipe = Pipeline.load(model_dir)
    with FeedbackStore(db_path, settings.key_check(), settings.synchronous) as store:
        ds, summary = merged_dataset(pipe, store, settings)
    model = make_model(pipe.model.name, **pipe.model.get_params())
    t0 = time.perf_counter()
    new = Pipeline.fit(model, ds)
    summary["fit_seconds"] = round(time.perf_counter() - t0, 3)
    new.meta["feedback_through"] = summary["feedback_through"]
    new.meta["retrained"] = {**summary, "previous_created": pipe.meta.get("created")}
    new.save(model_dir if output is None else output)
    log.info("retrained %s with %d feedback events", pipe.model.name, summary["events"])
    return new, summary

"""Retraining: the model directory's interactions plus the stored feedback, refitted.

:func:`merged_dataset` rebuilds a :class:`~tailwise.data.Dataset` from a model directory (its
training history, ids and item texts) and a feedback database (every event becomes an
interaction; items added through the service join the catalogue with their text, updated texts
replace the old ones). :func:`retrain` fits the same model with the same parameters on it and
writes a model directory, atomically; a service watching that directory swaps it in.

With pseudonymised user ids the secret is needed, to match the stored keyed hashes to the
training users; users known only from feedback join under their keyed hash.

Erased users (:meth:`FeedbackStore.erase_user`) are forgotten: their events are gone from the
store already, and their training interactions in the model directory are dropped when they
were erased after that directory was written (its manifest records ``erased_through``, the
last erasure it has applied). Events a user sends after the erasure are new data and kept.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from tailwise.artifacts import clean_leftovers
from tailwise.data.dataset import Dataset
from tailwise.errors import DataError
from tailwise.pipeline import Pipeline
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import FeedbackStore

log = logging.getLogger(__name__)


def merged_dataset(pipe: Pipeline, store: FeedbackStore, settings: ServiceSettings) -> tuple[Dataset, dict]:
    """The pipeline's training interactions plus every stored event, less erased users, and a
    summary of the merge.

    Returns
    -------
    dataset : Dataset
        Binary interactions (a repeated pair counts once, as in fitting); the catalogue is the
        model's items plus the items added through the service.
    summary : dict
        ``events``, ``new_users``, ``new_items``, ``updated_items``, ``erased_users`` (training
        users whose interactions were dropped), ``feedback_through`` (the last event id merged;
        the service folds in only later events) and ``erased_through`` (the last erasure
        applied).
    """
    if store.pseudonymised and not settings.pseudonymise:
        raise DataError("the database stores pseudonymised user ids: give the same secret", path=store.path)
    stored = store.contents()  # events, items and erasures from one snapshot
    events = [(i, e) for i, e in stored.events if e.value >= 0]  # dislikes are not interactions
    since = int(pipe.meta.get("erased_through", 0))
    train_ids = pipe.users.ids.tolist()
    keys = [settings.user_key(u) for u in train_ids] if settings.pseudonymise else train_ids
    erased = {e.user_key for e in stored.erasures if e.id > since}
    dropped = np.fromiter((u in erased or k in erased for u, k in zip(train_ids, keys)), bool, len(train_ids))
    h = pipe.history.tocoo()
    keep = ~dropped[h.row]
    user_ids = pipe.users.ids[h.row[keep]].tolist()
    item_ids = pipe.items.ids[h.col[keep]].tolist()
    train_of = dict(zip(keys, train_ids)) if settings.pseudonymise else {}
    ev_users = [train_of.get(e.user_key, e.user_key) for _, e in events]
    texts = dict(zip(pipe.items.ids.tolist(), pipe.item_text))
    updated = sum(1 for it in stored.items if it.item_id in texts and texts[it.item_id] != it.text)
    new_items = sum(1 for it in stored.items if it.item_id not in texts)
    texts.update({it.item_id: it.text for it in stored.items})
    unknown = sorted({e.item_id for _, e in events} - texts.keys())
    if unknown:
        raise DataError(f"{len(unknown)} feedback events name items that are in neither the model nor the database, e.g. {unknown[0]!r}", path=store.path)
    ds = Dataset.from_ids(
        np.asarray(user_ids + ev_users, dtype=object), np.asarray(item_ids + [e.item_id for _, e in events], dtype=object),
        item_text=texts, name=str(pipe.meta.get("dataset", {}).get("name", "dataset")),
    )  # fmt: skip
    summary = {
        "events": len(events),
        "new_users": len(set(ev_users) - set(train_ids)),
        "new_items": new_items,
        "updated_items": updated,
        "erased_users": int(dropped.sum()),
        "feedback_through": stored.events[-1][0] if stored.events else int(pipe.meta.get("feedback_through", 0)),
        "erased_through": stored.erasures[-1].id if stored.erasures else since,
    }
    return ds, summary


def retrain(
    model_dir: str | Path, db_path: str | Path, output: str | Path | None = None, settings: ServiceSettings | None = None,
    memory_budget: int | None = None,
) -> tuple[Pipeline, dict]:  # fmt: skip
    """Refit the model of `model_dir` on its interactions plus the feedback in `db_path`.

    The new model directory is written to `output` (default: `model_dir` itself, replaced
    atomically). `memory_budget` is the fit's (bytes; default the budget the model was fitted
    under, as its manifest records it, so that a retrain chooses as the first fit did, e.g.
    the hybrid's backbone; for older directories a share of the machine's memory): a fit above
    it raises :class:`~tailwise.errors.MemoryBudgetError` and nothing is
    written. Leftovers of an interrupted earlier write beside `model_dir` are cleaned up
    first (:func:`tailwise.artifacts.clean_leftovers`, which also puts the directory back when
    a killed write left only its old copy). Returns the fitted pipeline and the merge summary
    (with ``fit_seconds``).
    """
    from tailwise.models import make_model

    settings = settings or ServiceSettings.from_env()
    if not Path(db_path).exists():
        raise DataError("no feedback database here", path=db_path)
    clean_leftovers(model_dir)
    pipe = Pipeline.load(model_dir)
    with FeedbackStore(db_path, settings.key_check(), settings.synchronous) as store:
        ds, summary = merged_dataset(pipe, store, settings)
    model = make_model(pipe.model.name, **pipe.model.get_params())
    t0 = time.perf_counter()
    if memory_budget is None and isinstance(pipe.meta.get("memory_budget"), int):
        memory_budget = pipe.meta["memory_budget"]
    new = Pipeline.fit(model, ds, memory_budget=memory_budget)
    summary["fit_seconds"] = round(time.perf_counter() - t0, 3)
    new.meta["feedback_through"] = summary["feedback_through"]
    new.meta["erased_through"] = summary["erased_through"]
    new.meta["retrained"] = {**summary, "previous_created": pipe.meta.get("created")}
    new.save(model_dir if output is None else output)
    log.info("retrained %s with %d feedback events", pipe.model.name, summary["events"])
    return new, summary

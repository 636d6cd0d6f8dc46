"""How a snapshot takes in what the feedback store holds beyond its model directory.

A model directory knows the items, events and erasures up to its retrain (its manifest's
``feedback_through`` and ``erased_through``); the service applies everything stored since, when
it starts, when it swaps in a retrained model, and (erasures) when another process records one.
The caller (:class:`~tailwise.service.state.ServiceState`) holds the locks.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tailwise.models.base import ColdStartError
from tailwise.pipeline import Pipeline
from tailwise.service.live import Snapshot
from tailwise.service.store import Erasure, FeedbackStore

log = logging.getLogger(__name__)


def load_snapshot(model_dir: Path, signature: tuple | None) -> Snapshot:
    """A snapshot of a model directory, its profiles starting after the events it has merged.

    `signature` identifies the manifest that was read (the reload watcher compares it)."""
    pipe = Pipeline.load(model_dir)
    source = {
        "model_dir": str(model_dir), "created": pipe.meta.get("created"), "signature": signature,
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    snap = Snapshot.build(pipe, source)
    snap.profiles.event_mark = int(pipe.meta.get("feedback_through", 0))
    return snap


def apply_stored_items(snap: Snapshot, store: FeedbackStore) -> Snapshot:
    """`snap` grown by the stored items it lacks or has with another text, with their titles.

    Stored new items that the model cannot take (a database written while a text model was
    served, now served with EASE) are left out with a warning."""
    stored = store.items()
    titles = {it.item_id: it.title for it in stored}
    pipe = snap.pipe
    todo = [it for it in stored if (j := snap.item_index(it.item_id)) < 0 or pipe.item_text[j] != it.text]
    if todo:
        new = [it for it in todo if snap.item_index(it.item_id) < 0]
        grown = copy.copy(pipe)
        try:
            grown.add_items([it.item_id for it in todo], [it.text for it in todo])
        except ColdStartError as exc:
            log.warning("%d stored new items are not served: %s", len(new), exc)
            todo = [it for it in todo if it not in new]
            grown = copy.copy(pipe)
            grown.add_items([it.item_id for it in todo], [it.text for it in todo])
        changed = [snap.item_index(it.item_id) for it in todo if it not in new]
        snap = snap.grown(grown, np.asarray(changed, dtype=np.int64), {})
    for item_id, title in titles.items():
        if (j := snap.item_index(item_id)) >= 0:
            snap.titles[j] = title
    return snap


def fold_events(snap: Snapshot, rows: list[tuple[int, str, str]]) -> None:
    """Fold stored events ``(id, user_key, item_id)``, in id order, into `snap`'s profiles."""
    if not rows:
        return
    idx = snap.pipe.items.indices([r[2] for r in rows], missing=-1)
    by_user: dict[str, list[int]] = {}
    for (_, key, _), i in zip(rows, idx.tolist()):
        if i >= 0:
            by_user.setdefault(key, []).append(i)
    for key, items in by_user.items():
        snap.profiles.fold(key, np.asarray(items))
    snap.profiles.event_mark = max(snap.profiles.event_mark, rows[-1][0])


def apply_erasures(snap: Snapshot, store: FeedbackStore, since: int) -> list[Erasure]:
    """Erase, in `snap`'s profiles, the users erased after erasure id `since`.

    Their training rows are no longer used (they get the fallback), their folded feedback
    becomes what the store still holds for them (events sent after the erasure, usually none),
    and the per-item event counts are recounted from the store. Returns those erasures.
    """
    erasures = store.erasures(since)
    if erasures:
        base = int(snap.pipe.meta.get("feedback_through", 0))  # events the model has itself
        counts = store.item_event_counts(base)
        idx = snap.pipe.items.indices(list(counts), missing=-1)
        item_events = {j: n for j, n in zip(idx.tolist(), counts.values()) if j >= 0}
        for e in erasures:
            left = snap.pipe.items.indices(store.user_items(e.user_key, base), missing=-1)
            snap.profiles.forget(e.user_key, left[left >= 0], item_events)
    return erasures

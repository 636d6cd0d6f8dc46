"""The running service's state: the live snapshot, the feedback store, and the swaps between.

Writers (new items, feedback, a retrained model) are serialised by one lock; readers never take
it. Each write builds on the current :class:`~tailwise.service.live.Snapshot` and publishes
the result with one assignment, so a request sees the old snapshot or the new one, whole.

- ``POST /items``: the pipeline is grown on a shallow copy, the items are committed to the
  store, then the grown snapshot is published. A model without a text side raises
  :class:`~tailwise.models.base.ColdStartError` before anything is stored.
- ``POST /feedback``: events are committed in one transaction, then folded into the users'
  profiles of the live snapshot; the request is answered after both.
- Retrain: a background thread watches ``manifest.json`` of the model directory. When a
  retrained model is swapped in there, it is loaded beside the live one, the items and events
  stored since that model's snapshot are applied to it, and it replaces the live snapshot.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tailwise.errors import TailwiseError
from tailwise.models.base import ColdStartError
from tailwise.pipeline import Pipeline
from tailwise.service.live import Snapshot
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import Event, FeedbackStore, StoredItem

log = logging.getLogger(__name__)


class RequestError(TailwiseError):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    status = 422


class NotFoundError(RequestError):
    status = 404


class UnknownItemError(NotFoundError):
    """An item id the model does not know."""


class UnsupportedError(RequestError):
    status = 409


@dataclass(frozen=True)
class FeedbackIn:
    """One validated event as the routes hand it over (raw user id, epoch seconds)."""

    user_id: str
    item_id: str
    type: str
    value: float
    ts: float


def default_db_path(model_dir: str | Path) -> Path:
    """``<model_dir>/../<model_dir name>.feedback.sqlite``: beside the model directory, so a
    retrain that replaces the directory leaves the database alone."""
    d = Path(model_dir).resolve()
    return d.parent / f"{d.name}.feedback.sqlite"


def _signature(model_dir: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(model_dir / "manifest.json")
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class ServiceState:
    """Everything the routes act on (see the module docstring).

    Parameters
    ----------
    model_dir : str or Path
        A model directory written by ``tailwise fit`` or ``tailwise retrain``.
    db_path : str or Path
        The SQLite feedback database (created when missing).
    settings : ServiceSettings
        Limits and pseudonymisation.
    """

    def __init__(self, model_dir: str | Path, db_path: str | Path, settings: ServiceSettings) -> None:
        from tailwise.text.side import keep_loaded

        self.model_dir = Path(model_dir)
        self.settings = settings
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failed_signature: tuple | None = None
        self._exit = contextlib.ExitStack()
        self._exit.enter_context(keep_loaded())
        try:
            self.store = FeedbackStore(db_path, settings.key_check(), settings.synchronous)
            self._exit.callback(self.store.close)
            self.n_events = self.store.counts()["events"]
            snap = self._load()
            with self._lock:
                self.live = self._catch_up(snap)
        except BaseException:
            self._exit.close()
            raise

    # ------------------------------------------------------------------ loading and swapping
    def _load(self) -> Snapshot:
        """A snapshot of the model directory with the stored items applied (no lock held)."""
        signature = _signature(self.model_dir)
        pipe = Pipeline.load(self.model_dir)
        source = {
            "model_dir": str(self.model_dir), "created": pipe.meta.get("created"), "signature": signature,
            "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }  # fmt: skip
        snap = Snapshot.build(pipe, source)
        snap.event_mark = int(pipe.meta.get("feedback_through", 0))
        return snap

    def _catch_up(self, snap: Snapshot) -> Snapshot:
        """Apply the stored items and fold the stored events that `snap` does not have yet.

        Called with the lock held, so nothing is written between this and the swap."""
        stored = self.store.items()
        titles = {it.item_id: it.title for it in stored}
        pipe = snap.pipe
        todo = [it for it in stored if (j := snap.item_index(it.item_id)) < 0 or pipe.item_text[j] != it.text]
        if todo:
            new = [it for it in todo if snap.item_index(it.item_id) < 0]
            grown = copy.copy(pipe)
            try:
                grown.add_items([it.item_id for it in todo], [it.text for it in todo])
            except ColdStartError as exc:  # e.g. a database from a text model, served with EASE
                log.warning("%d stored new items are not served: %s", len(new), exc)
                todo = [it for it in todo if it not in new]
                grown = copy.copy(pipe)
                grown.add_items([it.item_id for it in todo], [it.text for it in todo])
            changed = [snap.item_index(it.item_id) for it in todo if it not in new]
            snap = snap.grown(grown, np.asarray(changed, dtype=np.int64), {})
        for item_id, title in titles.items():
            if (j := snap.item_index(item_id)) >= 0:
                snap.titles[j] = title
        self._fold(snap, self.store.events_after(snap.event_mark))
        return snap

    def _fold(self, snap: Snapshot, rows: list[tuple[int, str, str]]) -> None:
        if not rows:
            return
        idx = snap.pipe.items.indices([r[2] for r in rows], missing=-1)
        by_user: dict[str, list[int]] = {}
        for (_, key, _), i in zip(rows, idx.tolist()):
            if i >= 0:
                by_user.setdefault(key, []).append(i)
        for key, items in by_user.items():
            snap.fold(key, np.asarray(items))
        snap.event_mark = max(snap.event_mark, rows[-1][0])

    def check_reload(self) -> bool:
        """Load and swap in a retrained model when the model directory changed; True if swapped.

        A failed load (a directory being replaced right now, a damaged one) keeps the live model
        and is retried at the next check.
        """
        signature = _signature(self.model_dir)
        if signature is None or signature == self.live.source["signature"]:
            return False
        try:
            snap = self._load()
            self._prepare(snap)
        except (TailwiseError, OSError, ValueError, KeyError) as exc:
            if signature != self._failed_signature:
                log.warning("model directory changed but could not be loaded (will retry): %s", exc)
                self._failed_signature = signature
            return False
        with self._lock:
            self.live = self._catch_up(snap)
        log.info("swapped in the model of %s (created %s)", self.model_dir, snap.source["created"])
        return True

    def _prepare(self, snap: Snapshot) -> None:
        """Before a swap: build what the live snapshot had built, so no request waits for it.

        The re-rankers' context is cheap (popularity and the tail) and always built; the item
        vectors (MMR) and the text index only when the live pipeline has them."""
        if self.live.pipe.has_text_index:
            snap.pipe.text_index()
        new = snap.pipe.rerank_context()
        if self.live.pipe.rerank_context().item_vectors is not None:
            new.vectors()

    def start(self) -> None:
        """Limit BLAS threads (``settings.blas_threads``, restored by :meth:`close`) and start the
        background threads: the model-directory watcher and the text warm-up."""
        from threadpoolctl import threadpool_limits

        self._exit.enter_context(threadpool_limits(self.settings.blas_threads, "blas"))
        if self.settings.reload_interval > 0:
            self._spawn(self._watch, "tailwise-reload")
        if self.settings.warm_text:
            self._spawn(self._warm, "tailwise-text-warmup")

    def _spawn(self, target, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.reload_interval):
            try:
                self.check_reload()
            except Exception:
                log.exception("model reload check failed")

    def _warm(self) -> None:
        """Build what first requests would otherwise wait for: the re-rankers' context and the
        text index (queries, item search)."""
        try:
            live = self.live
            live.pipe.text_index()  # first: a text model's item vectors are its text embeddings
            live.pipe.rerank_context().vectors()  # (MMR's item vectors)
        except Exception as exc:  # noqa: BLE001 - requests will report it when they need it
            log.warning("could not prepare the text index at start-up: %s", exc)

    def close(self) -> None:
        """Stop the threads and close the store."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._exit.close()

    # ------------------------------------------------------------------ writes
    def add_items(self, items: list[StoredItem]) -> tuple[int, int]:
        """Add or update items: placed by the model, committed, then live. (added, updated)."""
        with self._lock:
            live = self.live
            pipe = copy.copy(live.pipe)
            changed = [j for it in items if (j := live.item_index(it.item_id)) >= 0]
            try:
                added, updated = pipe.add_items([it.item_id for it in items], [it.text for it in items])
            except ColdStartError as exc:
                raise UnsupportedError(str(exc)) from None
            self.store.upsert_items(items)
            titles = {it.item_id: it.title for it in items}
            grown = live.grown(pipe, np.unique(np.asarray(changed, dtype=np.int64)), titles)
            self._prepare(grown)
            self.live = grown
        log.info("added %d and updated %d items", added, updated)
        return added, updated

    def add_feedback(self, events: list[FeedbackIn]) -> int:
        """Store events in one transaction, then fold them into the users' profiles."""
        keys = [self.settings.user_key(e.user_id) for e in events]
        with self._lock:
            live = self.live
            idx = live.pipe.items.indices([e.item_id for e in events], missing=-1)
            if (idx < 0).any():
                n = int(np.flatnonzero(idx < 0)[0])
                raise UnknownItemError(f"events[{n}].item_id: unknown item {events[n].item_id!r}")
            stored = [Event(key, e.item_id, e.type, e.value, e.ts) for key, e in zip(keys, events)]
            first, _ = self.store.add_events(stored)
            rows = [(first + n, key, e.item_id) for n, (key, e) in enumerate(zip(keys, events))]
            self._fold(live, rows)
            self.n_events += len(events)
        return len(events)

    # ------------------------------------------------------------------ reads
    def info(self) -> dict[str, Any]:
        """Model, counts and versions for ``GET /info``."""
        live = self.live
        pipe = live.pipe
        return {
            "model": pipe.model.name,
            "params": {k: v for k, v in pipe.model.get_params().items() if isinstance(v, str | int | float | bool | None)},
            "created": live.source["created"],
            "loaded_at": live.source["loaded_at"],
            "counts": {
                "users": len(pipe.users), "items": live.n_items, "new_items": live.n_items - live.n_fitted,
                "feedback_events": self.n_events, "feedback_users": len(live.folded),
            },
            "pseudonymised": self.settings.pseudonymise,
            "versions": _versions(),
        }  # fmt: skip


@functools.cache
def _versions() -> dict[str, str]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from tailwise import __version__

    out = {"tailwise": __version__, "numpy": np.__version__, "python": platform.python_version()}
    for name in ("scipy", "fastapi", "uvicorn"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out

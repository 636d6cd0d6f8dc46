"""The running service's state: the live snapshot, the feedback store, and the swaps between.

Readers never take a lock. Writers take two: the *growth lock* serialises the writers that
replace the pipeline (new items, a retrained model) while they do their slow part (placing
items by their text), and the short *writers' lock* is held only to commit to the store and
publish, so feedback and erasures wait for a commit, never for an embedding. Each write builds
on the current :class:`~tailwise.service.live.Snapshot` and publishes the result with one
assignment, so a request sees the old snapshot or the new one, whole.

- ``POST /items``: in batches of :data:`ITEM_BATCH`: each batch grows a shallow copy of the
  live pipeline (outside the writers' lock), then is committed to the store and published, so
  it is recommendable before the next batch is placed; a large upload's texts are embedded in
  a worker process first (:mod:`tailwise.service.offload`). A model without a text side raises
  :class:`~tailwise.models.base.ColdStartError` on the first batch (new items go first),
  before anything is stored.
- ``POST /feedback``: events are committed in one transaction, then folded into the users'
  profiles (:class:`~tailwise.service.live.Profiles`); the request is answered after both.
- ``DELETE /users/{id}`` (and ``tailwise forget``, seen by the watcher): the user's events are
  deleted and the user recorded as erased in one transaction; then the live profiles drop the
  folded feedback and stop using the user's training row (the fallback answers for them).
- Retrain: a background thread watches ``manifest.json`` of the model directory. When a
  retrained model is swapped in there, it is loaded beside the live one, the items, events and
  erasures stored since that model's snapshot are applied to it, and it replaces the live
  snapshot.
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
from tailwise.service.catchup import apply_erasures, apply_stored_items, fold_events, load_snapshot
from tailwise.service.live import Snapshot
from tailwise.service.offload import TextOffload
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import Erasure, Event, FeedbackStore, StoredItem

log = logging.getLogger(__name__)

#: items placed and published per step of ``POST /items`` (the writers' lock is held only to
#: commit and publish each batch)
ITEM_BATCH = 200


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


@dataclass(frozen=True)
class ItemsAdded:
    """The outcome of :meth:`ServiceState.add_items`: every batch is live when it is returned."""

    added: int
    updated: int
    batches: int
    live_at: str  # ISO-8601 time the last batch was published


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
        self._lock = threading.RLock()  # the writers' lock: commits and publishing
        self._grow_lock = threading.Lock()  # writers that replace the pipeline (items, reloads)
        self._erasure_mark = 0  # the last erasure applied to the live profiles
        self.item_batch = ITEM_BATCH
        self.offload = TextOffload()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._failed_signature: tuple | None = None
        self._exit = contextlib.ExitStack()
        self._exit.enter_context(keep_loaded())
        try:
            self.store = FeedbackStore(db_path, settings.key_check(), settings.synchronous)
            self._exit.callback(self.store.close)
            self._exit.callback(self.offload.close)
            self.n_events = self.store.counts()["events"]
            self._swap_in(self._load())
        except BaseException:
            self._exit.close()
            raise

    # ------------------------------------------------------------------ loading and swapping
    def _load(self) -> Snapshot:
        return load_snapshot(self.model_dir, _signature(self.model_dir))

    def _swap_in(self, snap: Snapshot) -> None:
        """Apply the stored items, events and erasures that a loaded `snap` does not have yet,
        and make it the live snapshot.

        Holds the growth lock while placing the items and the writers' lock for the rest, so
        nothing is written between the catching up and the swap."""
        with self._grow_lock:
            snap = apply_stored_items(snap, self.store)
            with self._lock:
                fold_events(snap, self.store.events_after(snap.profiles.event_mark))
                self._apply_erasures(snap, int(snap.pipe.meta.get("erased_through", 0)))
                self.live = snap

    def _apply_erasures(self, snap: Snapshot, since: int) -> int:
        """:func:`apply_erasures` after erasure id `since` (writers' lock held); returns how many."""
        erasures = apply_erasures(snap, self.store, since)
        if erasures:
            self.n_events = self.store.counts()["events"]
        self._erasure_mark = max(self._erasure_mark, since, erasures[-1].id if erasures else 0)
        return len(erasures)

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
        self._swap_in(snap)
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
                self.check_erasures()
            except Exception:
                log.exception("model reload or erasure check failed")

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
    def add_items(self, items: list[StoredItem]) -> ItemsAdded:
        """Add or update items in batches of :attr:`item_batch` (default :data:`ITEM_BATCH`);
        each is committed and live before the next is placed.

        For an id given twice the last text counts. New ids go first, so a model that cannot
        take new items refuses (:class:`UnsupportedError`) before anything is stored. Feedback,
        erasures and reads go on between (and during) the batches; only other item uploads and
        model swaps wait.
        """
        unique = list({it.item_id: it for it in items}.values())
        live = self.live
        known = live.pipe.items.indices([it.item_id for it in unique], missing=-1) >= 0
        ordered = [it for it, k in zip(unique, known) if not k] + [it for it, k in zip(unique, known) if k]
        added = updated = 0
        size = self.item_batch
        batches = [ordered[n : n + size] for n in range(0, len(ordered), size)]
        # a large upload is embedded in a worker process first (see tailwise.service.offload)
        texts = [[it.text for it in b] for b in batches]
        with contextlib.closing(self.offload.cached(live.pipe.model.text_side(progress=False), texts)) as ready:
            for n in ready:
                a, u = self._add_batch(batches[n])
                added, updated = added + a, updated + u
        log.info("added %d and updated %d items in %d batches", added, updated, len(batches))
        return ItemsAdded(added, updated, len(batches), datetime.now(UTC).isoformat(timespec="milliseconds"))

    def _add_batch(self, batch: list[StoredItem]) -> tuple[int, int]:
        """Place one batch on a copy of the live pipeline, then commit it and publish."""
        with self._grow_lock:
            live = self.live  # only growth-lock holders replace the pipeline: this stays current
            pipe = copy.copy(live.pipe)
            changed = [j for it in batch if (j := live.item_index(it.item_id)) >= 0]
            try:
                added, updated = pipe.add_items([it.item_id for it in batch], [it.text for it in batch])
            except ColdStartError as exc:
                raise UnsupportedError(str(exc)) from None
            titles = {it.item_id: it.title for it in batch}
            grown = live.grown(pipe, np.unique(np.asarray(changed, dtype=np.int64)), titles)
            self._prepare(grown)
            with self._lock:
                self.store.upsert_items(batch)
                self.live = grown
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
            rows = [(first + n, key, e.item_id) for n, (key, e) in enumerate(zip(keys, events)) if e.value >= 0]  # a dislike is not interest
            fold_events(live, rows)
            self.n_events += len(events)
        return len(events)

    def erase_user(self, user_id: str) -> Erasure:
        """Delete a user's events and record the erasure (committed before this returns), then
        drop the user's folded feedback and training row from the live profiles.

        Idempotent. The model directory keeps the user's training history until the next
        ``tailwise retrain``, which drops it; until then the service does not use it.
        Returns the erasure (its ``events`` are the events deleted now).
        """
        key = self.settings.user_key(user_id)
        with self._lock:
            erasure = self.store.erase_user(key)
            self._apply_erasures(self.live, self._erasure_mark)
        log.info("erased a user: %d feedback events deleted", erasure.events)  # never the id
        return erasure

    def check_erasures(self) -> int:
        """Apply erasures recorded by another process (``tailwise forget``) since the last check
        to the live profiles; returns how many."""
        with self._lock:
            return self._apply_erasures(self.live, self._erasure_mark)

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
                "feedback_events": self.n_events, "feedback_users": len(live.profiles.folded),
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

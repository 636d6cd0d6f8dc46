"""One loaded model as the service answers with it: a snapshot that requests only read.

A :class:`Snapshot` holds the pipeline plus what requests need ready-made (titles, the tail
mask, the model's item relations) and the :class:`Profiles`: the feedback folded into users'
profiles since the model was fitted, and the erased users whose training history is no longer
used. Every list it serves comes from the pipeline (:meth:`Pipeline.run`,
:meth:`Pipeline.fallback`, :meth:`Pipeline.fold_in`), so the service, the command line and the
evaluator recommend alike. Requests take the current snapshot once and use it to the end, so a
swap (new items, a retrained model) never changes a snapshot under a request: writers build a
new snapshot (:meth:`Snapshot.grown`) and replace the reference in one assignment.

Nothing here loops over the catalogue in Python per request: recommending is the model's
vectorised scoring of one history row, explanations compare the history with the k results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailwise.data.popularity import tail_mask
from tailwise.pipeline import NO_QUERY_MATCH, Pipeline
from tailwise.pipeline.query import QueryResult
from tailwise.ranking import history_row
from tailwise.rerank import Exposure
from tailwise.service.explain import Relations, because, relations, short_title


@dataclass(eq=False)
class Profiles:
    """What the service learned about users since its model was fitted.

    One object is shared by every snapshot grown from one loaded model, so a feedback write or
    an erasure between two growth steps is never lost. Writers change it under the service's
    writers' lock; readers only read (each change is one dictionary or set operation).
    """

    folded: dict[str, np.ndarray] = field(default_factory=dict)  # user key -> feedback items
    item_events: dict[int, int] = field(default_factory=dict)  # item -> feedback events
    erased: set[str] = field(default_factory=set)  # user keys whose training row is not used
    event_mark: int = 0  # id of the last feedback event folded in

    def fold(self, key: str, items: np.ndarray) -> None:
        """Add feedback events (their item indices, one per event) to a user's profile."""
        items, n = np.unique(np.asarray(items, dtype=np.int64), return_counts=True)
        old = self.folded.get(key)
        self.folded[key] = items if old is None else np.union1d(old, items)
        for i, c in zip(items.tolist(), n.tolist()):
            self.item_events[i] = self.item_events.get(i, 0) + c

    def forget(self, key: str, remaining: np.ndarray, item_events: dict[int, int]) -> None:
        """Erase a user: the training row is no longer used and the folded feedback is what
        is left in the store (`remaining`: items of the events sent after the erasure);
        `item_events` are the per-item counts of the stored events, recounted."""
        self.erased.add(key)
        if len(remaining):
            self.folded[key] = np.unique(np.asarray(remaining, dtype=np.int64))
        else:
            self.folded.pop(key, None)
        self.item_events = item_events


@dataclass(eq=False)
class Snapshot:
    """A loaded model with everything a request reads (see the module docstring)."""

    pipe: Pipeline
    source: dict[str, Any]  # model_dir, created, signature, loaded_at
    n_fitted: int  # items the fitted model knew; later ones were added through the service
    titles: list[str]
    counts: np.ndarray  # training interactions per item
    tail: np.ndarray  # bool per item
    rel: Relations
    profiles: Profiles = field(default_factory=Profiles)
    _users_sorted: np.ndarray | None = None
    _lowered: np.ndarray | None = None

    @classmethod
    def build(cls, pipe: Pipeline, source: dict[str, Any], titles: dict[str, str] | None = None, n_fitted: int | None = None) -> Snapshot:
        """Derive the request-side arrays of a pipeline; `titles` overrides titles by item id."""
        counts = np.diff(sp.csc_matrix(pipe.history).indptr).astype(np.int64)
        names = [short_title(t) for t in pipe.item_text]
        for item_id, title in (titles or {}).items():
            if (j := pipe.items.indices([item_id], missing=-1)[0]) >= 0:
                names[j] = title
        return cls(
            pipe=pipe, source=source, n_fitted=len(pipe.items) if n_fitted is None else n_fitted,
            titles=names, counts=counts, tail=tail_mask(counts), rel=relations(pipe.model, pipe.history),
        )  # fmt: skip

    def grown(self, pipe: Pipeline, changed: np.ndarray, titles: dict[str, str]) -> Snapshot:
        """The snapshot of `pipe`, a copy of this one's pipeline grown by
        :meth:`Pipeline.add_items` (which grows the pipeline's text index, when built).

        `changed` are the known items that got a new text. The :class:`Profiles` are shared
        (the same object), so no feedback or erasure is lost between the two.
        """
        n_new = len(pipe.items) - len(self.pipe.items)
        names = self.titles + [short_title(t) for t in pipe.item_text[len(self.titles):]]
        for j in np.asarray(changed, dtype=np.int64):
            names[j] = short_title(pipe.item_text[j])
        for item_id, title in titles.items():
            names[pipe.items.index(item_id)] = title
        counts = np.concatenate([self.counts, np.zeros(n_new, np.int64)])
        return Snapshot(
            pipe=pipe, source=self.source, n_fitted=self.n_fitted, titles=names, counts=counts,
            tail=tail_mask(counts), rel=relations(pipe.model, pipe.history), profiles=self.profiles,
        )  # fmt: skip

    # ------------------------------------------------------------------ lookups
    @property
    def n_items(self) -> int:
        return len(self.pipe.items)

    def item_index(self, item_id: str) -> int:
        """Index of an item id, -1 when unknown."""
        return int(self.pipe.items.indices([item_id], missing=-1)[0])

    def user_index(self, user_id: str, key: str) -> int:
        """Training index of a user (by id, or by its stored key after a retrain), -1 if none
        or if the user was erased since the model was fitted."""
        if key in self.profiles.erased:
            return -1
        return self._training_index(user_id, key)

    def trained_on(self, user_id: str, key: str) -> bool:
        """Whether the model's training history holds the user, erased or not (a retrain after
        the erasure drops it)."""
        return self._training_index(user_id, key) >= 0

    def _training_index(self, user_id: str, key: str) -> int:
        idx = self.pipe.users.indices([user_id, key], missing=-1)
        return int(idx[0] if idx[0] >= 0 else idx[1])

    # ------------------------------------------------------------------ answers
    def item_objects(self, items: np.ndarray, scores: np.ndarray, reasons: list[str]) -> list[dict[str, Any]]:
        """Result items as the API returns them (padding dropped, ranks from 1)."""
        ids = self.pipe.items.ids
        out = []
        for i, s, why in zip(items.tolist(), scores.tolist(), reasons):
            if i < 0:
                continue
            out.append({
                "item_id": str(ids[i]), "rank": len(out) + 1, "score": round(s, 6) if np.isfinite(s) else 0.0,
                "tail": bool(self.tail[i]), "title": self.titles[i], "because": why,
            })  # fmt: skip
        return out

    def for_user(self, user_id: str, key: str, k: int, exposure: Exposure, candidates: np.ndarray | None = None) -> dict[str, Any]:
        """Top-k for a user id (within `candidates`, item indices) through the pipeline.

        A training user without feedback is the pipeline's list of that user; a user with
        feedback is folded in from the whole row (training history plus feedback, for models
        with per-user state too); a user with neither gets :meth:`Pipeline.fallback`, the
        most popular items, through the request's re-ranker when it names one (``known: false``). An erased user's training row is
        not used (only feedback sent after the erasure, if any).
        """
        u = self.user_index(user_id, key)
        extra = self.profiles.folded.get(key)
        if u < 0 and extra is None:
            items, scores = self.pipe.fallback(k, candidates, exposure=exposure)
            return self._answer(user_id, False, items, scores, np.empty(0, np.int64), np.empty(0, np.int64))
        h = self.pipe.history
        if extra is None:
            users, rows = np.array([u]), h[[u]]
            liked = h.indices[h.indptr[u] : h.indptr[u + 1]]
        else:
            base = h.indices[h.indptr[u] : h.indptr[u + 1]] if u >= 0 else np.empty(0, np.int64)
            liked = np.union1d(base, extra)
            users, rows = np.array([-1]), history_row(liked, self.n_items)
        recs = self.pipe.run(users, rows, k, candidates, exposure)
        return self._answer(user_id, True, recs.items[0], recs.scores[0], liked, np.empty(0, np.int64))

    def for_history(self, history: np.ndarray, query: str | None, k: int, exposure: Exposure, candidates: np.ndarray | None = None) -> dict[str, Any]:
        """Top-k for an ad-hoc history (item indices) and/or a free-text query, by
        :meth:`Pipeline.fold_in` and :meth:`Pipeline.query`: the items relevant to the query
        first, ordered by the history's taste (or, without one, by the text with the model as a
        prior); the given items are never recommended back.
        """
        history = np.unique(np.asarray(history, dtype=np.int64))
        if not query:
            recs, seeds = self.pipe.fold_in(history, None, k, candidates, exposure)
            return self._answer(None, False, recs.items[0], recs.scores[0], history, seeds)
        res = self.pipe.query(query, k, candidates, exposure, history=history)
        return self._query_answer(None, False, res, history)

    def for_user_query(
        self, user_id: str, key: str, query: str | None, history: np.ndarray, k: int, exposure: Exposure, candidates: np.ndarray | None = None
    ) -> dict[str, Any]:
        """Top-k for a user, a free-text query and/or more items the user liked (`history`).

        With a query, the items relevant to it come first, ordered by the user's taste
        (training history plus feedback, as :meth:`for_user`, plus `history`); without one,
        the model folds that whole history in. An unknown user without feedback counts as a
        visitor (:meth:`for_history`, ``known: false``)."""
        u = self.user_index(user_id, key)
        extra = self.profiles.folded.get(key)
        if u < 0 and extra is None:
            return {**self.for_history(history, query, k, exposure, candidates), "user_id": user_id}
        h = self.pipe.history
        liked = h.indices[h.indptr[u] : h.indptr[u + 1]] if u >= 0 else np.empty(0, np.int64)
        given = np.union1d(np.empty(0, np.int64) if extra is None else extra, history).astype(np.int64)
        liked = np.union1d(liked, given).astype(np.int64)
        if query is None:
            recs, seeds = self.pipe.fold_in(liked, None, k, candidates, exposure)
            return self._answer(user_id, True, recs.items[0], recs.scores[0], liked, seeds)
        if len(given):
            res = self.pipe.query(query, k, candidates, exposure, history=liked)
        else:
            res = self.pipe.query(query, k, candidates, exposure, user=u)
        return self._query_answer(user_id, True, res, liked)

    def _query_answer(self, user_id: str | None, known: bool, res: QueryResult, liked: np.ndarray) -> dict[str, Any]:
        """A query list with its explanations: the query words each relevant item contains."""
        items, scores = res.recs.items[0], res.recs.scores[0]
        valid = items >= 0
        out = self._answer(user_id, known, items, scores, liked, res.seeds)
        rel = items[valid][: res.n_relevant]
        words = self.pipe.text_index().matched_terms(res.match.query, rel)
        for obj, found in zip(out["items"], words):
            said = f"matches your text: {', '.join(found)}" if found else "matches your text by meaning"
            why = obj["because"]
            obj["because"] = said if why in ("matches your text", "fits your overall taste", "popular with everyone") else f"{said}; {why}"
        note = None if res.n_relevant else NO_QUERY_MATCH
        if res.n_relevant and res.n_relevant < int(valid.sum()):
            note = f"only {res.n_relevant} items match the query; the rest follow"
        out["query"] = {"relevant": res.n_relevant, "note": note}
        return out

    def _answer(self, user_id: str | None, known: bool, items: np.ndarray, scores: np.ndarray, liked: np.ndarray, seeds: np.ndarray) -> dict[str, Any]:
        valid = items >= 0
        reasons = because(self.rel, liked, seeds, items[valid], self.titles)
        return {"user_id": user_id, "known": known, "model": self.pipe.model.name, "items": self.item_objects(items[valid], scores[valid], reasons)}

    def history(self, user_id: str, key: str, limit: int) -> dict[str, Any]:
        """A user's history as the service uses it: feedback items since training first (the
        most recent events), then the training items (not used after an erasure); `limit` items
        and the total."""
        u = self.user_index(user_id, key)
        extra = self.profiles.folded.get(key)
        h = self.pipe.history
        train = h.indices[h.indptr[u] : h.indptr[u + 1]] if u >= 0 else np.empty(0, np.int64)
        fed = np.empty(0, np.int64) if extra is None else np.asarray(extra, np.int64)
        train = train[~np.isin(train, fed)]
        order = [(int(i), "feedback") for i in fed[::-1]] + [(int(i), "training") for i in train]
        ids = self.pipe.items.ids
        items = [
            {"item_id": str(ids[i]), "title": self.titles[i], "tail": bool(self.tail[i]), "source": src}
            for i, src in order[:limit]
        ]  # fmt: skip
        return {"user_id": user_id, "known": u >= 0 or extra is not None, "total": len(order), "items": items}

    def similar(self, item: int, k: int) -> dict[str, Any]:
        """The k items most like one item, by the model's item relations."""
        idx, val = self.rel.similar(item, k)
        title = self.titles[item]
        items = self.item_objects(idx, val, [f"similar to {title}"] * len(idx))
        return {"item_id": str(self.pipe.items.ids[item]), "items": items}

    def item_info(self, item: int) -> dict[str, Any]:
        """One item's text, interactions (training plus feedback) and flags."""
        return {
            "item_id": str(self.pipe.items.ids[item]), "title": self.titles[item], "text": self.pipe.item_text[item],
            "interactions": int(self.counts[item]) + self.profiles.item_events.get(item, 0),
            "tail": bool(self.tail[item]), "new": item >= self.n_fitted,
        }  # fmt: skip

    def search(self, query: str, limit: int) -> dict[str, Any]:
        """Items whose title contains the query (most interacted-with first, score 1), then the
        items relevant to it by the pipeline's fused BM25 + dense text ranking
        (:meth:`Pipeline.text_match`, its fused score), then the rest of that ranking."""
        needle = query.casefold().strip()
        lowered = self._lower_titles()
        hits = np.flatnonzero(np.char.find(lowered, needle) >= 0) if needle else np.empty(0, np.int64)
        hits = hits[np.lexsort((hits, -self.counts[hits]))][:limit]
        scores = np.ones(len(hits), np.float32)
        if len(hits) < limit:
            match = self.pipe.text_match(query)
            keep = ~np.isin(match.items, hits)
            more, val = match.items[keep][: limit - len(hits)], match.scores[keep][: limit - len(hits)]
            hits, scores = np.concatenate([hits, more]), np.concatenate([scores, val])
        items = []
        for i, s in zip(hits.tolist(), scores.tolist()):
            info = self.item_info(i)
            del info["text"]
            items.append({**info, "score": round(float(s), 6)})
        return {"query": query, "items": items}

    def _lower_titles(self) -> np.ndarray:
        if self._lowered is None:
            self._lowered = np.asarray([t.casefold() for t in self.titles], dtype=np.str_)
        return self._lowered

    def users(self, prefix: str, limit: int, offset: int) -> dict[str, Any]:
        """Training user ids in sorted order, optionally those starting with `prefix`; erased
        users are left out (ids are listed only when they are stored as they are)."""
        if self._users_sorted is None:
            self._users_sorted = np.sort(self.pipe.users.ids)
        ids = self._users_sorted
        if erased := self.profiles.erased:
            ids = ids[~np.isin(ids, np.asarray(list(erased)))]
        lo, hi = 0, len(ids)
        if prefix:
            lo, hi = np.searchsorted(ids, prefix), np.searchsorted(ids, prefix + "\U0010ffff")
        chosen = ids[lo + offset : min(hi, lo + offset + limit)]
        rows = self.pipe.users.indices(chosen.tolist())
        sizes = np.diff(self.pipe.history.indptr)[rows] if len(rows) else []
        return {"total": int(hi - lo), "users": [{"user_id": str(u), "interactions": int(n)} for u, n in zip(chosen, sizes)]}

"""Approximate maximum-inner-product search: an HNSW graph (faiss) with exact re-scoring.

The graph (Malkov & Yashunin 2018, ``faiss.IndexHNSWFlat`` with the inner-product metric)
proposes candidates; they are re-scored exactly (``p_u . q_i`` in float32), so every score
returned is the true score and only *which* items reach the list is approximate.

The two hard rules of :class:`~tailwise.index.base.VectorIndex` hold exactly:

- **exclude** (seen items): each query asks the graph for ``k + n_excluded + margin``
  candidates (rounded up to a power of two), drops excluded ones, and asks again with four
  times as many when fewer than ``k`` remain; past a quarter of the catalogue it scans exactly.
- **allowed** (whitelist): a small whitelist (at most `exact_below` items) is scored exactly,
  which is both faster and exact; a larger one scales the number of candidates by
  ``n_items / n_allowed`` and filters them, widening like above.

Needs the ``ann`` extra (``faiss-cpu``).
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from tailwise._compat import require
from tailwise.index.base import VectorIndex, _empty, merge

log = logging.getLogger(__name__)

#: past this share of the catalogue, widening gives way to an exact scan
FULL_SCAN_SHARE = 0.25
#: items added to the graph per progress-bar step
ADD_STEP = 20_000


def _faiss():
    """faiss, or an error naming the ``ann`` extra (the PyPI package is ``faiss-cpu``)."""
    return require("faiss", "The approximate-nearest-neighbour index")


class ANNIndex(VectorIndex):
    """HNSW graph over the item vectors (inner product), candidates re-scored exactly.

    Parameters
    ----------
    connectivity : int
        Graph neighbours per node, HNSW's ``M`` (default 32). Higher: better recall, more
        memory (``2 * M * 4`` bytes per item on the base layer) and a slower build.
    ef_construction : int
        Candidate-list size while building (default 64). Higher: a better graph, slower build.
    ef_search : int
        Candidate-list size while searching (default 512); raised to the number of candidates
        a query asks for when that is larger. Higher: better recall, slower queries.
    margin : int
        Extra candidates asked for on top of ``k + n_excluded`` (default 32).
    exact_below : int
        A whitelist of at most this many items is scored exactly instead (default 20,000).
    threads : int
        Threads for building (default 0 = faiss's default, all cores). With 1 the graph, and
        so every result, is the same from build to build; with more, insertion order varies
        and the last ranks of a few lists may differ between builds.
    progress : bool
        Show a progress bar while building (default True).

    Examples
    --------
    >>> vectors = np.random.default_rng(0).standard_normal((500, 8)).astype(np.float32)
    >>> index = ANNIndex(progress=False).build(vectors)
    >>> items, scores = index.search(vectors[:1], k=3)
    >>> bool(np.allclose(scores[0], vectors[items[0]] @ vectors[0]))  # scores are exact
    True
    """

    kind = "ann"

    def __init__(
        self,
        connectivity: int = 32,
        ef_construction: int = 64,
        ef_search: int = 512,
        margin: int = 32,
        exact_below: int = 20_000,
        threads: int = 0,
        progress: bool = True,
    ) -> None:
        self.connectivity = connectivity
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.margin = margin
        self.exact_below = exact_below
        self.threads = threads
        self.progress = progress
        self._index = None
        self._xb: np.ndarray | None = None  # view of the stored vectors, see _stored
        # items whose vectors changed after they joined the graph: scored from here, exactly
        self._over_ids = np.zeros(0, dtype=np.int64)
        self._over_vecs = np.zeros((0, 0), dtype=np.float32)

    # ------------------------------------------------------------------ storage
    @property
    def n_items(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return 0 if self._index is None else int(self._index.d)

    def vectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        with self._guard:
            return np.array(self._rows(start, stop))

    def take(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        with self._guard:
            return self._overlay(ids, self._stored()[ids])

    def _rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        rows = self._stored()[start:stop]
        ids = np.arange(start, start + len(rows))
        if len(self._over_ids) and np.isin(self._over_ids, ids).any():
            rows = self._overlay(ids, rows.copy())
        return rows

    def _stored(self) -> np.ndarray:
        """The graph's own float32 copy of the vectors, as a NumPy view (no copy).

        The view is into memory faiss owns and reallocates when items are added, so it is
        re-made after every change and only used under the index's lock.
        """
        if self._xb is None or len(self._xb) != self.n_items:
            if self.n_items == 0:
                return np.zeros((0, self.dim), dtype=np.float32)
            faiss = _faiss()
            flat = faiss.downcast_index(self._index.storage)
            size = self.n_items * self.dim
            self._xb = faiss.rev_swig_ptr(flat.get_xb(), size).reshape(self.n_items, self.dim)
            self._xb.flags.writeable = False
        return self._xb

    def _overlay(self, ids: np.ndarray, vecs: np.ndarray) -> np.ndarray:
        """`vecs` (rows of items `ids`, a copy) with changed items' new vectors written in."""
        if len(self._over_ids):
            pos = np.minimum(np.searchsorted(self._over_ids, ids), len(self._over_ids) - 1)
            hit = self._over_ids[pos] == ids
            vecs[hit] = self._over_vecs[pos[hit]]
        return vecs

    def _build(self, vectors: np.ndarray) -> None:
        faiss = _faiss()
        self._index = faiss.IndexHNSWFlat(vectors.shape[1], self.connectivity, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = self.ef_construction
        self._index.hnsw.efSearch = self.ef_search
        self._over_ids = np.zeros(0, dtype=np.int64)
        self._over_vecs = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        self._add(vectors)

    def _add(self, vectors: np.ndarray) -> None:
        from tailwise.text.base import progress_bar

        faiss = _faiss()
        before = faiss.omp_get_max_threads()
        if self.threads:
            faiss.omp_set_num_threads(self.threads)
        try:
            show = self.progress and len(vectors) > ADD_STEP
            with progress_bar(len(vectors), "ANN index", show, unit="vectors") as advance:
                for start in range(0, len(vectors), ADD_STEP):
                    chunk = vectors[start : start + ADD_STEP]
                    self._index.add(chunk)
                    advance(len(chunk))
        finally:
            faiss.omp_set_num_threads(before)
            self._xb = None
        log.debug("ANN index holds %d items", self.n_items)

    def _update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """HNSW graphs cannot move a node: changed items are kept aside and scanned exactly."""
        all_ids = np.concatenate([self._over_ids, ids])
        all_vecs = np.vstack([self._over_vecs.reshape(-1, self.dim), vectors])
        _, first_rev = np.unique(all_ids[::-1], return_index=True)
        keep = len(all_ids) - 1 - first_rev  # the last vector given for each id, sorted by id
        self._over_ids, self._over_vecs = all_ids[keep], all_vecs[keep]
        if len(self._over_ids) > 0.05 * self.n_items:
            log.warning("%d items of the ANN index changed since it was built; rebuild it", len(self._over_ids))

    # ------------------------------------------------------------------ search
    def _search(
        self, queries: np.ndarray, k: int, exclude: sp.csr_matrix | None, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self.n_items
        share = 1.0
        if allowed is not None:
            n_allowed = int(allowed.sum())
            if n_allowed <= self.exact_below:
                return self.scan(queries, k, exclude, allowed, ids=np.flatnonzero(allowed))
            share = n_allowed / n
        n_ex = np.zeros(len(queries), np.int64) if exclude is None else np.diff(exclude.indptr)
        need = np.ceil((k + n_ex + self.margin) / share)
        fetch = 2 ** np.ceil(np.log2(need)).astype(np.int64)
        items, scores = _empty(len(queries), k)
        pending = np.arange(len(queries))
        while len(pending):
            too_wide = fetch[pending] > FULL_SCAN_SHARE * n
            if too_wide.any():
                rows = pending[too_wide]
                ex = None if exclude is None else exclude[rows]
                items[rows], scores[rows] = self.scan(queries[rows], k, ex, allowed)
                pending = pending[~too_wide]
            short = []
            for f in np.unique(fetch[pending]):
                rows = pending[fetch[pending] == f]
                ex = None if exclude is None else exclude[rows]
                got_i, got_s = self._candidates(queries[rows], int(f), k, ex, allowed)
                if len(self._over_ids):
                    over_i, over_s = self.scan(queries[rows], k, ex, allowed, ids=self._over_ids)
                    got_i, got_s = merge(np.hstack([got_i, over_i]), np.hstack([got_s, over_s]), k)
                items[rows], scores[rows] = got_i, got_s
                short.append(rows[(got_i >= 0).sum(axis=1) < k])
            pending = np.concatenate(short) if short else pending[:0]
            if len(pending):
                log.debug("widening the ANN search for %d queries", len(pending))
                fetch[pending] *= 4
        return items, scores

    def _candidates(
        self, q: np.ndarray, fetch: int, k: int, ex: sp.csr_matrix | None, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ask the graph for `fetch` candidates per query, filter them and re-score exactly."""
        faiss = _faiss()
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, fetch)
        out_i, out_s = _empty(len(q), k)
        step = max(1, (1 << 22) // (fetch * max(self.dim, 1)))  # bound the gathered vectors
        for s in range(0, len(q), step):
            qb = q[s : s + step]
            _, cand = self._index.search(qb, fetch, params=params)
            valid = cand >= 0
            if allowed is not None:
                valid &= allowed[np.maximum(cand, 0)]
            if len(self._over_ids):  # changed items come from the exact scan of the overlay
                valid &= ~np.isin(cand, self._over_ids)
            if ex is not None:
                exb = ex[s : s + step]
                if exb.nnz:
                    n = np.int64(self.n_items)
                    seen = np.repeat(np.arange(len(qb), dtype=np.int64), np.diff(exb.indptr)) * n + exb.indices
                    valid &= ~np.isin(np.arange(len(qb), dtype=np.int64)[:, None] * n + cand, seen)
            safe = np.where(valid, cand, 0)
            vecs = self.take(safe.ravel()).reshape(len(qb), fetch, self.dim)
            sc = np.einsum("mfd,md->mf", vecs, qb)
            sc[~valid] = -np.inf
            out_i[s : s + step], out_s[s : s + step] = merge(np.where(valid, cand, -1), sc, k)
        return out_i, out_s

    # ------------------------------------------------------------------ persistence
    def _params(self) -> dict[str, object]:
        return {
            "connectivity": self.connectivity,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "margin": self.margin,
            "exact_below": self.exact_below,
            "threads": self.threads,
        }

    def _state(self) -> dict[str, np.ndarray]:
        if self._index is None:
            raise ValueError("the ANN index is not built; call build(item_vectors) first")
        return {
            "faiss": _faiss().serialize_index(self._index),
            "override_ids": self._over_ids,
            "override_vectors": self._over_vecs.reshape(-1, self.dim),
        }

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self._index = _faiss().deserialize_index(np.ascontiguousarray(state["faiss"], dtype=np.uint8))
        self._xb = None
        self._index.hnsw.efSearch = self.ef_search
        self._over_ids = np.asarray(state.get("override_ids", self._over_ids), dtype=np.int64)
        self._over_vecs = np.asarray(state.get("override_vectors", self._over_vecs), dtype=np.float32)


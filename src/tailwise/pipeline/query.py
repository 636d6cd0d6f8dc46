"""Lists for a free-text query: the items relevant to the query first, ordered by taste.

The text decides *which* items come first, the model decides their *order*:

1. :meth:`TextIndex.match <tailwise.text.index.TextIndex.match>` ranks the catalogue for the
   query by BM25 and dense text similarity fused, and marks its relevant head (at most
   :data:`~tailwise.text.index.MAX_RELEVANT` items with lexical or dense evidence), the *strong*
   matches (both kinds of evidence) first.
2. **A known user** (or a history given with the query): the strong matches, then the other
   relevant items, each group ordered by the model's scores for that user, through the usual
   stages (candidates within the group, re-ranking); the user's own items are not recommended.
3. **An anonymous query**: the model folds in the query's best :data:`QUERY_SEEDS` relevant items
   as a pseudo-history and ranks the relevant items with it; that ranking is a prior, fused with
   the text ranking (reciprocal-rank fusion, the prior weighing :data:`PRIOR_WEIGHT` against the
   text's 1) within each group (strong matches first), so the CF and popularity side only
   reorders among relevant items.
4. Items that are not relevant come only after all relevant ones (the model's list for the user
   or the pseudo-history, when fewer than k relevant items are left). A query with no relevant
   item gets no relevant head: an anonymous one the popularity fallback (labelled
   :data:`NO_QUERY_MATCH`), a known user the usual list; both say ``n_relevant == 0``.

Scores of a query list follow its order: ``1 + 1 / (RRF_K + position)`` for a relevant item and
``1 / (RRF_K + position)`` below them (position from 1 within each part), so they never increase.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from tailwise.index import text_vector_index
from tailwise.pipeline import stages
from tailwise.pipeline.directory import QUERY_MAP, query_map_state, read_lexical, read_query_map
from tailwise.ranking import Recommendations, history_row
from tailwise.rerank import Exposure
from tailwise.text.index import RRF_K, TextIndex, TextMatch, fuse
from tailwise.text.querymap import fit_query_map
from tailwise.text.side import TextSide, needs_catalogue

if TYPE_CHECKING:
    from tailwise.pipeline.core import Pipeline

#: an anonymous query is folded in through this many of its best relevant items
QUERY_SEEDS = 10
#: the model's ranking's weight against the text ranking's 1 in an anonymous list's order
PRIOR_WEIGHT = 2.0
NO_QUERY_MATCH = "the query matches no item's text"


@dataclass(frozen=True)
class QueryResult:
    """One list for a query: `recs` (one row, ``-1`` padded to k), how many of its first items
    are relevant to the query (`n_relevant`, 0: the query matches no item), the seeds an
    anonymous query was folded in through (empty otherwise) and the text ranking (`match`)."""

    recs: Recommendations
    n_relevant: int
    seeds: np.ndarray
    match: TextMatch


def build_text_index(pipe: Pipeline) -> TextIndex:
    """The text index of a pipeline's catalogue: the item embeddings by the model's text side
    (the default encoder for models without one), the BM25 index saved in the model directory
    it was loaded from (else built from the texts) and, for a large catalogue, the vector index
    the dense side searches through (:func:`tailwise.index.text_vector_index`: saved, or built),
    and the query map (:func:`query_map`)."""
    side = text_side(pipe)
    source = pipe._source
    lexical = read_lexical(source, pipe.item_text) if source is not None else None
    emb = side.embed(list(pipe.item_text))
    return TextIndex(side, pipe.item_text, emb, lexical, text_vector_index(emb, source), query_map(pipe, side, emb))


def text_side(pipe: Pipeline) -> TextSide:
    """The encoder text queries use: the model's text side, else the default encoder."""
    return pipe.model.text_side(progress=False) or TextSide(progress=False)


def query_map(pipe: Pipeline, side: TextSide, emb: np.ndarray) -> np.ndarray | None:
    """The query map of the pipeline's catalogue (:mod:`tailwise.text.querymap`): the one saved
    in the model directory it was loaded from for this encoder, else fitted now on the item
    texts `pipe.item_text` and their embeddings `emb` (a few thousand short texts encoded).
    Encoders fitted on the catalogue (TF-IDF) get no map."""
    if needs_catalogue(side.encoder):
        return None
    if pipe._source is not None:
        found, weights = read_query_map(pipe._source, side.encoder, emb.shape[1])
        if found:
            return weights
    return fit_query_map(side.encode_queries, pipe.item_text, emb, side.max_tokens)


def saved_query_map(pipe: Pipeline) -> dict[str, dict[str, np.ndarray]]:
    """What :meth:`Pipeline.save` writes of the query map (by file stem): the text index's,
    else (for a model with a text side, whose item embeddings its fit cached) :func:`query_map`;
    nothing for a model without a text side whose text index was not built (the map is then
    fitted at the first text query of the loaded pipeline)."""
    stem = QUERY_MAP.removesuffix(".npz")
    if pipe._text is not None:
        return {stem: query_map_state(pipe._text.query_map, pipe._text.side.encoder)}
    side = pipe.model.text_side(progress=False)
    if side is None:
        return {}
    return {stem: query_map_state(query_map(pipe, side, side.embed(list(pipe.item_text))), side.encoder)}


def _scored(items: np.ndarray, relevant: bool) -> np.ndarray:
    return (1.0 if relevant else 0.0) + 1.0 / (RRF_K + np.arange(1, len(items) + 1, dtype=np.float32))


def _others(pipe: Pipeline, rel: np.ndarray, candidates: np.ndarray | None, history: np.ndarray) -> np.ndarray:
    allowed = np.arange(len(pipe.items)) if candidates is None else np.asarray(candidates, np.int64)
    return np.setdiff1d(allowed, np.union1d(rel, history))


def query_list(
    pipe: Pipeline,
    match: TextMatch,
    user: int,
    row: sp.csr_matrix,
    k: int,
    candidates: np.ndarray | None,
    exposure: Exposure | None,
    n_seeds: int = QUERY_SEEDS,
) -> QueryResult:
    """One list for a query (module docstring): `user` is a training index with its history
    `row`, or ``-1`` with a given history `row` (possibly empty: an anonymous query)."""
    history = row.indices.astype(np.int64)
    rel = match.relevant
    rel = rel[~np.isin(rel, history)]
    if candidates is not None:
        rel = rel[np.isin(rel, candidates)]
    anonymous = user < 0 and not len(history)
    seeds = rel[:n_seeds] if anonymous else np.empty(0, np.int64)
    users = np.array([user], dtype=np.int64)
    taste = history_row(seeds, len(pipe.items)) if anonymous else row
    exclude_seen = not anonymous
    head = np.empty(0, np.int64)
    strong = np.isin(rel, match.strong)
    if len(rel):
        if anonymous:
            (_, _, model), = pipe.model.score_batches(users, taste, exclude_seen, rel, batch_size=1)
            prior = rel[np.lexsort((np.arange(len(rel)), -model[0, rel]))]
            blend = fuse([rel, prior], len(pipe.items), RRF_K, [1.0, PRIOR_WEIGHT])
            order = rel[np.lexsort((np.arange(len(rel)), -blend[rel], ~strong))]
            cands = Recommendations(order[None, :], blend[order][None, :])
            head = pipe.rerank(cands, taste, min(k, len(order)), exposure).items[0]
        else:  # the strong matches first, each tier in the user's order (a tier past k is not used)
            head = _in_tiers(pipe, users, taste, k, [rel[strong], rel[~strong]], exposure)
        head = head[head >= 0]
    items, scores = head, _scored(head, True)
    if len(items) < k:
        others = _others(pipe, rel, candidates, history)
        if len(others) and (taste.nnz or user >= 0):
            more = pipe.run(users, taste, k - len(items), others, exposure, exclude_seen).items[0]
        else:
            more, _ = pipe.fallback(k - len(items), others)
        more = more[more >= 0]
        items, scores = np.concatenate([items, more]), np.concatenate([scores, _scored(more, False)])
    out_items = np.full((1, k), -1, np.int64)
    out_scores = np.full((1, k), -np.inf, np.float32)
    out_items[0, : len(items)], out_scores[0, : len(items)] = items[:k], scores[:k]
    return QueryResult(Recommendations(out_items, out_scores), len(head), seeds, match)


def _in_tiers(pipe: Pipeline, users: np.ndarray, row: sp.csr_matrix, k: int, tiers: list[np.ndarray], exposure: Exposure | None) -> np.ndarray:
    """A known user's (or a history's) list of the relevant items, `tiers` one after the other,
    each ordered by the stages (candidates within the tier, re-ranking), at most `k` items.

    A model that scores every item (no vector index) is asked once for all tiers: its scores of
    an item do not depend on the whitelist, so each tier's candidates are those scores masked
    to the tier, as a pass of :meth:`Pipeline.run` per tier would give them."""
    tiers = [t for t in tiers if len(t)]
    parts: list[np.ndarray] = []
    if pipe.index is not None:
        for tier in tiers:
            if sum(map(len, parts)) < k:
                parts.append(pipe.run(users, row, min(k, len(tier)), tier, exposure).items[0])
        return np.concatenate(parts)[:k] if parts else np.empty(0, np.int64)
    if not tiers:
        return np.empty(0, np.int64)
    settings = pipe.exposure(exposure)
    ctx = pipe.rerank_context() if settings.reranker() is not None else None
    (_, _, scores), = pipe.model.score_batches(users, row, True, np.concatenate(tiers), batch_size=1)
    for tier in tiers:
        if sum(map(len, parts)) >= k:
            break
        n = min(k, len(tier))
        reranker = settings.reranker()  # a new one per tier, as a pass of Pipeline.run makes
        masked = np.full_like(scores, -np.inf)
        masked[:, tier] = scores[:, tier]
        cands = stages.from_scores(masked, stages.pools_for(reranker, n, settings.n_candidates, ctx))
        items = cands.items if reranker is None else reranker.rerank(cands.items, cands.scores, row, n, ctx)[0]
        parts.append(items[0][:n])
    return np.concatenate(parts)[:k]


def user_query_lists(pipe: Pipeline, idx: np.ndarray, query: str, k: int, candidates, exposure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists for one query and many users (training indices, ``-1``: anonymous): items, scores
    and the number of relevant items per list."""
    match = pipe.text_match(query, candidates)
    items = np.full((len(idx), k), -1, dtype=np.int64)
    scores = np.full((len(idx), k), -np.inf, dtype=np.float32)
    relevant = np.zeros(len(idx), dtype=np.int64)
    empty = history_row(np.empty(0, np.int64), len(pipe.items))
    for r, u in enumerate(np.asarray(idx).tolist()):
        res = query_list(pipe, match, u, pipe.history[[u]] if u >= 0 else empty, k, candidates, exposure)
        items[r], scores[r], relevant[r] = res.recs.items[0], res.recs.scores[0], res.n_relevant
    return items, scores, relevant

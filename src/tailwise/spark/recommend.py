"""Batch recommendation on Spark: blocked scoring, the tail pools, the long-tail re-ranker.

User blocks (their fused vectors and histories) are cross-joined with item blocks (the fused
item vectors): each pair is one task that scores a block of users against a block of items with
one matrix product, removes the users' own items, and keeps each user's best `k` items and best
`k` tail items (the candidates the hybrid's tail slots choose from). The candidates are then
grouped per user block (a grouped pandas UDF): the best `k` over every item block and the best
`k` tail items are merged (:func:`tailwise.ranking.merge_lists`), and the re-ranker picks the
final `k` (:class:`tailwise.rerank.TailSlots` with the hybrid's ``tail_share``; none when it is
0), exactly as :class:`tailwise.pipeline.Pipeline` does for one machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tailwise.ranking import merge_lists, top_k

LISTS_SCHEMA = "ub long, u long, pool int, items array<long>, scores array<float>"


def _score_pairs(k: int):
    """Each (user block, item block) pair: the best k and the best k tail items per user."""

    def score(batches):
        import pandas as pd

        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            out = []
            for row in pdf.itertuples(index=False):
                users = np.asarray(row.users, dtype=np.int64)
                q = np.frombuffer(row.queries, np.float32).reshape(len(users), row.dim)
                items = np.asarray(row.items, dtype=np.int64)
                vecs = np.frombuffer(row.vectors, np.float32).reshape(len(items), row.dim_i)
                s = q @ vecs.T
                hist, indptr = np.asarray(row.hist, np.int64), np.asarray(row.indptr, np.int64)
                pos = np.searchsorted(items, hist)
                inside = (pos < len(items)) & (items[np.minimum(pos, len(items) - 1)] == hist)
                r = np.repeat(np.arange(len(users)), np.diff(indptr))
                s[r[inside], pos[inside]] = -np.inf
                tail = np.asarray(row.tail, bool)
                for pool, scores in ((0, s), (1, np.where(tail[None, :], s, -np.inf))):
                    idx, vals = top_k(scores, k)
                    chosen = np.where(idx >= 0, items[np.maximum(idx, 0)], -1)
                    out.append(pd.DataFrame({"ub": row.ub, "u": users, "pool": pool, "items": list(chosen), "scores": list(vals)}))
            if out:
                yield pd.concat(out)

    return score


def _best(items: list[np.ndarray], scores: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `k` of one user's lists from several item blocks (ties: lower item)."""
    it, sc = np.concatenate(items), np.concatenate(scores).astype(np.float32)
    keep = it >= 0
    it, sc = it[keep], sc[keep]
    order = np.lexsort((it, -sc))[:k]
    out_i, out_s = np.full(k, -1, np.int64), np.full(k, -np.inf, np.float32)
    out_i[: len(order)], out_s[: len(order)] = it[order], sc[order]
    return out_i, out_s


def _finish(k: int, n_items: int, reranker: Any, ctx: Any):
    """Per user block: merge the pools over item blocks, then re-rank (or cut) to k."""

    def finish(lists, blocks):
        import pandas as pd

        if len(lists) == 0 or len(blocks) == 0:
            return pd.DataFrame(columns=["u", "rank", "i", "score"])
        block = blocks.iloc[0]
        users = np.asarray(block["users"], np.int64)
        rows = sp.csr_matrix(
            (np.ones(len(block["hist"]), np.float32), np.asarray(block["hist"], np.int64), np.asarray(block["indptr"], np.int64)),
            shape=(len(users), n_items),
        )
        at = {u: r for r, u in enumerate(users.tolist())}
        width = 2 * k if reranker is not None else k
        cand_i, cand_s = np.full((len(users), width), -1, np.int64), np.full((len(users), width), -np.inf, np.float32)
        for u, group in lists.groupby("u"):
            parts = {p: g for p, g in group.groupby("pool")}
            top = _best(list(parts[0]["items"]), list(parts[0]["scores"]), k)
            if reranker is None:
                cand_i[at[u]], cand_s[at[u]] = top
                continue
            tail = _best(list(parts[1]["items"]), list(parts[1]["scores"]), k)
            mi, ms = merge_lists(top[0][None, :], top[1][None, :], tail[0][None, :], tail[1][None, :])
            cand_i[at[u]], cand_s[at[u]] = mi[0], ms[0]
        items, scores = (cand_i, cand_s) if reranker is None else reranker.rerank(cand_i, cand_s, rows, k, ctx)
        r, c = np.nonzero(items >= 0)
        return pd.DataFrame({"u": users[r], "rank": c + 1, "i": items[r, c], "score": scores[r, c]})

    return finish


def recommend_blocks(spark: Any, queries: Any, blocks: Any, k: int, n_items: int, reranker: Any, ctx: Any) -> Any:
    """``(u, rank, i, score)``: every user's final list (see the module docstring)."""
    pairs = queries.crossJoin(blocks.withColumnRenamed("dim", "dim_i"))
    lists = pairs.mapInPandas(_score_pairs(k), LISTS_SCHEMA)
    finish = _finish(k, n_items, reranker, ctx)
    return lists.groupBy("ub").cogroup(queries.groupBy("ub")).applyInPandas(finish, "u long, rank int, i long, score float")

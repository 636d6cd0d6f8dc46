"""Ideas for the dense side of text queries, measured on both query sets before any is adopted.

On the ml-1m hybrid of ``bench/text_queries.py`` (its item texts and encoder cache), dense
retrieval alone (cosine with the query's embedding) is scored on the tag queries (NDCG@10 over
the catalogue) and on the 34 new items (hit@10 of each item for its paraphrase, among the
catalogue and all new items, as if added with ``add_items``), for:

- ``full``: one embedding per item text (what the library does);
- passages (max-sim, "MaxP"): each item text cut into 32-word windows (stride 16) or into its
  sentences of at least 6 words, each embedded; an item scores its best passage (``maxp``),
  the mean of that and its full-text cosine, the normalised mean passage vector, or that plus
  the full-text vector;
- pseudo-relevance feedback on embeddings: the query vector plus ``beta`` times the mean of its
  ``m`` nearest items' vectors (normalised), alone or combined with the original cosine
  (max, reciprocal-rank fusion), and gated by how flat the query's top is (``beta`` times
  ``(s_m / s_1) ** p``, s_i the i-th best cosine: full feedback for a flat top, a broad query,
  less for a peaked one, a query about one item).

    python bench/text_query_ideas.py --model-dir DIR --cache DIR   # writes bench/results/text_query_ideas.json
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import queries as Q

RESULTS = ROOT / "results"


def windows(text: str, width: int = 32, stride: int = 16) -> list[str]:
    words = text.split()
    if len(words) <= width:
        return [text]
    return [" ".join(words[i : i + width]) for i in range(0, len(words) - width + stride, stride) if words[i : i + width]]


def sentences(text: str, min_words: int = 6) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= min_words] or [text]


def main() -> None:
    from tailwise.text.side import keep_loaded
    from tailwise.text.template import truncate_words

    args, pipe, side, (qs, new, texts, truth) = Q.ideas_setup(__doc__)
    n_old = len(pipe.items)
    results: dict[str, dict] = {}

    def evaluate(name: str, tag_s: np.ndarray, new_s: np.ndarray) -> None:
        tag_s = tag_s.copy()
        tag_s[:, n_old:] = -np.inf  # tag queries rank the catalogue
        nd = Q.ranked_scores(tag_s, truth)["ndcg@10"]
        hits = np.array([(np.argsort(-new_s[j])[:10] == n_old + j).any() for j in range(len(new))], dtype=float)
        results[name] = {"tag_ndcg@10": Q.summary(nd), "new_item_hit@10": round(float(hits.mean()), 3)}
        print(f"{name:32s} tag NDCG@10 {nd.mean():.4f}  new-item hit@10 {hits.mean():.3f}", file=sys.stderr, flush=True)

    with keep_loaded():
        emb = side.embed(texts)
        tq = side.encode_queries([q["tag"] for q in qs])
        nq = side.encode_queries([it["query"] for it in new])
        passages = {}
        for name, split in (("32-word windows", windows), ("sentences", sentences)):
            chunks, owner = [], []
            for i, t in enumerate(texts):
                for c in split(truncate_words(t, 128)):
                    chunks.append(c)
                    owner.append(i)
            t0 = time.perf_counter()
            passages[name] = (side.embed(chunks), np.asarray(owner))
            print(f"{name}: {len(chunks)} passages embedded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)

    def maxp(vecs: np.ndarray, owner: np.ndarray, q: np.ndarray) -> np.ndarray:
        s = q @ vecs.T
        out = np.full((len(q), len(texts)), -np.inf, np.float32)
        for r in range(len(q)):
            np.maximum.at(out[r], owner, s[r])
        return out

    def prf(q: np.ndarray, m: int, beta: float) -> np.ndarray:
        top = np.argsort(-(q @ emb.T), axis=1)[:, :m]
        q2 = q + beta * emb[top].mean(axis=1)
        return q2 / np.linalg.norm(q2, axis=1, keepdims=True)

    def rrf(*scores: np.ndarray, depth: int = 200) -> np.ndarray:
        out = np.zeros_like(scores[0])
        for s in scores:
            ranked = np.argsort(-s, axis=1)[:, :depth]
            for r in range(len(s)):
                out[r, ranked[r]] += 1.0 / (60 + np.arange(1, depth + 1))
        out[out == 0] = -np.inf
        return out

    full_t, full_n = tq @ emb.T, nq @ emb.T
    evaluate("full", full_t, full_n)
    for name, (vecs, owner) in passages.items():
        mt, mn = maxp(vecs, owner, tq), maxp(vecs, owner, nq)
        evaluate(f"{name}: maxp", mt, mn)
        evaluate(f"{name}: (full + maxp) / 2", (full_t + mt) / 2, (full_n + mn) / 2)
        mean = np.zeros_like(emb)
        np.add.at(mean, owner, vecs)
        mean /= np.linalg.norm(mean, axis=1, keepdims=True)
        evaluate(f"{name}: mean vector", tq @ mean.T, nq @ mean.T)
        both = emb + mean
        both /= np.linalg.norm(both, axis=1, keepdims=True)
        evaluate(f"{name}: full + mean vector", tq @ both.T, nq @ both.T)
    for m, beta in ((3, 0.3), (5, 0.5), (5, 1.0), (10, 0.5)):
        pt, pn = prf(tq, m, beta) @ emb.T, prf(nq, m, beta) @ emb.T
        evaluate(f"prf m={m} beta={beta}", pt, pn)
        evaluate(f"max(full, prf m={m} beta={beta})", np.maximum(full_t, pt), np.maximum(full_n, pn))
        evaluate(f"rrf(full, prf m={m} beta={beta})", rrf(full_t, pt), rrf(full_n, pn))
    def gated(q: np.ndarray, m: int, beta: float, p: float) -> np.ndarray:
        s = q @ emb.T
        best = -np.sort(-s, axis=1)
        top = np.argsort(-s, axis=1)[:, :m]
        q2 = q + (beta * (best[:, m - 1] / best[:, 0]) ** p)[:, None] * emb[top].mean(axis=1)
        return q2 / np.linalg.norm(q2, axis=1, keepdims=True)

    for m, beta, p in ((5, 0.5, 1), (5, 1.0, 4)):
        evaluate(f"gated prf m={m} beta={beta} p={p}", gated(tq, m, beta, p) @ emb.T, gated(nq, m, beta, p) @ emb.T)
    flat = {name: np.percentile(np.sort(q @ emb.T, axis=1)[:, -5] / (q @ emb.T).max(axis=1), [10, 50, 90]).round(3).tolist() for name, q in (("tag", tq), ("new items", nq))}
    results["s5 / s1 percentiles 10, 50, 90"] = flat
    print(f"s5 / s1: {flat}", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "text_query_ideas.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

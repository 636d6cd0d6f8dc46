"""Fusing BM25 with the encoder, and expanding queries by the encoder's nearest words, on both sets.

On the ml-1m hybrid of ``bench/text_queries.py``, text rankings without tiers or the model's
prior (what fusion alone does), scored as in ``bench/text_query_ideas.py``: tag NDCG@10 over the
catalogue, new-item hit@10 among the catalogue and the 34 new items (BM25 grown by them):

- dense alone (queries as encoded) and BM25 alone;
- reciprocal-rank fusion (k = 60, depth 200) with BM25 weighing 0.25, 0.5 or 1;
- score-level fusion: a convex combination of the per-query min-max normalised cosine and BM25
  score, BM25 weighing 0.1 to 0.5;
- query expansion for BM25: each query word that is not common (carried by at most 10% of the
  items) adds its ``m`` nearest catalogue words (words of 2+ items) by the encoder's embedding
  of the single words, cosine at least ``c``; BM25 of the expanded query alone and fused (RRF)
  with the dense ranking.

    python bench/query_fusion_ideas.py --model-dir DIR --cache DIR   # writes bench/results/query_fusion_ideas.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import queries as Q

RESULTS = ROOT / "results"


def minmax(s: np.ndarray) -> np.ndarray:
    lo, hi = s.min(axis=1, keepdims=True), s.max(axis=1, keepdims=True)
    return (s - lo) / np.maximum(hi - lo, 1e-9)


def rrf(rankings_scores: list[tuple[np.ndarray, float]], depth: int = 200, k: int = 60) -> np.ndarray:
    out = np.zeros_like(rankings_scores[0][0])
    for s, w in rankings_scores:
        for r in range(len(s)):
            ok = np.flatnonzero(s[r] > -np.inf)
            ranked = ok[np.argsort(-s[r, ok], kind="stable")][:depth]
            out[r, ranked] += w / (k + np.arange(1, len(ranked) + 1))
    return out


def main() -> None:
    from tailwise.text.lexical import tokenize
    from tailwise.text.side import keep_loaded

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab-cache", type=Path, default=None, help="a .npy file keeping the vocabulary's embeddings between runs")
    args, pipe, side, (qs, new, texts, truth) = Q.ideas_setup(__doc__, ap)
    n_old = len(pipe.items)
    ti = pipe.text_index()
    lex_old = ti.lexical
    lex = lex_old.grown(texts, np.empty(0, np.int64))
    tags = [q["tag"] for q in qs]
    paras = [it["query"] for it in new]
    results: dict[str, dict] = {}
    vocab = [w for w, j in lex_old.vocab.items() if lex_old.df[j] >= 2 and not w.isdigit()]
    with keep_loaded():
        emb = side.embed(texts)
        tq = side.encode_queries(tags)
        nq = side.encode_queries(paras)
        if args.vocab_cache and args.vocab_cache.exists():
            V = np.load(args.vocab_cache)
        else:
            V = np.concatenate([side.encode_queries(vocab[i : i + 1024]) for i in range(0, len(vocab), 1024)])
            if args.vocab_cache:
                np.save(args.vocab_cache, V)
        qwords = sorted({w for q in tags + paras for w in tokenize(q)})
        QW = dict(zip(qwords, side.encode_queries(qwords)))
    print(f"{len(vocab)} vocabulary words", file=sys.stderr)

    def bm25(queries: list[str], index) -> np.ndarray:
        out = np.full((len(queries), len(texts)), 0.0)
        for r, q in enumerate(queries):
            s, _ = index.scores(q)
            out[r, : len(s)] = s
        return out

    def expand(q: str, m: int, min_cos: float) -> str:
        words = tokenize(q)
        extra = []
        for w in words:
            if lex_old.df[lex_old.vocab[w]] > 0.1 * n_old if w in lex_old.vocab else False:
                continue  # common words are not expanded
            sims = V @ QW[w]
            best = np.argsort(-sims)[: m + 1]
            extra += [vocab[j] for j in best if sims[j] >= min_cos and vocab[j] != w][:m]
        return " ".join(words + extra)

    def evaluate(name: str, tag_s: np.ndarray, new_s: np.ndarray) -> None:
        tag_s = np.array(tag_s, dtype=np.float64)
        tag_s[:, n_old:] = -np.inf
        nd = Q.ranked_scores(tag_s, truth)["ndcg@10"]
        ranks = Q.ranks_of(np.asarray(new_s, np.float64), n_old + np.arange(len(new)))
        hits = (ranks <= 10).astype(float)
        results[name] = {"tag_ndcg@10": Q.summary(nd), "new_item_hit@10": round(float(hits.mean()), 3), "per_tag": nd.round(4).tolist(), "ranks": ranks.tolist()}
        print(f"{name:44s} tag NDCG@10 {nd.mean():.4f}  new-item hit@10 {hits.mean():.3f}", file=sys.stderr, flush=True)

    dt, dn = tq @ emb.T, nq @ emb.T
    dt[:, n_old:] = -np.inf
    bt, bn = bm25(tags, lex_old), bm25(paras, lex)
    evaluate("dense", dt, dn)
    evaluate("bm25", np.where(bt > 0, bt, -np.inf), np.where(bn > 0, bn, -np.inf))
    for w in (0.25, 0.5, 1.0):
        evaluate(f"rrf bm25 w={w}", rrf([(dt, 1.0), (np.where(bt > 0, bt, -np.inf), w)]), rrf([(dn, 1.0), (np.where(bn > 0, bn, -np.inf), w)]))
    for a in (0.1, 0.2, 0.3, 0.5):
        evaluate(f"minmax convex a={a}", (1 - a) * minmax(dt[:, :n_old]) + a * minmax(bt[:, :n_old]), (1 - a) * minmax(dn) + a * minmax(bn))
    for m, c in ((3, 0.5), (5, 0.5), (3, 0.6), (5, 0.4)):
        et = bm25([expand(q, m, c) for q in tags], lex_old)
        en = bm25([expand(q, m, c) for q in paras], lex)
        evaluate(f"bm25 expanded m={m} cos>={c}", np.where(et > 0, et, -np.inf), np.where(en > 0, en, -np.inf))
        for w in (0.5, 1.0):
            evaluate(f"  rrf dense + expanded w={w}", rrf([(dt, 1.0), (np.where(et > 0, et, -np.inf), w)]), rrf([(dn, 1.0), (np.where(en > 0, en, -np.inf), w)]))
        results[f"expansion examples m={m} cos>={c}"] = {q: expand(q, m, c) for q in (paras[6], "mafia")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "query_fusion_ideas.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Query-side maps learned from the catalogue (no labels), dense retrieval alone, on both query sets.

On the ml-1m hybrid of ``bench/text_queries.py`` (its item texts and encoder cache), dense
retrieval alone is scored on the tag queries (NDCG@10 over the catalogue) and on the 34 new
items (hit@10 and rank of each item for its paraphrase, among the catalogue and all new items,
as if added with ``add_items``; the maps are fitted on the catalogue only), for:

- ``plain``: queries as the encoder gives them;
- pseudo-queries cut from every catalogue text (its sentences of 4+ words and 3 random windows
  of 2-6 words, :func:`tailwise.text.querymap.pseudo_queries` without the cap), encoded as
  queries, target = the item's own text embedding:
  - ``full ridge``: a 512 x 512 map ``W`` minimising ``|P W - E|^2 + lam |W - I|^2`` (all
    pseudo-queries, sentences only, windows only; lam relative to ``n / d``);
  - ``score least squares``: a bilinear map fitted to the whole score matrix (the own item 1,
    every other catalogue item 0; closed form through the two eigenbases);
  - ``contrastive``: a full map by gradient steps on the softmax over the catalogue items
    (temperature 0.05), 10% of the items held out;
  - ``diagonal`` (what the library does, ``tailwise.text.querymap``): one least-squares weight
    per dimension; also with a ridge towards 1, from sentences or windows only, on 4,096
    pseudo-queries (the library's cap, two seeds) and with centred pseudo-queries and targets;
- centring (all-but-the-top): the catalogue's mean embedding removed from items and queries.

A held-out check needs no labels: 20% of the items' pseudo-queries are left out of a diagonal
fit and retrieve their own item among the catalogue (mean reciprocal rank, ``heldout_mrr``).

    python bench/query_map_ideas.py --model-dir DIR --cache DIR   # writes bench/results/query_map_ideas.json
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


def norm(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def ridge(p: np.ndarray, e: np.ndarray, lam: float) -> np.ndarray:
    """W minimising |p W - e|^2 + lam |W - I|^2 (rows are vectors)."""
    d = p.shape[1]
    return np.linalg.solve(p.T @ p + lam * np.eye(d), p.T @ e + lam * np.eye(d)).astype(np.float32)


def diagonal(p: np.ndarray, e: np.ndarray, lam: float = 0.0) -> np.ndarray:
    return ((p * e).sum(axis=0) + lam) / ((p * p).sum(axis=0) + lam)


def main() -> None:
    from tailwise.text.querymap import pseudo_queries
    from tailwise.text.side import keep_loaded
    from tailwise.text.template import truncate_words

    args, pipe, side, (qs, new, texts, truth) = Q.ideas_setup(__doc__)
    n_old = len(pipe.items)
    cat = [truncate_words(t, side.max_tokens) for t in pipe.item_text]
    pq, owner = pseudo_queries(cat, seed=0, max_pairs=10**9)
    sentences = [{x.strip() for x in re.split(r"(?<=[.!?])\s*", t)} for t in cat]
    is_sentence = np.array([t in sentences[i] for t, i in zip(pq, owner.tolist())])
    with keep_loaded():
        emb = side.embed(texts)
        tq = side.encode_queries([q["tag"] for q in qs])
        nq = side.encode_queries([it["query"] for it in new])
        t0 = time.perf_counter()
        P = np.concatenate([side.encode_queries(pq[i : i + 512]) for i in range(0, len(pq), 512)])
        print(f"{len(pq)} pseudo-queries encoded in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    E, cat_emb = emb[owner], emb[:n_old]
    results: dict[str, dict] = {"n_pseudo_queries": {"n": len(pq)}}

    def evaluate(name: str, tq_: np.ndarray, nq_: np.ndarray, items: np.ndarray = emb) -> None:
        tag_s = tq_ @ items.T
        tag_s[:, n_old:] = -np.inf  # tag queries rank the catalogue
        nd = Q.ranked_scores(tag_s, truth)["ndcg@10"]
        ranks = Q.ranks_of(nq_ @ items.T, n_old + np.arange(len(new)))
        results[name] = {"tag_ndcg@10": Q.summary(nd), "new_item_hit@10": round(float((ranks <= 10).mean()), 3),
                         "new_item_ranks_over_10": sorted(ranks[ranks > 10].tolist())}  # fmt: skip
        print(f"{name:46s} tag NDCG@10 {nd.mean():.4f}  new-item hit@10 {(ranks <= 10).mean():.3f}", file=sys.stderr, flush=True)

    evaluate("plain", tq, nq)
    scale = len(P) / P.shape[1]
    for lam in (0.1, 1.0, 3.0):
        for sel, nm in ((slice(None), "all"), (is_sentence, "sentences"), (~is_sentence, "windows")):
            W = ridge(P[sel], E[sel], lam * scale)
            evaluate(f"full ridge, {nm}, lam={lam}", norm(tq @ W), norm(nq @ W))
    a, U = np.linalg.eigh(P.T @ P)
    b, V = np.linalg.eigh(cat_emb.T @ cat_emb)
    for lam in (0.01, 1.0, 10.0):
        lam_abs = lam * len(P) * n_old / P.shape[1] ** 2
        M = U @ ((U.T @ (P.T @ E + lam_abs * np.eye(len(a))) @ V) / (np.outer(a, b) + lam_abs)) @ V.T
        evaluate(f"score least squares, lam={lam}", tq @ M, nq @ M)
    rng = np.random.default_rng(0)
    train = ~(rng.random(n_old) < 0.1)[owner]
    W = np.eye(P.shape[1], dtype=np.float32)
    for step in range(1, 31):
        idx = rng.choice(np.flatnonzero(train), 2048, replace=False)
        z = (P[idx] @ W) @ cat_emb.T / 0.05
        z = np.exp(z - z.max(axis=1, keepdims=True))
        z /= z.sum(axis=1, keepdims=True)
        z[np.arange(len(idx)), owner[idx]] -= 1
        W -= 0.5 * P[idx].T @ (z @ cat_emb) / 0.05 / len(idx)
        if step in (1, 10, 30):
            evaluate(f"contrastive, {step} steps", tq @ W, nq @ W)
    for lam in (0.0, 0.1, 1.0):
        for sel, nm in ((slice(None), "all"), (is_sentence, "sentences"), (~is_sentence, "windows")):
            w = diagonal(P[sel], E[sel], lam * scale)
            evaluate(f"diagonal, {nm}, lam={lam}", norm(tq * w), norm(nq * w))
    for seed in (0, 1):
        s = np.random.default_rng(seed).choice(len(P), 4096, replace=False)
        w = diagonal(P[s], E[s])
        evaluate(f"diagonal, 4096 pseudo-queries, seed {seed}", norm(tq * w), norm(nq * w))
    w = diagonal(P - P.mean(axis=0), E - E.mean(axis=0))
    evaluate("diagonal of centred pseudo-queries/targets", norm(tq * w), norm(nq * w))
    mu = cat_emb.mean(axis=0)
    evaluate("centred items and queries", norm(tq - mu), norm(nq - mu), norm(emb - mu))
    held = np.random.default_rng(1).random(n_old) < 0.2
    out = np.flatnonzero(held[owner])
    fit = ~held[owner]

    def mrr(w: np.ndarray) -> float:
        return round(float(np.mean(1.0 / Q.ranks_of(norm(P[out] * w) @ cat_emb.T, owner[out]))), 4)

    results["heldout_mrr"] = {"plain": mrr(np.ones(P.shape[1])), **{f"diagonal, lam={lam}": mrr(diagonal(P[fit], E[fit], lam * scale)) for lam in (0.0, 0.1, 1.0)}}
    print(f"held-out pseudo-queries, MRR: {results['heldout_mrr']}", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "query_map_ideas.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()

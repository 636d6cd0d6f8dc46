"""What a text query costs on a million-item catalogue: the BM25 index and the dense side's
vector index, measured directly (no model, no HTTP).

1. **BM25** over the titles of ``bench/large_log.py``'s large preset (1M items, 8-12 words each,
   made in memory; no file written): the build (tokenising every title), the saved arrays
   (``BM25.state``, written to an ``.npz`` in a temporary folder as ``Pipeline.save`` does,
   then read back with ``BM25.from_state``, as the first query of a loaded pipeline does) and
   the cost of scoring one query (2 or 3 words of a random title).
2. **Text match** (``TextIndex.match``: BM25, the dense side, the fusion and the relevance cut)
   with the dense side through an HNSW graph (``tailwise.index.ANNIndex``) and, for
   comparison, by scoring every item; the graph search, BM25 and the query encoding are also
   timed alone, round robin with the whole match. Encoding a million titles with the real encoder takes 20
   minutes or more on 2 cores, so the item vectors are *synthetic* (topic-clustered unit vectors
   of ``--dim`` dimensions, ``synthetic_catalog.py``'s recipe) and queries are encoded by the hash
   encoder of that dimension: the costs are those of the real path, the rankings are not.
   The real encoder's query encoding (about 2 ms on ml-1m, ``text_queries.py``) comes on top.

    python bench/text_index_scale.py                      # writes bench/results/text_index_scale.json
    python bench/text_index_scale.py --n-items 100000     # a quicker look
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentiles(ms: list[float]) -> dict:
    return {"p50_ms": round(float(np.median(ms)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(np.max(ms)), 2)}


def timed(call, args: list) -> dict:
    call(args[0])
    ms = []
    for a in args:
        t0 = time.perf_counter()
        call(a)
        ms.append(1000 * (time.perf_counter() - t0))
    return percentiles(ms)


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator, n_topics: int = 1000) -> np.ndarray:
    centres = rng.standard_normal((n_topics, dim)).astype(np.float32)
    out = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        m = min(100_000, n - s)
        out[s : s + m] = centres[rng.integers(0, n_topics, m)] + 0.8 * rng.standard_normal((m, dim)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-items", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64, help="dimension of the synthetic item vectors (default 64)")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import os

    import large_log

    from tailwise.artifacts import read_arrays
    from tailwise.index import ANNIndex
    from tailwise.text.index import TextIndex
    from tailwise.text.lexical import BM25
    from tailwise.text.side import TextSide, keep_loaded

    rng = np.random.default_rng(args.seed)
    res: dict = {"n_items": args.n_items, "dim": args.dim, "queries": args.queries, "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()}
    t0 = time.perf_counter()
    titles = large_log.make_catalogue(large_log.Spec(n_items=args.n_items, seed=args.seed), rng).titles
    log(f"{len(titles)} titles in {time.perf_counter() - t0:.1f}s, e.g. {titles[0]!r}")
    picks = rng.integers(0, len(titles), args.queries)
    queries = [" ".join(rng.choice(titles[i].split(), size=int(rng.integers(2, 4)), replace=False)) for i in picks]

    t0 = time.perf_counter()
    bm25 = BM25(titles)
    res["bm25_build_s"] = round(time.perf_counter() - t0, 1)
    log(f"BM25 built in {res['bm25_build_s']}s ({len(bm25.vocab)} words)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lexical.npz"
        t0 = time.perf_counter()
        np.savez(path, **bm25.state())
        res["bm25_save_s"] = round(time.perf_counter() - t0, 1)
        res["bm25_file_mb"] = round(path.stat().st_size / 2**20, 1)
        t0 = time.perf_counter()
        bm25 = BM25.from_state(read_arrays(path))
        res["bm25_load_s"] = round(time.perf_counter() - t0, 1)
    log(f"BM25 saved in {res['bm25_save_s']}s ({res['bm25_file_mb']} MB), read back in {res['bm25_load_s']}s")
    res["bm25_query"] = timed(bm25.scores, queries)
    log(f"BM25 query: {res['bm25_query']}")

    emb = synthetic_vectors(len(titles), args.dim, rng)
    side = TextSide(f"hash:{args.dim}", progress=False)
    with keep_loaded():
        exact = TextIndex(side, titles, emb, bm25)
        res["match_exact_dense"] = timed(exact.match, queries)
        log(f"match, dense side scoring every item: {res['match_exact_dense']}")
        t0 = time.perf_counter()
        ann = ANNIndex(progress=False).build(emb)
        res["ann_build_s"] = round(time.perf_counter() - t0, 1)
        log(f"ANN built in {res['ann_build_s']}s")
        through = TextIndex(side, titles, emb, bm25, ann)
        qv = side.encode_queries(queries)
        parts = {"match_ann_dense": lambda j: through.match(queries[j]), "ann_search_alone": lambda j: ann.search(qv[j][None, :], 200),
                 "bm25_matches_alone": lambda j: bm25.matches(queries[j]), "query_encoding_alone": lambda j: side.encode_queries([queries[j]])}  # fmt: skip
        ms: dict[str, list[float]] = {name: [] for name in parts}
        for j in range(len(queries)):  # round robin: a busy spell of the machine hits every part alike
            for name, call in parts.items():
                t0 = time.perf_counter()
                call(j)
                ms[name].append(1000 * (time.perf_counter() - t0))
        for name, got in ms.items():
            res[name] = percentiles(got)
            log(f"{name}: {res[name]}")
        agree = [len(set(exact.match(q).items[:10].tolist()) & set(through.match(q).items[:10].tolist())) / 10 for q in queries[:100]]
        res["top10_overlap_ann_vs_exact"] = round(float(np.mean(agree)), 3)
    res["load_avg_end"] = os.getloadavg()
    log(json.dumps(res))
    RESULTS.mkdir(exist_ok=True)
    name = "text_index_scale.json" if args.n_items == 1_000_000 else f"text_index_scale-{args.n_items}.json"
    (RESULTS / name).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

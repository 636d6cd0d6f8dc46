"""Text queries on ml-1m: BM25 alone, dense alone, their fusion, and the query path of lists.

On a hybrid fitted on all of ml-1m (fitted into ``--model-dir`` once, then loaded):

a. tag queries (``bench/queries.py``): NDCG@10 and precision@10 of BM25 alone, dense retrieval
   alone (cosine with the query's embedding as the encoder gives it, and through the query map
   of ``tailwise.text.querymap`` as the library uses it), the fused text ranking (``TextIndex.match``:
   relevant items first) and the anonymous query path (``Pipeline.recommend_query``), with 95%
   bootstrap intervals over queries and paired differences;
b. known users with a tag query (two training users per query, seed 0, ``Pipeline.recommend``
   with ``query=``): precision@10 against the anonymous one, and the mean Jaccard overlap of the
   two users' top 10;
c. new items (``bench/new_items.json``): all 34 added to a copy of the pipeline with
   ``Pipeline.add_items`` (no refit); the share found in the top 10 of the anonymous query path
   for their paraphrased query, and the share of the tag queries' top-10 slots they take;
d. time per query list (anonymous), median and p99, against a history list of 10 items;
e. the query map (``tailwise.text.querymap``) switched off: the query path's tag NDCG@10 (paired
   with the map on) and new-item hit@10 without it; and with maps fitted on other seeded samples
   of pseudo-queries (seeds 1-4; the library's is seed 0).

``--sweep`` instead measures the anonymous query path's tag NDCG@10 and new-item hit@10 for each
pair of the fusion's lexical weight and the prior's weight (how the defaults were chosen), and
``--cutoff-sweep`` for settings of the relevance cutoff (one constant at a time).

    python bench/text_queries.py --model-dir DIR --cache DIR   # writes bench/results/text_queries.json
    python bench/text_queries.py --model-dir DIR --cache DIR --sweep   # writes text_queries-sweep.json
    python bench/text_queries.py --model-dir DIR --cache DIR --cutoff-sweep   # writes text_queries-cutoff.json
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import queries as Q

RESULTS = ROOT / "results"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pipeline(model_dir: Path, cache: str):
    from tailwise.data import load_movielens
    from tailwise.models import Hybrid
    from tailwise.pipeline import Pipeline

    if not (model_dir / "manifest.json").exists():
        log("fitting the hybrid on ml-1m")
        Pipeline.fit(Hybrid(cache_dir=cache), load_movielens(Q.DATA / "ml-1m")).save(model_dir)
    return Pipeline.load(model_dir)


def as_scores(lists: list[np.ndarray], n: int) -> np.ndarray:
    """Rows of ranked item lists as scores (higher = earlier) for :func:`queries.ranked_scores`."""
    out = np.full((len(lists), n), -np.inf)
    for r, items in enumerate(lists):
        items = items[items >= 0]
        out[r, items] = -np.arange(len(items), dtype=np.float64)
    return out


def paired(a: np.ndarray, b: np.ndarray) -> dict:
    return Q.summary(np.asarray(a) - np.asarray(b))


def tag_queries(pipe) -> tuple[dict, dict]:
    from tailwise.text.index import _top

    qs = Q.tag_queries()
    n = len(pipe.items)
    at = {str(i): j for j, i in enumerate(pipe.items.ids.tolist())}
    truth = Q.relevance([[at[str(m)] for m in q["relevant"]] for q in qs], n)
    tags = [q["tag"] for q in qs]
    ti = pipe.text_index()
    ranked = {
        "bm25": [_top(np.where((s := ti.lexical.scores(t)[0]) > 0, s, -np.inf), 10) for t in tags],
        "dense": [_top(ti.emb @ ti.side.encode_queries([t])[0], 10) for t in tags],
        "dense, query map": [_top(ti.scores(t), 10) for t in tags],
        "fused text": [ti.match(t).items[:10] for t in tags],
        "query path": [pipe.recommend_query(t, k=10).items[0] for t in tags],
    }
    per = {name: Q.ranked_scores(as_scores(lists, n), truth) for name, lists in ranked.items()}
    out = {name: {m: Q.summary(v) for m, v in p.items()} for name, p in per.items()}
    for name in ("bm25", "dense", "dense, query map", "fused text"):
        out["query path"][f"ndcg@10 - {name}"] = paired(per["query path"]["ndcg@10"], per[name]["ndcg@10"])
    out["fused text"]["ndcg@10 - dense"] = paired(per["fused text"]["ndcg@10"], per["dense"]["ndcg@10"])
    out["dense, query map"]["ndcg@10 - dense"] = paired(per["dense, query map"]["ndcg@10"], per["dense"]["ndcg@10"])
    out["n_relevant"] = {t: ti.match(t).n_relevant for t in tags}
    for name, r in out.items():
        log(f"tag queries, {name}: {r if name != 'n_relevant' else ''}")
    return out, {"tags": tags, "truth": truth, "anonymous": per["query path"]}


def known_users(pipe, tags: list[str], truth, anonymous: dict) -> dict:
    rng = np.random.default_rng(0)
    n = len(pipe.items)
    prec, jac = [], []
    for q, tag in enumerate(tags):
        users = rng.choice(len(pipe.users), size=2, replace=False)
        lists = pipe.recommend([str(pipe.users.ids[u]) for u in users], k=10, query=tag)
        p = Q.ranked_scores(as_scores(list(lists.items), n), truth[[q, q]])["precision@10"]
        prec.append(p.mean())
        a, b = (set(r[r >= 0].tolist()) for r in lists.items)
        jac.append(len(a & b) / max(len(a | b), 1))
    ratio = float(np.mean(prec) / max(anonymous["precision@10"].mean(), 1e-9))
    out = {"precision@10": Q.summary(np.array(prec)), "anonymous precision@10": Q.summary(anonymous["precision@10"]),
           "ratio": round(ratio, 3), "mean jaccard of two users' top 10": Q.summary(np.array(jac))}  # fmt: skip
    log(f"known users: {out}")
    return out


def new_items(pipe, tags: list[str]) -> dict:
    items = Q.new_items()
    grown = copy.copy(pipe)
    t0 = time.perf_counter()
    grown.add_items([it["id"] for it in items], [it["text"] for it in items])
    added_s = time.perf_counter() - t0
    n_old = len(pipe.items)
    ranks = []
    for j, it in enumerate(items):
        got = grown.recommend_query(it["query"], k=10).items[0].tolist()
        ranks.append(got.index(n_old + j) + 1 if n_old + j in got else 11)
    ranks = np.array(ranks)
    ti = grown.text_index()
    own = n_old + np.arange(len(items))
    dense = {  # the new item's rank by the dense side alone, among the catalogue and the new items
        "dense": Q.ranks_of(np.stack([ti.emb @ ti.side.encode_queries([it["query"]])[0] for it in items]), own),
        "dense, query map": Q.ranks_of(np.stack([ti.scores(it["query"]) for it in items]), own),
    }
    slots = np.array([(grown.recommend_query(t, k=10).items[0] >= n_old).sum() for t in tags])
    out = {
        "n": len(items), "add_items_seconds": round(added_s, 2), "hit@10": Q.summary((ranks <= 10).astype(float)),
        "ranks (11 = not in top 10)": dict(zip((it["id"] for it in items), ranks.tolist())),
        **{f"{name} alone: hit@10": Q.summary((r <= 10).astype(float)) for name, r in dense.items()},
        **{f"{name} alone: ranks": dict(zip((it["id"] for it in items), r.tolist())) for name, r in dense.items()},
        "share of tag-query top-10 slots taken by new items": round(float(slots.sum() / (10 * len(tags))), 4),
    }  # fmt: skip
    log(f"new items: hit@10 {out['hit@10']}, dense alone {out['dense alone: hit@10']}, through the map {out['dense, query map alone: hit@10']}, tag slots {out['share of tag-query top-10 slots taken by new items']}")
    return out


def without_map(pipe, ctx: dict) -> dict:
    """The anonymous query path with the query map switched off (queries as encoded), on both
    sets, against the same path with it (``ctx["anonymous"]``: the tag queries' scores)."""
    index = pipe.text_index()
    weights, index.query_map = index.query_map, None
    try:
        n = len(pipe.items)
        per = Q.ranked_scores(as_scores([pipe.recommend_query(t, k=10).items[0] for t in ctx["tags"]], n), ctx["truth"])
        items = Q.new_items()
        grown = copy.copy(pipe)
        grown.add_items([it["id"] for it in items], [it["text"] for it in items])
        hit = np.array([n + j in grown.recommend_query(it["query"], k=10).items[0] for j, it in enumerate(items)], float)
    finally:
        index.query_map = weights
    out = {
        "query path ndcg@10": Q.summary(per["ndcg@10"]),
        "query path ndcg@10: with the map - without": paired(ctx["anonymous"]["ndcg@10"], per["ndcg@10"]),
        "new items hit@10": Q.summary(hit),
    }
    log(f"without the query map: {out}")
    return out


def map_seeds(pipe, ctx: dict) -> dict:
    """The anonymous query path on both sets with the query map fitted on other seeded samples
    of pseudo-queries (how much the library's seed 0 owes to its sample)."""
    from tailwise.text.querymap import fit_query_map

    index = pipe.text_index()
    kept = index.query_map
    n = len(pipe.items)
    items = Q.new_items()
    out = {}
    try:
        for seed in (1, 2, 3, 4):
            index.query_map = fit_query_map(index.side.encode_queries, pipe.item_text, index.emb, index.side.max_tokens, seed=seed)
            nd = Q.ranked_scores(as_scores([pipe.recommend_query(t, k=10).items[0] for t in ctx["tags"]], n), ctx["truth"])["ndcg@10"]
            grown = copy.copy(pipe)
            grown.add_items([it["id"] for it in items], [it["text"] for it in items])
            hit = np.mean([n + j in grown.recommend_query(it["query"], k=10).items[0] for j, it in enumerate(items)])
            out[f"seed {seed}"] = {"tag ndcg@10": round(float(nd.mean()), 4), "new items hit@10": round(float(hit), 4)}
    finally:
        index.query_map = kept
    log(f"query map seeds: {out}")
    return out


def timing(pipe, tags: list[str]) -> dict:
    """Time per list, in process, one BLAS thread (as the service runs), round robin over the
    tag queries so that a busy spell of the machine hits every case alike: an anonymous query
    against a 10-item history, and a training user with a query against the same user alone.
    The query cases forget the recent queries' embeddings first (every query encoded, as a
    query not asked before), except "user + repeated query" (its embedding kept)."""
    from threadpoolctl import threadpool_limits

    hist = [str(i) for i in pipe.items.ids[:10]]
    users = [str(u) for u in pipe.users.ids[np.random.default_rng(1).integers(0, len(pipe.users), len(tags))]]
    recent = pipe.text_index().recent
    cases = {
        "query": lambda j: (recent.clear(), pipe.recommend_query(tags[j], k=10)),
        "history": lambda j: pipe.recommend_history(hist, k=10),
        "user": lambda j: pipe.recommend([users[j]], k=10),
        "user + query": lambda j: (recent.clear(), pipe.recommend([users[j]], k=10, query=tags[j])),
        "user + repeated query": lambda j: pipe.recommend([users[j]], k=10, query=tags[j]),
    }
    ms: dict[str, list[float]] = {name: [] for name in cases}
    with threadpool_limits(1, "blas"):
        for call in cases.values():
            call(0)
        for _ in range(3):
            for j in range(len(tags)):
                for name, call in cases.items():
                    t0 = time.perf_counter()
                    call(j)
                    ms[name].append(1000 * (time.perf_counter() - t0))
    out = {name: {"median_ms": round(float(np.median(v)), 2), "p99_ms": round(float(np.percentile(v, 99)), 2)} for name, v in ms.items()}
    out["load_avg"] = [round(x, 2) for x in __import__("os").getloadavg()]
    log(f"timing: {out}")
    return out


def sweep(pipe, grid: list[dict[str, float]]) -> list[dict]:
    """The anonymous query path's tag NDCG@10 and new-item hit@10 for each setting of `grid`:
    values of module constants of ``tailwise.text.index`` (``TI.NAME``) and
    ``tailwise.pipeline.query`` (``PQ.NAME``), restored afterwards."""
    import tailwise.pipeline.query as PQ
    import tailwise.text.index as TI

    modules = {"TI": TI, "PQ": PQ}
    qs, items, _, _ = Q.both_sets(pipe)
    n = len(pipe.items)
    at = {str(i): j for j, i in enumerate(pipe.items.ids.tolist())}
    truth = Q.relevance([[at[str(m)] for m in q["relevant"]] for q in qs], n)
    pipe.text_index()  # built (its query map fitted) on the catalogue, then grown by the new items
    grown = copy.copy(pipe)
    grown.add_items([it["id"] for it in items], [it["text"] for it in items])
    out = []
    for setting in grid:
        saved = {key: getattr(modules[key[:2]], key[3:]) for key in setting}
        try:
            for key, value in setting.items():
                setattr(modules[key[:2]], key[3:], value)
            per = Q.ranked_scores(as_scores([pipe.recommend_query(q["tag"], k=10).items[0] for q in qs], n), truth)
            n_relevant = [pipe.text_match(q["tag"]).n_relevant for q in qs]
            hit = [n + j in grown.recommend_query(it["query"], k=10).items[0] for j, it in enumerate(items)]
        finally:
            for key, value in saved.items():
                setattr(modules[key[:2]], key[3:], value)
        out.append({**setting, "tag_ndcg@10": Q.summary(per["ndcg@10"]), "tag_p@10": round(float(per["precision@10"].mean()), 4),
                    "new_item_hit@10": round(float(np.mean(hit)), 4), "median relevant": float(np.median(n_relevant))})  # fmt: skip
        log(str(out[-1]))
    return out


#: the fusion's lexical weight x the prior's weight (how the defaults were chosen, first round)
WEIGHTS = [{"TI.LEXICAL_WEIGHT": lw, "PQ.PRIOR_WEIGHT": pw} for lw in (0.25, 0.5, 1.0) for pw in (0.0, 0.5, 1.0, 2.0, 4.0)]
#: the relevance cutoff: how many of the dense side's closest items may be relevant, the least
#: cosine, and the most relevant items of a query
CUTOFF = (
    [{"TI.DENSE_RELEVANT": d} for d in (10, 20, 50)]
    + [{"TI.MIN_COSINE": c} for c in (0.18, 0.22, 0.26)]
    + [{"TI.MAX_RELEVANT": m} for m in (20, 50, 100)]
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="the fitted ml-1m hybrid (fitted there when missing)")
    ap.add_argument("--cache", required=True, help="encoder cache directory for the fit")
    ap.add_argument("--sweep", action="store_true", help="the fusion and prior weights' sweep instead")
    ap.add_argument("--cutoff-sweep", action="store_true", help="the relevance cutoff's sweep instead")
    args = ap.parse_args()
    from tailwise.text.side import keep_loaded

    with keep_loaded():  # one loaded encoder for every query, as in the service
        run(args)


def run(args: argparse.Namespace) -> None:
    pipe = pipeline(args.model_dir, args.cache)
    RESULTS.mkdir(exist_ok=True)
    if args.sweep or args.cutoff_sweep:
        name, grid = ("sweep", WEIGHTS) if args.sweep else ("cutoff", CUTOFF)
        (RESULTS / f"text_queries-{name}.json").write_text(json.dumps(sweep(pipe, grid), indent=1) + "\n")
        return
    res: dict = {"catalogue": len(pipe.items)}
    res["tag_queries"], ctx = tag_queries(pipe)
    res["known_users"] = known_users(pipe, ctx["tags"], ctx["truth"], ctx["anonymous"])
    res["new_items"] = new_items(pipe, ctx["tags"])
    res["timing"] = timing(pipe, ctx["tags"])
    res["without the query map"] = without_map(pipe, ctx)
    res["query map seeds"] = map_seeds(pipe, ctx)
    (RESULTS / "text_queries.json").write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

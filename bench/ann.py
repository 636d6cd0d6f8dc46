"""ANN index against exact scoring on a synthetic 1M-item catalogue: build time, memory,
recall@20 and the latency of single-user queries as the service issues them.

    python bench/ann.py [--n-items 1000000] [--queries 1000] [--real ml-1m]

The catalogue is ``bench/synthetic_catalog.py``'s (ALS-like factors, 64 dimensions, popularity
skew, 20,000 users with histories; seed 0). For `--queries` users drawn at random (seed 1):

- recall@20 of the ANN lists against exact search, both excluding the user's history;
- latency of the pipeline's candidate stage through an index (user vector, search, exclusion)
  one user at a time, exact
  and ANN, and of ``Pipeline.recommend([user_id], k=20)``, what ``GET /recommend`` runs;
- an ``ef_search`` sweep (recall and latency), and the whitelist paths (a random half of the
  catalogue allowed; 10,000 items allowed, which are scored exactly).

`--real` adds a check on real factors: ALS fitted on that dataset (``../shared/data/NAME``),
recall@20 of a forced ANN index against exact for every user. Writes
``bench/results/ann-<n>.json`` (``ann-1m.json`` for a million items).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from synthetic_catalog import Spec, make_catalog, make_pipeline

K = 20


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summary(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "mean_ms": round(float(ms.mean()), 3),
        "max_ms": round(float(ms.max()), 3),
    }


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f[f >= 0]) & set(t[t >= 0])) / max(1, (t >= 0).sum()) for f, t in zip(found, truth)]
    return round(float(np.mean(hits)), 4)


def timed(fn, users, warmup: int = 20) -> list[float]:
    for u in users[:warmup]:
        fn(u)
    out = []
    for u in users:
        t0 = time.perf_counter()
        fn(u)
        out.append(time.perf_counter() - t0)
    return out


def lists(index, model, users, history, allowed=None) -> np.ndarray:
    rows = history[users]
    return index.search(model.user_factors(users, rows), K, exclude=rows, allowed=allowed)[0]


def synthetic(args) -> dict:
    from tailwise.index import ANNIndex, ExactIndex
    from tailwise.pipeline import stages

    def recommend_by_index(model, index, users, rows, k, candidates=None):
        return stages.run(model, index, users, rows, k, None, None, k, candidates)

    spec = Spec(n_items=args.n_items, n_users=args.n_users)
    t0 = time.perf_counter()
    catalog = make_catalog(spec)
    pipe = make_pipeline(catalog, spec, index="exact")  # no index yet: the model scores all items
    gen_s = time.perf_counter() - t0
    model, history = pipe.model, pipe.history
    vectors = model.item_factors()
    exact = ExactIndex().build(vectors)
    print(f"catalogue: {len(vectors):,} items x {vectors.shape[1]} in {gen_s:.1f} s", flush=True)

    before = rss_mb()
    t0 = time.perf_counter()
    ann = ANNIndex(progress=True).build(vectors)
    build_s = time.perf_counter() - t0
    grown_mb = rss_mb() - before
    with tempfile.TemporaryDirectory() as tmp:
        ann.save(Path(tmp) / "index")
        disk_mb = sum(f.stat().st_size for f in (Path(tmp) / "index").iterdir()) / 2**20
        t0 = time.perf_counter()
        ANNIndex.load(Path(tmp) / "index")
        load_s = time.perf_counter() - t0
    print(f"ANN build {build_s:.0f} s, +{grown_mb:.0f} MB resident, {disk_mb:.0f} MB on disk", flush=True)

    rng = np.random.default_rng(1)
    users = rng.choice(len(catalog.users), args.queries, replace=False)
    truth = np.vstack([lists(exact, model, users[s : s + 100], history) for s in range(0, len(users), 100)])
    found = lists(ann, model, users, history)

    def one(index):
        return lambda u: recommend_by_index(model, index, np.array([u]), history[u : u + 1], k=K)

    lat_exact = timed(one(exact), users)
    lat_ann = timed(one(ann), users)
    ids = [str(pipe.users.id(u)) for u in users]
    pipe.index = None
    lat_pipe_exact = timed(lambda u: pipe.recommend([u], k=K), ids[: max(100, len(ids) // 4)])
    pipe.index = ann
    lat_pipe_ann = timed(lambda u: pipe.recommend([u], k=K), ids)
    print(f"recall@20 {recall(found, truth)}; exact p99 {summary(lat_exact)['p99_ms']} ms, "
          f"ANN p99 {summary(lat_ann)['p99_ms']} ms", flush=True)

    params, sweep = ann._params(), []
    for ef in (128, 256, 512, 1024):
        ann.ef_search = ef
        sub = users[:300]
        sweep.append({"ef_search": ef, "recall_at_20": recall(lists(ann, model, sub, history), truth[:300]),
                      **summary(timed(one(ann), sub))})
    ann.ef_search = params["ef_search"]

    half = rng.random(len(vectors)) < 0.5
    small = np.zeros(len(vectors), bool)
    small[rng.choice(len(vectors), 10_000, replace=False)] = True
    filters = {}
    for name, allowed in (("half_allowed", half), ("10k_allowed", small)):
        sub = users[:300]
        want = np.vstack([lists(exact, model, sub[s : s + 100], history, allowed) for s in range(0, 300, 100)])
        got = lists(ann, model, sub, history, allowed)
        cand = np.flatnonzero(allowed)

        def fn(u, cand=cand):
            return recommend_by_index(model, ann, np.array([u]), history[u : u + 1], k=K, candidates=cand)

        filters[name] = {"recall_at_20": recall(got, want), "only_allowed": bool(allowed[got[got >= 0]].all()),
                         **summary(timed(fn, sub))}

    return {
        "catalogue": {**{k: v for k, v in vars(spec).items()}, "interactions": int(history.nnz), "generate_s": round(gen_s, 1)},
        "ann_params": params,
        "build_s": round(build_s, 1),
        "load_s": round(load_s, 2),
        "memory_mb": {"item_vectors": round(vectors.nbytes / 2**20, 1), "ann_resident_growth": round(grown_mb, 1),
                      "ann_on_disk": round(disk_mb, 1)},
        "queries": len(users),
        "recall_at_20": recall(found, truth),
        "latency": {"exact": summary(lat_exact), "ann": summary(lat_ann),
                    "pipeline_exact": summary(lat_pipe_exact), "pipeline_ann": summary(lat_pipe_ann)},
        "ef_search_sweep": sweep,
        "whitelist": filters,
    }


def real(name: str) -> dict:
    from tailwise.data import load_amazon, load_movielens
    from tailwise.index import ANNIndex, ExactIndex
    from tailwise.models import ALS

    path = ROOT.parent.parent / "shared" / "data" / name
    ds = (load_movielens if name.startswith("ml-") else load_amazon)(path)
    model = ALS().fit(ds)
    history, users = ds.matrix(), np.arange(ds.n_users)
    exact = ExactIndex().build(model.item_factors())
    ann = ANNIndex(progress=False).build(model.item_factors())
    truth, found = lists(exact, model, users, history), lists(ann, model, users, history)
    return {"dataset": name, "items": ds.n_items, "users": ds.n_users, "recall_at_20": recall(found, truth)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-items", type=int, default=1_000_000)
    ap.add_argument("--n-users", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--real", default="ml-1m", help="dataset for the real-factor check ('' = skip)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import faiss

    out = {
        "machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg(), "python": platform.python_version(),
                    "numpy": np.__version__, "faiss": faiss.__version__},
        "synthetic": synthetic(args),
    }
    if args.real:
        out["real"] = real(args.real)
        print(f"real factors ({args.real}): recall@20 {out['real']['recall_at_20']}", flush=True)
    out["machine"]["load_avg_at_end"] = os.getloadavg()
    n = args.n_items
    label = f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)
    path = args.out or ROOT / "results" / f"ann-{label}.json"
    from tailwise.artifacts import atomic_write_text

    atomic_write_text(path, json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

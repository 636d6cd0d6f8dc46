"""Free-text queries on ml-1m, built from shared data only, and their scores.

Two query sets, importable by any benchmark:

* **tag queries** (:func:`tag_queries`): the tags users applied in ml-latest-small's
  ``tags.csv``, mapped to ml-1m movies by title and year, lower-cased, kept when at least 5 ml-1m
  movies carry them and the tag describes the film (not "in netflix queue"). The query is
  the tag; the relevant items are the movies carrying it. ml-1m item text (title, genres,
  director, actors, plot) contains no tags. Written to ``bench/tag_queries.json``.
* **new items** (:func:`new_items`): ``bench/new_items.json``, hand-written fictional films in
  the style of ml-1m item text, each with a paraphrased query that shares at most two content
  words with the item's text (checked by :func:`check_new_items`).

Scores: :func:`ranked_scores` gives NDCG@10 and precision@10 per query (the library's metric
functions) and :func:`bootstrap_ci` a 95% interval of their mean over queries.

    python bench/queries.py        # rebuild bench/tag_queries.json and check bench/new_items.json
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"
TAG_QUERIES = ROOT / "tag_queries.json"
NEW_ITEMS = ROOT / "new_items.json"
MIN_MOVIES = 5
#: tags that say where a film sits in someone's lists or how they rated it, not what it is
NOT_DESCRIPTIVE = frozenset({"in netflix queue", "imdb top 250", "bad", "classic"})
_ARTICLES = r"The|A|An|La|Le|Les|L'|Il|El|Das|Der|Die"
_STOPWORD_TEXT = """
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me
more most my myself no nor not now of off on once only or other our ours out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will
with would you your yours film films movie movies story one two who's it's
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


# --------------------------------------------------------------------------- tag queries
def title_key(title: str) -> tuple[str, str] | None:
    """(normalised title, year) of a MovieLens title such as ``"Blue Angel, The (Blaue Engel,
    Der) (1930)"``; None without a year.

    >>> title_key("American President, The (1995)")
    ('the american president', '1995')
    >>> title_key("City of Lost Children, The (Cité des enfants perdus, La) (1995)")
    ('the city of lost children', '1995')
    """
    m = re.match(r"^(.*?)\s*\((\d{4})\)\s*$", title.strip())
    if not m:
        return None
    name = re.sub(r"\s*\(.*\)$", "", m.group(1))  # an alternative title in parentheses
    moved = re.match(rf"^(.*), ({_ARTICLES})$", name)
    if moved:
        name = f"{moved.group(2)} {moved.group(1)}"
    return re.sub(r"[^0-9a-z]+", " ", name.lower()).strip(), m.group(2)


def build_tag_queries(data: Path = DATA) -> list[dict]:
    """The tag queries: ``[{"tag", "relevant": [ml-1m movie ids]}]``, most carried tag first.

    Relevance ranges over every movie of ml-1m's ``movies.dat`` (the catalogue a model ranks,
    rated or not).
    """
    ml1m: dict[tuple[str, str], int] = {}
    with open(data / "ml-1m" / "movies.dat", encoding="latin-1") as fh:
        for line in fh:
            movie, title, _ = line.rstrip("\n").split("::")
            key = title_key(title)
            if key is not None:
                ml1m[key] = int(movie)
    with open(data / "ml-latest-small" / "movies.csv", encoding="utf-8") as fh:
        small = {int(r["movieId"]): title_key(r["title"]) for r in csv.DictReader(fh)}
    carried: dict[str, set[int]] = defaultdict(set)
    with open(data / "ml-latest-small" / "tags.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            key = small.get(int(r["movieId"]))
            if key in ml1m:
                carried[r["tag"].strip().lower()].add(ml1m[key])
    kept = [
        {"tag": tag, "relevant": sorted(ids)}
        for tag, ids in carried.items()
        if len(ids) >= MIN_MOVIES and tag not in NOT_DESCRIPTIVE
    ]
    return sorted(kept, key=lambda q: (-len(q["relevant"]), q["tag"]))


def tag_queries() -> list[dict]:
    """The checked-in tag queries (``bench/tag_queries.json``)."""
    return json.loads(TAG_QUERIES.read_text())


# --------------------------------------------------------------------------- new items
def content_words(text: str) -> set[str]:
    """Lower-cased word stems of `text` without stopwords (a light suffix stemmer, so that
    "robot" and "robots" count as one word).

    >>> sorted(content_words("The robots were dancing in Paris's streets"))
    ['danc', 'pari', 'robot', 'street']
    """
    out = set()
    for word in re.findall(r"[0-9a-z]+(?:'[a-z]+)?", text.lower()):
        word = word.removesuffix("'s")
        if word in STOPWORDS or len(word) < 2:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
        out.add(word)
    return out


def check_new_items(items: list[dict], max_shared: int = 2) -> None:
    """Raise ValueError when an item's query shares more than `max_shared` content words with
    its text, or when ids repeat."""
    ids = [it["id"] for it in items]
    if len(set(ids)) != len(ids):
        raise ValueError("new item ids repeat")
    for it in items:
        shared = content_words(it["query"]) & content_words(it["text"])
        if len(shared) > max_shared:
            raise ValueError(f"query of {it['id']!r} shares {sorted(shared)} with its text")


def new_items() -> list[dict]:
    """The hand-written new items ``[{"id", "text", "query"}]``, checked."""
    items = json.loads(NEW_ITEMS.read_text())["items"]
    check_new_items(items)
    return items


def ideas_setup(doc: str, parser: argparse.ArgumentParser | None = None):
    """What the scripts that measure ideas on the ml-1m hybrid of ``bench/text_queries.py``
    start from: their arguments (``--model-dir``, ``--cache`` and any `parser` adds), the
    loaded pipeline, a text side on that cache, and :func:`both_sets`."""
    from tailwise.pipeline import Pipeline
    from tailwise.text.side import TextSide

    ap = parser or argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="the ml-1m hybrid of bench/text_queries.py")
    ap.add_argument("--cache", required=True, help="its encoder cache directory")
    args = ap.parse_args()
    pipe = Pipeline.load(args.model_dir)
    return args, pipe, TextSide(cache_dir=args.cache, progress=False), both_sets(pipe)


def both_sets(pipe) -> tuple[list[dict], list[dict], list[str], sp.csr_matrix]:
    """Both query sets for a pipeline fitted on ml-1m: the tag queries, the new items, the item
    texts of the catalogue followed by the new items' (as if added with ``add_items``), and the
    tag queries' relevance over those texts."""
    new = new_items()
    texts = list(pipe.item_text) + [it["text"] for it in new]
    qs = tag_queries()
    at = {str(i): j for j, i in enumerate(pipe.items.ids.tolist())}
    truth = relevance([[at[str(m)] for m in q["relevant"]] for q in qs], len(texts))
    return qs, new, texts, truth


# --------------------------------------------------------------------------- scores
def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best columns of each row of `scores`, best first (ties by index)."""
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.lexsort((part, -np.take_along_axis(scores, part, axis=1)), axis=1)
    return np.take_along_axis(part, order, axis=1)


def relevance(relevant: list[list[int]], n_items: int) -> sp.csr_matrix:
    """Binary [n_queries, n_items] matrix from per-query lists of relevant item indices."""
    rows = np.repeat(np.arange(len(relevant)), [len(r) for r in relevant])
    cols = np.concatenate([np.asarray(r, dtype=np.int64) for r in relevant])
    return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(relevant), n_items))


def ranked_scores(scores: np.ndarray, truth: sp.csr_matrix, k: int = 10) -> dict[str, np.ndarray]:
    """Per-query NDCG@k and precision@k of the items ranked by `scores` [n_queries, n_items]."""
    from tailwise.metrics import ndcg, precision

    recs = top_k(scores, k)
    return {f"ndcg@{k}": ndcg(recs, truth), f"precision@{k}": precision(recs, truth)}


def ranks_of(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of item ``targets[q]`` in row ``q`` of `scores` (ties count against it)."""
    own = scores[np.arange(len(targets)), targets]
    return (scores >= own[:, None]).sum(axis=1)


def bootstrap_ci(values: np.ndarray, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of `values` (resampling queries).

    >>> lo, hi = bootstrap_ci(np.array([0.0, 1.0] * 50))
    >>> 0.39 < lo < 0.5 < hi < 0.61
    True
    """
    values = np.asarray(values, dtype=np.float64)
    idx = np.random.default_rng(seed).integers(0, len(values), size=(n, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean and 95% bootstrap interval, rounded for result files."""
    lo, hi = bootstrap_ci(values)
    return {"mean": round(float(np.mean(values)), 4), "ci95": [round(lo, 4), round(hi, 4)]}


def main() -> None:
    queries = build_tag_queries()
    TAG_QUERIES.write_text("[\n" + ",\n".join(json.dumps(q) for q in queries) + "\n]\n")
    print(f"{len(queries)} tag queries -> {TAG_QUERIES.name}", file=sys.stderr)
    for q in queries:
        print(f"  {len(q['relevant']):3d}  {q['tag']}", file=sys.stderr)
    items = new_items()
    print(f"{len(items)} new items, every query within the two-shared-words rule", file=sys.stderr)


if __name__ == "__main__":
    main()

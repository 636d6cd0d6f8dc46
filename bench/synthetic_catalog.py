"""A synthetic large catalogue: ALS-like item and user factors with popularity skew, histories
and short item texts, written as a normal model directory (``Pipeline.load`` reads it).

    python bench/synthetic_catalog.py OUT_DIR [--n-items 1000000] [--n-users 20000] [--seed 0]

Used by ``bench/ann.py`` and by the service load test (``make_model_dir``). Nothing is fitted
and no text is encoded, so a 1M-item catalogue takes seconds to generate; building its ANN
index (saved in ``OUT_DIR/index``) takes a few minutes on 2 cores.

How the factors look (what a fitted ALS model looks like, in miniature):

- ``n_topics`` topic centres in ``dim`` dimensions; each item is its topic's centre plus
  Gaussian noise (``spread``), normalised to a direction;
- popularity is Zipf-like (exponent ``zipf``) over a random order of the items, and the length
  of an item's vector grows with the log of its expected interactions (ALS gives popular items
  longer factors), from 0.05 up to 1.05;
- each user likes two topics; its history holds 5 to 60 draws (repeats merged), 80% from its
  topics and 20% from the whole catalogue, each by popularity; its vector is the mean of its history's
  item vectors plus noise (like an ALS fold-in).
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

ADJECTIVES = ("quiet", "bright", "compact", "vintage", "rugged", "gentle", "classic", "bold")
NOUNS = ("lamp", "novel", "kettle", "album", "jacket", "puzzle", "camera", "teapot", "map", "game")


@dataclass(frozen=True)
class Catalog:
    """Synthetic factors and histories; row ``i`` of `items` is item ``i``."""

    items: np.ndarray  # float32 [n_items, dim]
    users: np.ndarray  # float32 [n_users, dim]
    history: sp.csr_matrix  # [n_users, n_items], binary
    topic: np.ndarray  # int64 [n_items]
    expected: np.ndarray  # float64 [n_items]: expected interactions (popularity)


@dataclass(frozen=True)
class Spec:
    """The generator's parameters (recorded in the model directory's manifest)."""

    n_items: int = 1_000_000
    n_users: int = 20_000
    dim: int = 64
    n_topics: int = 1_000
    spread: float = 0.8
    zipf: float = 0.9
    seed: int = 0


def make_catalog(spec: Spec) -> Catalog:
    """Generate factors and histories as described in the module docstring (seeded)."""
    rng = np.random.default_rng(spec.seed)
    n, d = spec.n_items, spec.dim
    pop = (rng.permutation(n) + 1.0) ** -spec.zipf
    expected = pop / pop.sum() * 20.0 * n  # about 20 interactions per item on average
    centres = rng.standard_normal((spec.n_topics, d)).astype(np.float32)
    topic = rng.integers(spec.n_topics, size=n)
    items = np.empty((n, d), dtype=np.float32)
    length = (0.05 + np.log1p(expected) / np.log1p(expected.max())).astype(np.float32)
    for s in range(0, n, 100_000):  # in blocks: bounded temporary memory
        block = centres[topic[s : s + 100_000]]
        block += spec.spread * rng.standard_normal(block.shape).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        items[s : s + 100_000] = block * length[s : s + 100_000, None]
    history = _histories(rng, spec, topic, pop)
    counts = np.maximum(np.diff(history.indptr), 1).astype(np.float32)[:, None]
    users = np.asarray(history @ items) / counts
    users += 0.1 * rng.standard_normal(users.shape).astype(np.float32)
    return Catalog(items, users.astype(np.float32), history, topic, expected)


def _histories(rng, spec: Spec, topic: np.ndarray, pop: np.ndarray) -> sp.csr_matrix:
    """5 to 60 draws per user: 80% from two favourite topics, 20% from everything, by popularity."""
    order = np.argsort(topic, kind="stable")
    cum = np.cumsum(pop[order])
    bounds = np.searchsorted(topic[order], np.arange(spec.n_topics + 1))
    lengths = rng.integers(5, 61, size=spec.n_users)
    user = np.repeat(np.arange(spec.n_users), lengths)
    fav = rng.integers(spec.n_topics, size=(spec.n_users, 2))
    t = fav[user, rng.integers(0, 2, size=len(user))]
    lo = np.where(bounds[t] > 0, cum[np.maximum(bounds[t] - 1, 0)], 0.0)
    hi = cum[np.maximum(bounds[t + 1] - 1, 0)]
    anywhere = (rng.random(len(user)) < 0.2) | (bounds[t + 1] == bounds[t])  # empty topic
    lo, hi = np.where(anywhere, 0.0, lo), np.where(anywhere, cum[-1], hi)
    pos = np.minimum(np.searchsorted(cum, lo + rng.random(len(user)) * (hi - lo)), len(cum) - 1)
    x = sp.csr_matrix((np.ones(len(user), np.float32), (user, order[pos])), shape=(spec.n_users, spec.n_items))
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def item_texts(catalog: Catalog, seed: int = 0) -> list[str]:
    """Short texts, e.g. ``"Item 17: bold teapot (topic 212)"``."""
    rng = np.random.default_rng(seed + 1)
    adj = rng.integers(len(ADJECTIVES), size=len(catalog.topic))
    noun = rng.integers(len(NOUNS), size=len(catalog.topic))
    return [
        f"Item {i}: {ADJECTIVES[a]} {NOUNS[b]} (topic {t})"
        for i, (a, b, t) in enumerate(zip(adj.tolist(), noun.tolist(), catalog.topic.tolist()))
    ]


def make_pipeline(catalog: Catalog, spec: Spec, index: str = "auto"):
    """A :class:`~tailwise.pipeline.Pipeline` serving the catalogue with an ALS model.

    `index` is the kind for :func:`tailwise.index.pipeline_index` (``"auto"``: ANN from 200,000
    items).
    """
    from tailwise.data.idmap import IdMap
    from tailwise.index import pipeline_index
    from tailwise.models import ALS
    from tailwise.pipeline import Pipeline

    model = ALS(factors=spec.dim)
    model.user_factors_, model.item_factors_ = catalog.users, catalog.items
    model.n_users_, model.n_items_ = len(catalog.users), len(catalog.items)
    h = catalog.history
    dataset = {
        "name": f"synthetic-{spec.n_items}",
        "users": len(catalog.users),
        "items": len(catalog.items),
        "items_with_interactions": int((np.diff(h.tocsc().indptr) > 0).sum()),
        "interactions": int(h.nnz),
        "density": h.nnz / max(1, h.shape[0] * h.shape[1]),
        "items_with_text": len(catalog.items),
        "has_rating": False,
        "has_timestamp": False,
    }
    users = IdMap(f"u{u}" for u in range(len(catalog.users)))
    items = IdMap(f"i{i}" for i in range(len(catalog.items)))
    meta = {"fit_seconds": 0.0, "dataset": dataset, "synthetic": asdict(spec)}
    return Pipeline(model, users, items, h, item_texts(catalog, spec.seed), meta, index=pipeline_index(model, kind=index))


def make_model_dir(
    path: str | Path,
    n_items: int = 1_000_000,
    n_users: int = 20_000,
    dim: int = 64,
    seed: int = 0,
    index: str = "auto",
) -> Path:
    """Write a synthetic ALS model directory (with its ANN index from 200,000 items) to `path`.

    User ids are ``u0 .. u{n_users-1}``, item ids ``i0 .. i{n_items-1}``. Returns the path.

    Examples
    --------
    >>> import tempfile
    >>> from tailwise.pipeline import Pipeline
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     pipe = Pipeline.load(make_model_dir(Path(tmp) / "m", n_items=2_000, n_users=50))
    ...     (len(pipe.items), len(pipe.users), pipe.index is None)
    (2000, 50, True)
    """
    spec = Spec(n_items=n_items, n_users=n_users, dim=dim, seed=seed)
    t0 = time.perf_counter()
    catalog = make_catalog(spec)
    log.info("generated %d items and %d users in %.1f s", n_items, n_users, time.perf_counter() - t0)
    return make_pipeline(catalog, spec, index).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n-items", type=int, default=1_000_000)
    ap.add_argument("--n-users", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--index", default="auto", choices=("auto", "exact", "ann"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    path = make_model_dir(args.out, args.n_items, args.n_users, args.dim, args.seed, args.index)
    print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

"""Golden lists: every model's recommendations through the command line, to compare two versions.

The lists come from ``tailwise fit`` and ``tailwise recommend`` (and ``evaluate`` /
``tradeoff`` for metrics), called in process, so the same run works on any version of the
library: the command line's output is the reference when the code underneath changes. A run
writes one JSON file ``{key: CSV text or metric rows}``; :func:`compare` lists every difference.

Used by ``tests/test_golden_lists.py`` (a small slice of the bundled sample, checked against
``tests/golden/lists-small.json``) and ``bench/golden_lists.py`` (ml-1m, for the closing note of
a change that must not move any list).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

#: every model of the library (twotower needs torch, als and bpr need implicit)
MODELS = ("popular", "itemknn", "ease", "als", "bpr", "content", "adapter", "hybrid", "twotower")
TEXT_MODELS = ("content", "adapter", "hybrid", "twotower")
#: (label, recommend options): no re-ranker, then each re-ranker at one knob value
EXPOSURES = (
    ("none", []),
    ("xquad", ["--rerank", "xquad", "--tail-weight", "0.5"]),
    ("calibrated", ["--rerank", "calibrated", "--tail-weight", "0.5"]),
    ("mmr", ["--rerank", "mmr", "--tail-weight", "0.5", "--n-candidates", "100"]),
    ("stochastic", ["--rerank", "stochastic", "--tail-weight", "0.5", "--rerank-seed", "3"]),
)
#: model parameters that keep the slow models quick on small data
SMALL_PARAMS = {"twotower": ["--param", "epochs=2"], "als": ["--param", "iterations=5"], "bpr": ["--param", "iterations=20"]}
#: metric columns that are timings (they differ between runs)
TIMINGS = ("fit_s", "recommend_s", "rerank_s")


def _cli(argv: list[str]) -> None:
    from tailwise.cli.main import main

    with contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"tailwise {' '.join(argv)} exited {code}: {err.getvalue()}")


def small_data(directory: Path, n_users: int = 60, n_cold: int = 15) -> list[str]:
    """Write a slice of the bundled sample to `directory`: the first `n_users` users' ratings
    as ``train.csv``, their items plus `n_cold` items nobody rated as ``items.csv``, every user
    plus one unknown as ``users.txt``, and a candidate whitelist. Returns the data options."""
    import pandas as pd

    from tailwise.data.bundled import demo_path

    root = demo_path()
    ratings = pd.read_csv(root / "ratings.csv")
    ratings = ratings[ratings["userId"] <= n_users]
    movies = pd.read_csv(root / "movies.csv")
    rated = set(ratings["movieId"])
    cold = movies[~movies["movieId"].isin(rated)].head(n_cold)
    items = pd.concat([movies[movies["movieId"].isin(rated)], cold])
    directory.mkdir(parents=True, exist_ok=True)
    ratings.rename(columns={"userId": "user_id", "movieId": "item_id"}).to_csv(directory / "train.csv", index=False)
    items.rename(columns={"movieId": "item_id"}).to_csv(directory / "items.csv", index=False)
    users = [str(u) for u in sorted(set(ratings["userId"]))] + ["no-such-user"]
    (directory / "users.txt").write_text("\n".join(users) + "\n")
    ids = items["movieId"].to_numpy()
    (directory / "candidates.txt").write_text("\n".join(map(str, ids[::3])) + "\n")
    return ["--interactions", str(directory / "train.csv"), "--items", str(directory / "items.csv")]


def lists(
    directory: Path,
    data: list[str],
    models: tuple[str, ...] = MODELS,
    params: dict[str, list[str]] | None = None,
    history: str = "1,3114",
    query: str = "space adventure for kids",
    k: int = 10,
    on_step: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, str]]:
    """(key, CSV text of ``tailwise recommend``) for every model x exposure, plus a history, a
    query and a whitelist per model. `directory` holds ``users.txt`` and ``candidates.txt``."""
    params = SMALL_PARAMS if params is None else params
    out = directory / "out.csv"
    for name in models:
        if on_step:
            on_step(f"fit {name}")
        model_dir = directory / f"model-{name}"
        _cli(["fit", *data, "--model", name, "--model-dir", str(model_dir), *params.get(name, [])])
        base = ["recommend", "--model-dir", str(model_dir), "--k", str(k), "--output", str(out)]
        for label, opts in EXPOSURES:
            _cli([*base, "--users", str(directory / "users.txt"), *opts])
            yield f"{name}/users/{label}", out.read_text()
        _cli([*base, "--users", str(directory / "users.txt"), "--candidates", str(directory / "candidates.txt")])
        yield f"{name}/candidates", out.read_text()
        for label, opts in EXPOSURES[:2]:
            _cli([*base, "--history", history, *opts])
            yield f"{name}/history/{label}", out.read_text()
            if name in TEXT_MODELS:
                _cli([*base, "--query", query, *opts])
                yield f"{name}/query/{label}", out.read_text()


def metrics(directory: Path, data: list[str], models: str = "popular,ease,hybrid") -> Iterator[tuple[str, list[dict]]]:
    """(key, metric rows) of ``tailwise evaluate`` (without and with a re-ranker) and of
    ``tailwise tradeoff``, timings dropped."""
    out = directory / "table.json"
    runs = {
        "evaluate/none": ["evaluate", *data, "--models", models],
        "evaluate/xquad": ["evaluate", *data, "--models", models, "--rerank", "xquad", "--tail-weight", "0.4"],
        "tradeoff": ["tradeoff", *data, "--models", models, "--rerank", "xquad,calibrated", "--tail-weights", "0,0.5,1"],
    }
    for key, argv in runs.items():
        _cli([*argv, "--output", str(out)])
        rows = json.loads(out.read_text())
        yield key, [{k: v for k, v in row.items() if k not in TIMINGS} for row in rows]


def compare(before: dict, after: dict, rtol: float = 1e-5) -> list[str]:
    """Every difference between two golden runs: missing keys, lists with other items or
    ranks, scores beyond `rtol`, metric values beyond `rtol`."""
    problems = []
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            problems.append(f"{key}: only in {'after' if key in after else 'before'}")
            continue
        a, b = before[key], after[key]
        if isinstance(a, str):
            problems += [f"{key}: {p}" for p in _compare_csv(a, b, rtol)]
        else:
            problems += [f"{key}: {p}" for p in _compare_rows(a, b, rtol)]
    return problems


def _compare_csv(a: str, b: str, rtol: float) -> list[str]:
    la, lb = a.strip().splitlines(), b.strip().splitlines()
    if len(la) != len(lb):
        return [f"{len(la)} lines before, {len(lb)} after"]
    out = []
    for n, (x, y) in enumerate(zip(la, lb), start=1):
        fx, fy = x.split(","), y.split(",")
        if fx[:3] != fy[:3]:
            out.append(f"line {n}: {x!r} before, {y!r} after")
        elif n > 1 and not _close(float(fx[3]), float(fy[3]), rtol):
            out.append(f"line {n}: score {fx[3]} before, {fy[3]} after")
        if len(out) >= 5:
            break
    return out


def _compare_rows(a: list[dict], b: list[dict], rtol: float) -> list[str]:
    if len(a) != len(b):
        return [f"{len(a)} rows before, {len(b)} after"]
    out = []
    for ra, rb in zip(a, b):
        for col in sorted(set(ra) | set(rb)):
            va, vb = ra.get(col), rb.get(col)
            if isinstance(va, float) and isinstance(vb, float):
                if not _close(va, vb, rtol):
                    out.append(f"{ra.get('model')} {ra.get('rerank', '')} {ra.get('tail_weight', '')} {col}: {va} before, {vb} after")
            elif va != vb:
                out.append(f"{ra.get('model')} {col}: {va!r} before, {vb!r} after")
    return out


def _close(x: float, y: float, rtol: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return bool(np.isclose(x, y, rtol=rtol, atol=1e-7))

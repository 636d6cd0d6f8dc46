"""Shared pieces of the command-line fuzz and answer tests: a small synthetic data set with
fitted model directories (made once per session), command lines over it, a snapshot of the
input files, and the rules every correct list follows."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import numpy as np
import pytest

from tailwise.cli.main import main

N_USERS, N_ITEMS, N_COLD = 30, 40, 5
WORDS = ["space", "love", "crime", "ocean", "robot", "family", "war", "music", "forest", "city"]


def write_data(root: Path, seed: int = 7) -> None:
    """train.csv (30 users, 40 items, ratings and timestamps), items.csv (the 40 items plus 5
    cold ones, c0..c4, with text) and users.txt (10 known users and one unknown)."""
    rng = np.random.default_rng(seed)
    lines = ["user_id,item_id,rating,timestamp"]
    for u in range(N_USERS):
        for t, i in enumerate(rng.choice(N_ITEMS, size=int(rng.integers(3, 12)), replace=False)):
            lines.append(f"u{u},i{i},{int(rng.integers(1, 6))},{1_600_000_000 + 60 * t}")
    (root / "train.csv").write_text("\n".join(lines) + "\n")
    items = ["item_id,title"]
    for name in [f"i{i}" for i in range(N_ITEMS)] + [f"c{i}" for i in range(N_COLD)]:
        items.append(f"{name},{' '.join(rng.choice(WORDS, size=3).tolist())} {name}")
    (root / "items.csv").write_text("\n".join(items) + "\n")
    (root / "users.txt").write_text("user_id\n" + "\n".join(f"u{u}" for u in range(10)) + "\nnobody\n")


class Env:
    """Command lines over the shared data (`data`) that write under a per-test folder (`root`)."""

    def __init__(self, data: Path, root: Path, models: dict[str, Path]) -> None:
        self.data, self.root, self._models = data, root, models
        self.train, self.items, self.users = data / "train.csv", data / "items.csv", data / "users.txt"
        self.output = root / "out" / "recs.csv"

    def fork(self, root: Path) -> Env:
        """The same data and models, writing under `root`."""
        return Env(self.data, root, self._models)

    def data_options(self) -> list[str]:
        return ["--interactions", str(self.train), "--items", str(self.items)]

    def fit(self, model: str, *extra: str, model_dir: Path | None = None, data: list[str] | None = None) -> list[str]:
        target = self.root / "new-model" if model_dir is None else model_dir
        return ["fit", *(self.data_options() if data is None else data), "--model", model, "--model-dir", str(target), *extra]

    def recommend(self, model_dir: Path, *extra: str, output: Path | None = None) -> list[str]:
        return ["recommend", "--model-dir", str(model_dir), *extra, "--output", str(output or self.output)]

    def model(self, name: str) -> Path:
        """A model directory fitted on the shared data (once per session)."""
        if name not in self._models:
            target = self.data / "models" / name
            assert main(self.fit(name, model_dir=target)) == 0
            self._models[name] = target
        return self._models[name]

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        """Every file under the data and the test's folder: its bytes and modification time."""
        roots = (self.data, self.root) if self.root.exists() else (self.data,)
        return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for r in roots for p in sorted(r.rglob("*")) if p.is_file()}

    @staticmethod
    def lists(path: Path) -> dict[str, list[tuple[str, int, float]]]:
        """The CSV of ``tailwise recommend`` -> user -> [(item, rank, score)] in file order."""
        return read_lists(path.read_text())

    check = staticmethod(lambda *a, **kw: check_lists(*a, **kw))


def make_env(root: Path) -> Env:
    write_data(root)
    return Env(root, root / "scratch", {})


def read_lists(text: str) -> dict[str, list[tuple[str, int, float]]]:
    """CSV of ``tailwise recommend`` -> user -> [(item, rank, score)] in file order."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out: dict[str, list[tuple[str, int, float]]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append((r["item_id"], int(r["rank"]), float(r["score"])))
    return out


def check_lists(
    lists: dict[str, list[tuple[str, int, float]]],
    k: int,
    allowed: set[str],
    own: dict[str, set[str]],
    stated_short: set[str] = frozenset(),
) -> None:
    """The rules of a correct answer, for every user of `lists`: k rows (fewer only when fewer
    items may be recommended, or the user is in `stated_short`), ranks 1..n, no item of the
    user's own items `own`, every item in `allowed`, finite scores that never increase."""
    for user, rows in lists.items():
        items = [i for i, _, _ in rows]
        scores = [s for _, _, s in rows]
        mine = own.get(user, set())
        assert [r for _, r, _ in rows] == list(range(1, len(rows) + 1)), user
        assert len(set(items)) == len(items), user
        assert not set(items) & mine, f"{user} got an item of its own"
        assert set(items) <= allowed, f"{user} got an item outside the catalogue or candidates"
        assert all(np.isfinite(scores)), user
        assert all(a >= b for a, b in itertools.pairwise(scores)), f"{user}: scores increase"
        possible = len(allowed - mine)
        assert len(rows) == min(k, possible) or user in stated_short, f"{user}: {len(rows)} rows, k={k}, {possible} possible"


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory) -> Env:
    """The shared data and model directories of the command-line tests."""
    return make_env(tmp_path_factory.mktemp("cli-data"))

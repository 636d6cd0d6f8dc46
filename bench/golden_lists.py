"""Every model's lists on ml-1m through the command line, before and after a change.

    python bench/golden_lists.py --output bench/results/golden-ml-1m-before.json   # old code
    python bench/golden_lists.py --output after.json --compare bench/results/golden-ml-1m-before.json

Splits ml-1m per user 80/20 (seed 42), writes the train side and the item texts as CSV, then for
every model runs ``tailwise fit`` and ``tailwise recommend`` for all users with no re-ranker and
with each re-ranker, with a candidate whitelist, for a history and a free-text query (see
:mod:`tailwise.testing.golden`), plus ``tailwise evaluate`` and ``tailwise tradeoff`` tables.
With ``--compare`` it prints every difference and exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from tailwise.testing import golden

DATA = Path("../shared/data/ml-1m")  # run from the repository root


def write_split(directory: Path, data: Path) -> list[str]:
    from tailwise.data import load_movielens
    from tailwise.data.splits import random_holdout

    train = random_holdout(load_movielens(data), 0.2, seed=42).train
    users, items = train.users.ids, train.items.ids
    with open(directory / "train.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "item_id"])
        w.writerows(zip(users[train.user_idx], items[train.item_idx]))
    with open(directory / "items.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "text"])
        w.writerows(zip(items, train.texts()))
    (directory / "users.txt").write_text("\n".join(map(str, users)) + "\nno-such-user\n")
    (directory / "candidates.txt").write_text("\n".join(map(str, items[::3])) + "\n")
    return ["--interactions", str(directory / "train.csv"), "--items", str(directory / "items.csv")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--compare", type=Path, help="a earlier run's JSON to compare with")
    p.add_argument("--models", default=",".join(golden.MODELS))
    p.add_argument("--data", type=Path, default=DATA, help="the ml-1m folder (default: ../shared/data/ml-1m)")
    args = p.parse_args()
    t0 = time.perf_counter()
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = write_split(work, args.data)
        models = tuple(m.strip() for m in args.models.split(",") if m.strip())
        for key, text in golden.lists(work, data, models, params={}, on_step=lambda s: print(f"[{time.perf_counter() - t0:6.0f}s] {s}", flush=True)):
            result[key] = text
        for key, rows in golden.metrics(work, data, "ease,hybrid"):
            result[key] = rows
    args.output.write_text(json.dumps(result))
    print(f"{len(result)} results in {time.perf_counter() - t0:.0f} s -> {args.output}")
    if args.compare:
        problems = golden.compare(json.loads(args.compare.read_text()), result)
        print("\n".join(problems) or "identical: every list and every metric")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

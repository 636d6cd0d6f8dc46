"""Memory estimates against measured peaks: EASE and item-kNN fits on random sparse data.

    python bench/memory_estimates.py [--ease 2000,4000,8000] [--itemknn 4000,8000,16000]
                                     [--output bench/results/memory_estimates.json]

Each fit runs in a fresh subprocess: the dataset is built and its matrix computed first, then
the peak resident set size is reset to the current one (``/proc/self/clear_refs``, so Linux
only) and the model is fitted; the measured growth is the peak (``VmHWM``) less the resident
set before the fit. The estimate
is the model's :meth:`memory_estimate` for the same data, which must be at least the growth
and, to be useful, not far above it. One BLAS thread (``BENCH_THREADS`` to change), so the
numbers do not depend on the machine's core count.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, os, sys
from threadpoolctl import threadpool_limits
import numpy as np
from tailwise.data.dataset import Dataset
from tailwise.models import make_model

model_name, n_items, per_user, params = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
rng = np.random.default_rng(0)
n_users = n_items
users = np.repeat(np.arange(n_users), per_user)
items = rng.integers(0, n_items, len(users))
ds = Dataset.from_ids(users.astype(str), items.astype(str), name="random")
ds.matrix()
model = make_model(model_name, **params)
estimate = model.memory_estimate(ds)

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from the resident set now
before = status("VmRSS")
with threadpool_limits(int(os.environ.get("BENCH_THREADS", "1"))):
    model.fit(ds)
peak = status("VmHWM")
n_active = int((np.diff(ds.matrix().tocsc().indptr) > 0).sum())
print(json.dumps({"model": model_name, "n_items": ds.n_items, "n_active": n_active, "nnz": ds.n_interactions,
                  "params": params, "measured": peak - before, "estimate": estimate}))
"""


def measure(model: str, n_items: int, per_user: int = 50, params: dict | None = None) -> dict:
    """One fit in a subprocess: the measured peak growth and the estimate, in bytes."""
    cmd = [
        sys.executable,
        "-c",
        CHILD,
        model,
        str(n_items),
        str(per_user),
        json.dumps(params or {}),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    row["ratio"] = (
        round(row["estimate"] / row["measured"], 3)
        if row["estimate"] and row["measured"] > 0
        else None
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ease", default="2000,4000,8000", help="catalogue sizes for EASE")
    ap.add_argument("--itemknn", default="4000,8000,16000", help="catalogue sizes for item-kNN")
    ap.add_argument("--output", type=Path, help="write the rows as JSON")
    args = ap.parse_args()
    from tailwise.models.memory import format_bytes

    rows = []
    for model, sizes in (("ease", args.ease), ("itemknn", args.itemknn)):
        for n in (int(s) for s in sizes.split(",") if s.strip()):
            row = measure(model, n)
            rows.append(row)
            print(f"{model:8s} n_items={row['n_items']:>7,} n_active={row['n_active']:>7,} "
                  f"measured={format_bytes(row['measured']):>9s} estimate={format_bytes(row['estimate']):>9s} "
                  f"ratio={row['ratio']}", flush=True)  # fmt: skip
    if args.output:
        args.output.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""``tailwise demo``: evaluate the baselines on the bundled ml-latest-small and print the table."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from tailwise.cli.common import console
from tailwise.cli.evaluate import DEFAULT_MODELS, add_eval_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="evaluate the models on the bundled MovieLens sample",
        description="Load the bundled ml-latest-small (GroupLens licence), split it per user "
        "80/20, fit every model (CF baselines and the language-model hybrid, with the packaged "
        "Universal Sentence Encoder) and print accuracy and long-tail metrics side by side.",
    )
    add_eval_options(p)
    p.add_argument("--out-dir", type=Path, default=Path("tailwise-demo"), help="where results.csv/json go (default: ./tailwise-demo)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.cli.evaluate import evaluate_dataset
    from tailwise.data import load_demo
    from tailwise.eval.table import print_table, write_table

    if args.models == DEFAULT_MODELS and importlib.util.find_spec("implicit") is None:
        args.models = ",".join(m for m in DEFAULT_MODELS.split(",") if m not in ("als", "bpr"))
        console.print('[yellow]implicit is not installed: skipping als and bpr (pip install "tailwise[implicit]")[/]')
    dataset = load_demo()
    console.print(f"dataset: bundled {dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items, {dataset.n_interactions:,} ratings")
    rows = evaluate_dataset(dataset, args)
    print_table(rows, args.k, f"tailwise demo: {dataset.name}, {rows[0]['split']} split, top-{args.k}")
    outputs = args.output or [args.out_dir / "results.csv", args.out_dir / "results.json"]
    for out in outputs:
        write_table(rows, out)
    console.print(f"results written to {', '.join(map(str, outputs))}")
    return 0

"""``tailwise evaluate``: fit several models on one split and print one table."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.progress import Progress

from tailwise.cli.common import (
    add_data_options,
    add_text_options,
    console,
    load_data,
    params_for,
    parse_params,
    status,
    text_params,
)  # fmt: skip

DEFAULT_MODELS = "popular,itemknn,ease,als,bpr,content,adapter,hybrid"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="compare models on a split: accuracy and long-tail metrics side by side",
        description="Split the data, fit each model on the train side, and measure its top-k lists "
        "on the test side: recall, precision, NDCG, hit rate, MRR next to tail and head recall, "
        "coverage, tail coverage, APLT, ARP, Gini, novelty, diversity and cold-item recall.",
    )
    add_data_options(p)
    add_eval_options(p)
    from tailwise.cli.recommend import add_rerank_options

    add_rerank_options(p)
    p.set_defaults(run=run)


def add_eval_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("evaluation")
    g.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated model names (default: {DEFAULT_MODELS})")
    g.add_argument("--param", action="append", metavar="[MODEL.]KEY=VALUE", help="hyperparameter, e.g. ease.l2=300 (repeatable)")
    g.add_argument("--split", default="random", choices=["random", "temporal", "leave-last", "cold-item", "kfold"], help="how to split (default: random per user); kfold reports the mean over folds")
    g.add_argument("--folds", type=int, default=5, help="number of folds for --split kfold (default 5)")
    g.add_argument("--test-fraction", type=float, default=0.2, help="share held out (items for cold-item; default 0.2)")
    g.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    g.add_argument("--k", type=int, default=20, help="cutoff of every metric (default 20)")
    g.add_argument("--head-share", type=float, default=0.2, help="share of items that are head, by training popularity (default 0.2)")
    g.add_argument("--output", type=Path, action="append", help="write the table as .csv or .json (repeatable)")
    add_text_options(p)


def evaluate_dataset(dataset, args: argparse.Namespace) -> list[dict]:
    """Split, fit and measure every model named in args; show progress."""
    from tailwise.data.splits import k_fold, make_split
    from tailwise.eval.evaluator import EvalContext
    from tailwise.models import make_model

    params = parse_params(args.param)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = [make_model(n, **{**text_params(args, n), **params_for(n, params)}) for n in names]  # fail fast on bad names
    score = _scorer(args)  # and on bad re-ranking options
    with status("Splitting"):
        if args.split == "kfold":
            splits = list(k_fold(dataset, args.folds, args.seed))
        else:
            splits = [make_split(dataset, args.split, args.test_fraction, args.seed)]
        contexts = [EvalContext.build(s, k=args.k, head_share=args.head_share) for s in splits]
    label = f"{args.folds}-fold" if args.split == "kfold" else splits[0].name
    rows = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Evaluating", total=len(models) * len(contexts))
        for model in models:
            per_fold = []
            for n, ctx in enumerate(contexts, start=1):
                fold = f" (fold {n}/{len(contexts)})" if len(contexts) > 1 else ""
                progress.update(task, description=f"Fitting and scoring {model.name}{fold}")
                per_fold.append(score(model, ctx))
                progress.advance(task)
            rows.append({"dataset": dataset.name, "split": label, **mean_rows(per_fold)})
    return rows


def _scorer(args: argparse.Namespace):
    """evaluate_model, or its two-stage form when --rerank is given (evaluate only)."""
    from tailwise.eval.evaluator import evaluate_model

    if not hasattr(args, "n_candidates"):  # commands sharing evaluate_dataset without the options
        return evaluate_model
    from tailwise.cli.recommend import rerank_choice

    name, weight = rerank_choice(args)
    if name is None:
        return evaluate_model
    from tailwise.eval.tradeoff import evaluate_reranked

    n_cand, seed = args.n_candidates, args.rerank_seed
    return lambda model, ctx: evaluate_reranked(model, ctx, name, weight, n_candidates=n_cand, seed=seed)


def mean_rows(rows: list[dict]) -> dict:
    """The mean of each numeric column over folds (NaN-aware); text columns from the first row."""
    out = dict(rows[0])
    for key, value in rows[0].items():
        if isinstance(value, float):
            out[key] = float(np.nanmean([r.get(key, np.nan) for r in rows]))
    return out


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.table import print_table, write_table

    dataset = load_data(args)
    rows = evaluate_dataset(dataset, args)
    print_table(rows, args.k, f"{dataset.name}: {rows[0]['split']} split, {args.k} items per list")
    for out in args.output or []:
        write_table(rows, out)
        console.print(f"wrote {out}")
    return 0

"""``tailwise recommend``: top-k lists for a file of user ids, from a model directory."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tailwise.artifacts import atomic_write_text
from tailwise.cli.common import console, read_id_lines, status
from tailwise.errors import DataError

if TYPE_CHECKING:
    from tailwise.rerank import Exposure


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recommend",
        help="write top-k recommendations for users",
        description="Write OUT.csv with the header user_id,item_id,rank,score: ranks 1..K per "
        "user, never an item the user had in training. Users unknown to the model get the most "
        "popular training items (the fallback).",
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a directory written by `tailwise fit`")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--users", type=Path, help="file with one user id per line (an optional first line 'user_id' is skipped)")
    who.add_argument("--history", help="a new user's items, comma-separated ids: folded in without refitting (user_id 'history' in OUT)")
    who.add_argument("--query", help="free text, e.g. 'space adventure for kids': its closest items by text are folded in (user_id 'query' in OUT)")
    p.add_argument("--k", type=int, default=10, help="list length (default: 10)")
    p.add_argument("--output", type=Path, required=True, help="CSV to write")
    p.add_argument("--candidates", type=Path, help="file with one item id per line: only these may be recommended")
    add_rerank_options(p)
    p.set_defaults(run=run)


def add_rerank_options(p: argparse.ArgumentParser) -> None:
    """--rerank, --tail-weight and --n-candidates (shared by recommend and evaluate)."""
    from tailwise.rerank import RERANKERS

    names = ", ".join(RERANKERS)
    g = p.add_argument_group("long-tail re-ranking (two stages: the model's top-N candidates, then a re-ranker picks k)")
    g.add_argument("--rerank", metavar="NAME", help=f"re-ranker: {names} (default: none, the model's own top-k)")
    g.add_argument("--tail-weight", type=float, metavar="W", help="the one knob in [0, 1]: 0 = no re-ranking, 1 = strongest (default with --rerank: 0.5)")
    g.add_argument("--n-candidates", type=int, default=300, metavar="N", help="candidates per user handed to the re-ranker (default: 300)")
    g.add_argument("--rerank-seed", type=int, default=0, metavar="SEED", help="seed of the stochastic re-ranker: vary it to spread exposure over repeated runs (default: 0)")


def exposure_from_args(args: argparse.Namespace) -> Exposure:
    """The exposure settings of --rerank, --tail-weight, --n-candidates and --rerank-seed,
    checked: a clear error for bad values."""
    from tailwise.rerank import Exposure

    try:
        return Exposure.parse(args.rerank, args.tail_weight, n_candidates=args.n_candidates, seed=args.rerank_seed)
    except ValueError as exc:
        raise DataError(f"--rerank/--tail-weight/--n-candidates: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from tailwise.pipeline import Pipeline

    if args.k < 1:
        raise DataError(f"--k must be at least 1, not {args.k}")
    rr = {"exposure": exposure_from_args(args)}
    with status("Loading the model"):
        pipe = Pipeline.load(args.model_dir)
    candidates = _candidates(args.candidates, pipe) if args.candidates else None
    if args.query is not None:
        lists = pipe.recommend_query(args.query, k=args.k, candidates=candidates, **rr)
    elif args.history is not None:
        ids = [i.strip() for i in args.history.split(",") if i.strip()]
        lists = pipe.recommend_history(ids, k=args.k, candidates=candidates, **rr)
    else:
        users = read_id_lines(args.users, "user", "user_id")
        with status(f"Recommending for {len(users):,} users"):
            lists = pipe.recommend(users, k=args.k, candidates=candidates, **rr)
    users = lists.user_ids
    atomic_write_text(args.output, _to_csv(lists, pipe.items.ids))
    unknown = int((~lists.known).sum())
    note = f" ({unknown} unknown users got the popularity fallback)" if unknown else ""
    console.print(f"wrote {len(users):,} lists of up to {args.k} items to {args.output}{note}")
    return 0


def _candidates(path: Path, pipe) -> np.ndarray:
    ids = read_id_lines(path, "candidate item", "item_id")
    idx = pipe.items.indices(ids, missing=-1)
    if (idx < 0).all():
        raise DataError("none of the candidate items is known to the model", path=path)
    if (idx < 0).any():
        console.print(f"[yellow]ignored {(idx < 0).sum()} candidate items unknown to the model[/]")
    return np.unique(idx[idx >= 0])


def _to_csv(lists, item_ids: np.ndarray) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["user_id", "item_id", "rank", "score"])
    for user, items, scores in zip(lists.user_ids, lists.items, lists.scores):
        for rank, (item, score) in enumerate(zip(items, scores), start=1):
            if item < 0:
                break
            w.writerow([user, item_ids[item], rank, f"{float(score):.6g}"])
    return buf.getvalue()

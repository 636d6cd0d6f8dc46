"""``tailwise recommend``: top-k lists for a file of user ids, from a model directory."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tailwise.artifacts import atomic_write_text
from tailwise.cli.common import console, read_id_lines, refuse_overwrite, status
from tailwise.errors import DataError

if TYPE_CHECKING:
    from tailwise.pipeline import Pipeline, UserLists
    from tailwise.rerank import Exposure

#: the longest list asked for that is not refused outright (lists are cut to the catalogue)
MAX_K = 1_000_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recommend",
        help="write top-k recommendations for users",
        description="Write OUT.csv with the header user_id,item_id,rank,score: ranks 1..K per "
        "user, never an item the user had in training, scores that never increase. Users the "
        "model cannot rank items for (unknown users, a history of items without interactions, "
        "a query that matches no item text) get the most popular training items (the "
        "fallback); the command says who and why, and why any list is shorter than K.",
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a directory written by `tailwise fit`")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--users", type=Path, help="file with one user id per line (an optional first line 'user_id' is skipped)")
    who.add_argument("--history", help="a new user's items, comma-separated ids: folded in without refitting (user_id 'history' in OUT)")
    p.add_argument(
        "--query",
        help="free text, e.g. 'space adventure for kids': the items relevant to it (BM25 and the encoder, fused) come first; "
        "alone: ordered by the text with the model as a prior (user_id 'query' in OUT); with --users or --history: ordered by "
        "each user's taste",
    )
    p.add_argument("--k", type=int, default=10, help="list length, cut to the catalogue size (default: 10)")
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

    if not 1 <= args.k <= MAX_K:
        raise DataError(f"--k must be between 1 and {MAX_K:,}, not {args.k:,}")
    refuse_overwrite(args.output, "--output", (args.users, args.candidates, args.model_dir))
    rr = {"exposure": exposure_from_args(args)}
    with status("Loading the model"):
        pipe = Pipeline.load(args.model_dir)
    candidates = _candidates(args.candidates, pipe) if args.candidates else None
    own = None  # the items of --history, never recommended back
    if args.query is not None and not args.query.strip():
        raise DataError("--query is empty")
    if args.users is None and args.history is None and args.query is None:
        raise DataError("give --users, --history or --query")
    if args.query is not None and args.users is None and args.history is None:
        lists = pipe.recommend_query(args.query, k=args.k, candidates=candidates, **rr)
    elif args.history is not None:
        ids = [i.strip() for i in args.history.split(",") if i.strip()]
        if not ids:
            raise DataError("--history names no item ids")
        unknown = [i for i in ids if i not in pipe.items]
        if unknown:
            raise DataError(f"--history names items the model does not know: {_some(list(map(repr, unknown)))}")
        own = pipe.items.indices(ids)
        if args.query is None:
            lists = pipe.recommend_history(ids, k=args.k, candidates=candidates, **rr)
        else:
            lists = _history_query(pipe, own, args.query, args.k, candidates, rr["exposure"])
    else:
        users = read_id_lines(args.users, "user", "user_id")
        with status(f"Recommending for {len(users):,} users"):
            lists = pipe.recommend(users, k=args.k, candidates=candidates, query=args.query, **rr)
    atomic_write_text(args.output, _to_csv(lists, pipe.items.ids))
    k = pipe.max_k(args.k)
    notes = [f"wrote {_lists(len(lists.user_ids))} of up to {k} items to {args.output}"]
    if k < args.k:
        notes.append(f"--k {args.k:,} is more than the {k:,} items of the catalogue: lists hold at most {k:,}")
    notes += _notes(lists, k, _available(lists, pipe, candidates, args.query is not None and args.users is None and own is None, own))
    for note in notes:
        console.print(note, markup=False, highlight=False)  # ids and paths are printed as they are
    return 0


def _history_query(pipe: Pipeline, own: np.ndarray, query: str, k: int, candidates: np.ndarray | None, exposure: Exposure) -> UserLists:
    from tailwise.pipeline import UserLists

    res = pipe.query(query, k, candidates, exposure, history=own)
    return UserLists(["history"], res.recs.items, res.recs.scores, np.array([False]), ("",), np.array([res.n_relevant]))


def _available(lists: UserLists, pipe: Pipeline, candidates: np.ndarray | None, query: bool, own: np.ndarray | None) -> np.ndarray:
    """How many items each list could hold: the catalogue (or the candidates) less the items
    never recommended back (a user's training items, the items of --history `own`)."""
    allowed = np.zeros(len(pipe.items), dtype=np.float32)
    allowed[slice(None) if candidates is None else candidates] = 1.0
    if query:
        return np.full(len(lists.user_ids), allowed.sum())
    if own is not None:
        return np.full(1, allowed.sum() - allowed[np.unique(own)].sum())
    idx = pipe.users.indices(lists.user_ids, missing=-1)
    seen = np.zeros(len(idx), dtype=np.float32)
    seen[idx >= 0] = pipe.history[idx[idx >= 0]] @ allowed
    return allowed.sum() - seen


def _notes(lists: UserLists, k: int, available: np.ndarray) -> list[str]:
    """What the user should know about the lists: who got the fallback and why, and why a list
    is shorter than `k`."""
    notes = []
    by_reason: dict[str, list[str]] = {}
    for user, why in zip(lists.user_ids, lists.fallback):
        if why:
            by_reason.setdefault(why, []).append(user)
    for why, users in by_reason.items():
        notes.append(f"popularity fallback for {_lists(len(users))} ({why}): {_some(users)}")
    if lists.relevant is not None:  # lists for a query: how many items match it
        lengths = (lists.items >= 0).sum(axis=1)
        none = [u for u, r, why in zip(lists.user_ids, lists.relevant, lists.fallback) if r == 0 and not why]
        if none:
            notes.append(f"the query matches no item's text, so {_lists(len(none))} follow taste alone: {_some(none)}")
        few = [u for u, r, n in zip(lists.user_ids, lists.relevant, lengths) if 0 < r < n]
        if few:
            notes.append(f"{_lists(len(few))} {'starts' if len(few) == 1 else 'start'} with fewer than {k} items that match the query, "
                         f"then items that do not: {_some(few)}")  # fmt: skip
        full = [u for u, r, n in zip(lists.user_ids, lists.relevant, lengths) if r and r == n]
        if full:
            notes.append(f"every item of {_lists(len(full))} matches the query (BM25 and text embeddings): {_some(full)}")
    lengths = (lists.items >= 0).sum(axis=1)
    short = lengths < k
    explained = short & (lengths == available)
    if explained.any():
        users = [u for u, e in zip(lists.user_ids, explained) if e]
        notes.append(
            f"{_lists(len(users))} {'holds' if len(users) == 1 else 'hold'} fewer than {k} items, because no more may be recommended "
            f"(the catalogue or the candidates, less the user's own items): {_some(users)}"
        )
    if (short & ~explained).any():  # not expected: every stage fills a list while it can
        notes.append(f"{_lists(int((short & ~explained).sum()))} with fewer than {k} items although more could be recommended")
    return notes


def _lists(n: int) -> str:
    return f"{n:,} list" if n == 1 else f"{n:,} lists"


def _some(users: list[str]) -> str:
    """Up to five user ids, then how many more."""
    return ", ".join(users[:5]) + (f" and {len(users) - 5:,} more" if len(users) > 5 else "")


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

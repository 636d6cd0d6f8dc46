"""Options and helpers shared by the subcommands: data loading, model parameters, progress."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.console import Console

from tailwise.data.dataset import Dataset
from tailwise.errors import DataError
from tailwise.models.params import literal

console = Console(stderr=True)

#: the default memory budget in the help text: :data:`tailwise.models.memory.DEFAULT_SHARE`
#: (not imported here, so that ``tailwise --help`` loads no model)
DEFAULT_BUDGET_HELP = "50% of this machine's total physical memory"


def add_data_options(p: argparse.ArgumentParser, require_items: bool = False) -> None:
    """Where the data comes from: files with column options, or a known folder format."""
    g = p.add_argument_group("data (pick one source)")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--interactions", type=Path, help="CSV/TSV/Parquet/JSONL with user_id,item_id[,rating][,timestamp]")
    src.add_argument("--movielens", type=Path, metavar="DIR|NAME", help="a MovieLens folder, or a name downloaded and cached on first use: ml-100k, ml-1m, ml-latest-small, ml-20m, ml-25m, ml-32m (cache: $TAILWISE_DATA, default ~/.cache/tailwise/data)")
    src.add_argument("--amazon", type=Path, metavar="DIR|CATEGORY", help="an Amazon folder (interactions.csv + *.text), or an Amazon Reviews 2023 category downloaded on first use, e.g. All_Beauty")
    src.add_argument("--demo-data", action="store_true", help="the bundled ml-latest-small")
    g.add_argument("--items", type=Path, required=require_items, help="item file: item_id plus text columns")
    g.add_argument("--text-cols", help="comma-separated columns joined into item text (default: every other column)")
    g.add_argument("--user-col", default="user_id", help="user id column (default: user_id)")
    g.add_argument("--item-col", default="item_id", help="item id column (default: item_id)")
    g.add_argument("--rating-col", default="auto", help="rating column; 'none' to ignore (default: 'rating' if present)")
    g.add_argument("--timestamp-col", default="auto", help="timestamp column; 'none' to ignore (default: 'timestamp' if present)")
    g.add_argument("--format", choices=["csv", "tsv", "parquet", "jsonl"], help="file format (default: from the file name)")
    g.add_argument("--sep", help="field separator of delimited files (e.g. ';' or '::')")
    g.add_argument("--encoding", default="utf-8", help="text encoding (default: utf-8)")
    g.add_argument("--on-duplicate", choices=["last", "first", "error"], default="last", help="repeated (user, item) pairs: keep the last (default), the first, or stop")
    g.add_argument("--on-missing-text", choices=["keep", "drop", "error"], default="keep", help="items without text: keep with empty text (default), drop, or stop")


def load_data(args: argparse.Namespace) -> Dataset:
    """Load the dataset the data options name, showing a spinner."""
    from tailwise.data import Columns, load_amazon, load_dataset, load_demo, load_movielens

    with status("Loading data"):
        if args.demo_data:
            return load_demo()
        if args.movielens:
            return load_movielens(args.movielens, _split_cols(args.text_cols))
        if args.amazon:
            return load_amazon(args.amazon, on_duplicate=args.on_duplicate)
        cols = Columns(args.user_col, args.item_col, _opt(args.rating_col), _opt(args.timestamp_col))
        return load_dataset(
            args.interactions, args.items, cols, text_cols=_split_cols(args.text_cols),
            fmt=args.format, sep=args.sep, encoding=args.encoding,
            on_duplicate=args.on_duplicate, on_missing_text=args.on_missing_text,
        )  # fmt: skip


def _opt(value: str) -> str | None:
    return None if value.lower() == "none" else value


def _split_cols(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def parse_params(pairs: list[str] | None) -> dict[str, dict[str, object]]:
    """``MODEL.KEY=VALUE`` (or ``KEY=VALUE`` for every model) -> {model or '*': {key: value}}."""
    out: dict[str, dict[str, object]] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise DataError(f"--param must look like key=value or model.key=value, not {pair!r}")
        key, raw = pair.split("=", 1)
        model, _, name = key.rpartition(".")
        out.setdefault(model or "*", {})[name] = literal(raw)
    return out




def params_for(name: str, params: dict[str, dict[str, object]], strict: bool = False) -> dict[str, object]:
    """Parameters for model `name`: the shared ``KEY=VALUE`` ones, then its own.

    With `strict` (one model, as in ``fit``) every shared key goes to the model, so a typo is an
    error; otherwise (several models) each model takes only the shared keys it accepts.
    """
    shared = params.get("*", {})
    if not strict:
        shared = {k: v for k, v in shared.items() if k in _accepted(name)}
    return {**shared, **params.get(name, {})}


def add_memory_option(p: argparse.ArgumentParser) -> None:
    """--memory-budget SIZE, for the commands that fit models: a fit estimated above it stops
    before it starts (exit 2), naming the estimate and a model to use instead."""
    p.add_argument(
        "--memory-budget", type=memory_budget, metavar="SIZE",
        help=f"memory a model's fit may use, e.g. 12G, 800MB, 512MiB or 75%% (default: {DEFAULT_BUDGET_HELP.replace('%', '%%')}); "
        "EASE and item-kNN estimate their need and stop before starting above it; the hybrid "
        "takes its factor backbone instead of EASE",
    )  # fmt: skip


def memory_budget(text: str) -> int:
    """Bytes from a --memory-budget value (:func:`tailwise.models.memory.parse_budget`)."""
    from tailwise.models.memory import parse_budget

    try:
        return parse_budget(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_text_options(p: argparse.ArgumentParser) -> None:
    """Options of the text-aware models (content, adapter, hybrid, twotower)."""
    g = p.add_argument_group("language model")
    g.add_argument("--encoder", help="text encoder: use (default), minilm, onnx-minilm, e5, tfidf, st:NAME-OR-PATH, openai:MODEL@URL")
    g.add_argument("--cache-dir", help="embedding cache folder (default: $TAILWISE_CACHE or ~/.cache/tailwise/embeddings)")


def text_params(args: argparse.Namespace, name: str) -> dict[str, object]:
    """--encoder and --cache-dir as parameters, for the models that take them."""
    given = {"encoder": getattr(args, "encoder", None), "cache_dir": getattr(args, "cache_dir", None)}
    return {k: v for k, v in given.items() if v and k in _accepted(name)}


def _accepted(name: str) -> set[str]:
    from tailwise.models import MODELS

    return set(MODELS[name].param_rules) if name in MODELS else set()


def refuse_overwrite(target: Path, option: str, inputs: Iterable[Path | None]) -> None:
    """Stop before `target` (the path of `option`) would replace or remove a file given as
    input: it is one of `inputs`, one of them lies inside it, or it is an existing file inside
    an input folder (a model directory's manifest, say)."""
    where = target.resolve()
    for given in inputs:
        if given is None:
            continue
        path = given.resolve()
        if path == where or where in path.parents:
            what = "is an input of this command and would be overwritten" if path == where else f"holds the input {given}, which would be lost"
            raise DataError(f"{option} {what}; choose another path", path=target)
        if path in where.parents and where.exists():
            raise DataError(f"{option} is a file of the input {given} and would be overwritten; choose another path", path=target)


def refuse_non_model_dir(target: Path, option: str, force: bool) -> None:
    """Stop before a model directory is written over something that is not one: an existing
    file, or a directory that is neither empty nor a tailwise model directory (unless `force`)."""
    from tailwise.artifacts import is_model_dir

    if force or not (target.exists() or target.is_symlink()):
        return
    if target.is_dir() and (is_model_dir(target) or not any(target.iterdir())):
        return
    kind = "a file" if not target.is_dir() else "a directory that is not a tailwise model directory (no manifest.json)"
    raise DataError(f"{option} is {kind}, which would be replaced; choose another path or pass --force", path=target)


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner on stderr while a step runs (silent when stderr is not a terminal)."""
    with console.status(message):
        yield


def read_id_lines(path: Path, what: str, header: str) -> list[str]:
    """Ids from a file with one id per line; blank lines and a first line equal to `header` skip."""
    from tailwise.data.tables import read_text

    lines = [line.strip() for line in read_text(path).splitlines()]
    if lines and lines[0] == header:
        lines = lines[1:]
    ids = [line for line in lines if line]
    if not ids:
        raise DataError(f"no {what} ids in the file", path=path)
    return ids


def add_service_options(p: argparse.ArgumentParser, model_dir_help: str = "the served model directory") -> None:
    """--model-dir, --db and --secret-file: where a served model keeps its data (serve,
    retrain, forget)."""
    p.add_argument("--model-dir", type=Path, required=True, help=model_dir_help)
    p.add_argument("--db", type=Path, help="the SQLite feedback database (default: MODEL_DIR/../NAME.feedback.sqlite)")
    p.add_argument("--secret-file", type=Path, help="the pseudonymisation secret the service uses (or set TAILWISE_SECRET)")

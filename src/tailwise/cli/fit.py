"""``tailwise fit``: fit one model on an interactions file and write a model directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from tailwise.cli.common import (
    add_data_options,
    add_memory_option,
    add_text_options,
    console,
    load_data,
    params_for,
    parse_params,
    refuse_non_model_dir,
    refuse_overwrite,
    status,
    text_params,
)  # fmt: skip
from tailwise.errors import DataError
from tailwise.eval.summary import DEFAULT_MODEL


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a model and write a model directory",
        description="Fit one recommender on the interactions and write a model directory "
        "(manifest.json + arrays, no pickle) that `tailwise recommend` loads.",
    )
    add_data_options(p)
    p.add_argument("--model-dir", type=Path, required=True, help="directory to write: new, empty, or a model directory (replaced atomically)")
    p.add_argument("--force", action="store_true", help="replace --model-dir even when it is a file or a directory that is not a model directory (never an input)")
    p.add_argument("--model", help=f"popular, itemknn, ease, als, bpr, content, adapter, hybrid or twotower (default: the --params file's model, else {DEFAULT_MODEL})")
    p.add_argument("--params", type=Path, metavar="FILE.json", help="hyperparameters from a JSON file: the output of `tailwise tune`, or an object of KEY: VALUE")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="model hyperparameter, e.g. --param l2=300 (repeatable; overrides --params)")
    add_memory_option(p)
    add_text_options(p)
    p.set_defaults(run=run)


def model_and_file_params(model: str | None, path: Path | None) -> tuple[str, dict[str, object]]:
    """The model to fit (--model, else the params file's, else the default) and the params
    file's values; a file tuned for another model than --model is refused."""
    if path is None:
        return model or DEFAULT_MODEL, {}
    from tailwise.eval.tune_results import read_params_file

    file_model, params = read_params_file(path)
    if model and file_model and model != file_model:
        raise DataError(f"the params file was tuned for model {file_model!r}, not --model {model!r}", path=path)
    return model or file_model or DEFAULT_MODEL, params


def run(args: argparse.Namespace) -> int:
    from tailwise.models import make_model
    from tailwise.pipeline import Pipeline

    inputs = (args.interactions, args.items, args.movielens, args.amazon, args.params)
    refuse_overwrite(args.model_dir, "--model-dir", inputs)
    refuse_non_model_dir(args.model_dir, "--model-dir", args.force)
    args.model, from_file = model_and_file_params(args.model, args.params)
    params = {**from_file, **text_params(args, args.model), **params_for(args.model, parse_params(args.param), strict=True)}
    model = make_model(args.model, **params)  # bad parameters fail here, before the data is read
    dataset = load_data(args)
    with status(f"Fitting {args.model} on {dataset.n_interactions:,} interactions"):
        pipe = Pipeline.fit(model, dataset, memory_budget=args.memory_budget)
    with status("Writing the model directory"):
        pipe.save(args.model_dir)
    console.print(
        f"fitted [bold]{args.model}[/] on {dataset.n_users:,} users x {dataset.n_items:,} items "
        f"in {pipe.meta['fit_seconds']:.2f}s -> {args.model_dir}"
    )
    for key, value in pipe.meta["fit_info"].items():
        console.print(f"{key}: {value}")
    return 0

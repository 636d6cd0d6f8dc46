"""``tailwise finetune``: fine-tune a sentence-transformers encoder on co-interaction pairs."""

from __future__ import annotations

import argparse
from pathlib import Path

from tailwise.cli.common import add_data_options, console, load_data
from tailwise.errors import DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune",
        help="fine-tune a text encoder on items consumed together (optional, needs torch)",
        description="Fine-tune a sentence-transformers encoder so that items the same user "
        "consumed get closer embeddings (in-batch negatives), and write a model directory to "
        "use as --encoder st:DIR with the text models. Needs item text and the 'torch' extra; "
        "runs on a GPU when one is available.",
    )
    add_data_options(p)
    g = p.add_argument_group("fine-tuning")
    g.add_argument("--output", type=Path, required=True, metavar="DIR", help="model directory to write (replaced atomically)")
    g.add_argument("--base", default="minilm", help="model to start from: minilm (default, packaged offline), st:NAME-OR-PATH, a local folder or a hub name")
    g.add_argument("--epochs", type=int, default=1, help="passes over the pairs (default: 1)")
    g.add_argument("--max-pairs", type=int, default=20000, help="most co-interaction pairs to train on (default: 20000)")
    g.add_argument("--batch-size", type=int, default=32, help="pairs per step; the others in a batch are the negatives (default: 32)")
    g.add_argument("--lr", type=float, default=2e-5, help="peak learning rate (default: 2e-5)")
    g.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    g.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from tailwise.text.base import ensure_installed
    from tailwise.text.finetune import finetune_encoder, item_has_text

    ensure_installed("torch", "Fine-tuning the encoder")  # before loading any data
    ensure_installed("sentence_transformers", "Fine-tuning the encoder")
    dataset = load_data(args)
    if not item_has_text(dataset).any():
        raise DataError(
            "the data has no item text, and fine-tuning learns from item texts: "
            "give an item file with text columns (--items FILE, --text-cols)"
        )
    path = finetune_encoder(
        dataset, base=args.base, output_dir=args.output, epochs=args.epochs,
        batch_size=args.batch_size, max_pairs=args.max_pairs, lr=args.lr, seed=args.seed,
        device=args.device,
    )  # fmt: skip
    console.print(f"fine-tuned [bold]{escape(args.base)}[/] -> {escape(str(path))}", soft_wrap=True)
    console.print(f"use it with the text models: [bold]--encoder st:{escape(str(path))}[/]", soft_wrap=True)
    return 0

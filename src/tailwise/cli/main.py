"""The ``tailwise`` command: thin subcommands over the library."""

from __future__ import annotations

import argparse
import logging
import sys

from tailwise import __version__
from tailwise.cli import (
    demo,
    evaluate,
    feedback,
    finetune,
    fit,
    forget,
    keys,
    recommend,
    report,
    retrain,
    serve,
    spark,
    tradeoff,
    tune,
)
from tailwise.errors import TailwiseError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailwise",
        description="Recommendations that bring the long tail in. Fit, recommend and evaluate "
        "collaborative-filtering and language-model recommenders on your interaction log.",
    )
    parser.add_argument("--version", action="version", version=f"tailwise {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in (fit, tune, recommend, evaluate, report, tradeoff, finetune, serve, keys, retrain, forget, feedback, spark, demo):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (TailwiseError, ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"tailwise: error: {message}", file=sys.stderr)
        return 2
    except MemoryError:
        print("tailwise: error: not enough memory for this run; use less data, a smaller --k or fewer users", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tailwise: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``python -m tailwise.text.worker``: embed item texts into the embedding cache for another
process.

A long-running process (the HTTP service) starts it to have large batches of item texts
encoded outside its own interpreter, whose lock its requests need. It reads one JSON request per
line on stdin, ``{"encoder", "max_tokens", "cache_dir", "texts"}`` (a :class:`TextSide`'s
settings), embeds the texts through the on-disk cache exactly as that side would (so the other
process then finds them cached) and answers one JSON line on stdout, ``{"encoded": n}`` (texts
that were not cached yet) or ``{"error": "..."}``. It runs with one BLAS thread, at the
scheduling priority given by ``--nice``, keeps its encoders loaded, and ends when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from tailwise.text.side import TextSide, keep_loaded


def serve(lines: TextIO, out: TextIO) -> None:
    """Answer every request line of `lines` on `out` (see the module docstring)."""
    with keep_loaded():
        for line in lines:
            try:
                job = json.loads(line)
                side = TextSide(str(job["encoder"]), int(job["max_tokens"]), job.get("cache_dir"), progress=False)
                side.embed([str(t) for t in job["texts"]])
                answer = {"encoded": side.last_encoded}
            except Exception as exc:  # noqa: BLE001 - reported to the caller, who embeds in place
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(answer) + "\n")
            out.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tailwise.text.worker", description=__doc__.split("\n\n")[0])
    ap.add_argument("--nice", type=int, default=0, help="lower the scheduling priority by this much (Unix)")
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    if args.nice and hasattr(os, "nice"):
        os.nice(args.nice)
    with threadpool_limits(1, "blas"):
        serve(sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Item texts embedded in a worker process, ahead of placing the items (bulk ``POST /items``).

Placing a new item is mostly encoding its text (the USE encoder's pure-Python tokeniser and its
matrix products: about 10 ms an item). Done in the service's own process, that work holds the
interpreter lock for long stretches, and every request waits for it at each hand-over between
the event loop and the worker threads. So for a large upload the service hands the texts to one
worker process (``python -m tailwise.text.worker``, at a lower scheduling priority) first; it
writes their embeddings into the shared on-disk embedding cache (:mod:`tailwise.text.cache` is
safe across processes), and the service then places each batch from cached embeddings. The
worker embeds batch n + 1 while the service places batch n.

The worker is a plain subprocess talking JSON lines over pipes (not :mod:`multiprocessing`,
which would import the main script of whatever embeds the service again in the child).
Everything here is an optimisation: a worker that cannot start, fails or is too slow only means
the service embeds the texts itself, as it does for small uploads.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator

from tailwise.text.side import TextSide, needs_catalogue

log = logging.getLogger(__name__)

#: uploads with at least this many texts are embedded in the worker process (starting it costs
#: a second or two, about as long as embedding 200 texts in place)
OFFLOAD_MIN_TEXTS = 400
#: seconds to wait for the worker's embeddings of one batch before embedding them in place
WAIT_S = 300.0
#: the worker's scheduling priority below the service's (Unix ``nice``): on a busy machine the
#: requests get the processor first and the upload takes the time that is left
WORKER_NICE = 10


class TextOffload:
    """One worker process, started on first use, that embeds item texts into the cache."""

    def __init__(self, min_texts: int = OFFLOAD_MIN_TEXTS) -> None:
        self.min_texts = min_texts
        self.encoded = 0  # texts the worker encoded (not found in the cache), for tests and logs
        self._proc: subprocess.Popen | None = None
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._answers: queue.Queue[dict | None] = queue.Queue()
        self._lock = threading.Lock()  # one upload at a time talks to the worker

    def cached(self, side: TextSide | None, batches: list[list[str]]) -> Iterator[int]:
        """Yield each batch's index, in order, once the worker has put its texts in the cache.

        Keeps one batch queued ahead in the worker. Small uploads, models without a text side
        and encoders fitted on the catalogue are not sent (the indices come at once); after a
        failure the rest come at once too (the caller embeds them in place)."""
        if side is None or sum(map(len, batches)) < self.min_texts or needs_catalogue(side.encoder):
            yield from range(len(batches))
            return
        job = {"encoder": side.encoder, "max_tokens": side.max_tokens, "cache_dir": side.cache_dir}
        with self._lock:
            sent = received = 0
            working = True
            try:
                for n in range(len(batches)):
                    while working and sent < min(n + 2, len(batches)):
                        working = self._send({**job, "texts": batches[sent]})
                        sent += working
                    if working and n < sent:
                        working = self._receive()
                        received += 1
                    yield n
            finally:
                if received < sent:
                    self._stop()  # the upload ended early or the worker failed: drop its queue

    def close(self) -> None:
        """Stop the worker process."""
        with self._lock:
            self._stop()

    # ------------------------------------------------------------------ the worker
    def _send(self, job: dict) -> bool:
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            self._jobs.put(json.dumps(job) + "\n")
            return True
        except OSError as exc:
            log.warning("could not start a worker process to embed item texts (%s); embedding them in place", exc)
            self._stop()
            return False

    def _receive(self) -> bool:
        try:
            answer = self._answers.get(timeout=WAIT_S)
        except queue.Empty:
            answer = {"error": f"no answer within {WAIT_S:.0f} s"}
        if answer is None or "error" in answer:
            why = "it exited" if answer is None else answer["error"]
            log.warning("the worker process did not embed a batch of item texts (%s); embedding in place", why)
            self._stop()
            return False
        self.encoded += int(answer["encoded"])
        return True

    def _start(self) -> None:
        cmd = [sys.executable, "-m", "tailwise.text.worker", "--nice", str(WORKER_NICE)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self._proc, self._jobs, self._answers = proc, queue.Queue(), queue.Queue()
        # the pipes get their own threads: a request of 100 KB waits until the worker reads it
        threading.Thread(target=_write, args=(self._jobs, proc.stdin), name="tailwise-embed-jobs", daemon=True).start()
        threading.Thread(target=_read, args=(proc.stdout, self._answers), name="tailwise-embed-answers", daemon=True).start()

    def _stop(self) -> None:
        """End the worker at once (its cache writes are atomic: nothing is left half-written)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            self._jobs.put(None)
            proc.kill()
            proc.wait(timeout=30)


def _write(jobs: queue.Queue, stream) -> None:
    """Hand queued request lines to the worker until None comes (or the worker is gone)."""
    try:
        while (line := jobs.get()) is not None:
            stream.write(line)
            stream.flush()
    except (OSError, ValueError):  # the worker was stopped
        pass
    finally:
        try:
            stream.close()
        except OSError:
            pass


def _read(stream, answers: queue.Queue) -> None:
    """Move the worker's answer lines onto a queue; None when it closes its output."""
    for line in stream:
        try:
            answers.put(json.loads(line))
        except json.JSONDecodeError:
            answers.put({"error": f"unreadable answer {line[:100]!r}"})
    answers.put(None)

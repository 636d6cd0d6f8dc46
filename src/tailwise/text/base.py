"""The text-encoder interface and the batching, progress and normalisation every backend shares.

Every encoder returns float32 rows of unit L2 norm, one per text, in input order. An empty (or
whitespace-only) text is never sent to a model: its row is all zeros, so an item without text has
no content similarity to anything (cosine 0) instead of the arbitrary vector a model gives to
an empty string. Callers that need a fallback for such items (popularity, CF factors) can find
them with ``~vectors.any(axis=1)``.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import numpy as np

from tailwise._compat import require
from tailwise.errors import TailwiseError
from tailwise.ranking import normalise_rows

logger = logging.getLogger(__name__)


class EncoderError(TailwiseError, RuntimeError):
    """An encoder failed to produce vectors (a remote endpoint answered badly, a wrong shape)."""


@runtime_checkable
class TextEncoder(Protocol):
    """What every text encoder offers: a stable id, a dimension and two encode methods.

    Attributes
    ----------
    id : str
        Stable identifier used as the embedding-cache key. It names the model and every setting
        that changes the vectors (e.g. ``"use-m3"``, ``"st:all-MiniLM-L6-v2"``,
        ``"tfidf:<hash>"``), and nothing that does not (threads, device, batch size).
    dim : int
        Length of each vector.
    """

    id: str
    dim: int

    def encode_items(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = True
    ) -> np.ndarray:
        """Encode item texts: float32 ``[n, dim]``, L2-normalised rows, zero rows for empty texts."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode short query texts (no progress bar); same shape and norms as items."""
        ...


def ensure_installed(module: str, purpose: str) -> None:
    """Fail early, without importing it, when an optional `module` is not installed.

    Raises :class:`~tailwise.errors.MissingExtraError` naming the extra to install (through
    :func:`tailwise._compat.require`). Encoders call this in ``__init__`` so a missing extra shows
    at construction, while the (slow) import itself waits until the first encode.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        require(module, purpose)  # raises MissingExtraError with the install hint


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32; all-zero rows stay zero.

    Examples
    --------
    >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    return normalise_rows(x)


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list, rejecting a bare string (which would be encoded letter by letter)."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            "texts must be a sequence of strings, not a single string: wrap it in a list"
        )
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, not str")
    return out


def rate_column(unit: str = "texts") -> Any:
    """A rich progress column showing the `unit` done per second (e.g. ``812 texts/s``)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            text = "" if speed is None else f"{speed:,.0f} {unit}/s"
            return Text(text, style="progress.data.speed")

    return RateColumn()


@contextmanager
def progress_bar(
    total: int, description: str, enabled: bool = True, unit: str = "texts"
) -> Iterator:
    """A rich progress bar on stderr counting `unit` (texts), with their rate (texts/s) and the
    time left; a no-op object when `enabled` is false.

    Yields a callable ``advance(n)``.
    """
    if not enabled or total == 0:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        rate_column(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


class BatchEncoder:
    """Base class of the backends: batching, empty texts, progress and normalisation.

    A subclass sets ``id`` and ``dim`` (attributes or properties) and implements
    :meth:`_encode_batch`, which turns a list of non-empty texts into raw vectors. Non-empty
    texts are encoded longest first so a batch holds texts of similar length (less padding
    for transformer backends), and the rows are put back in input order.
    """

    id: str
    dim: int

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        """Raw vectors ``[len(texts), dim]`` for non-empty texts; normalised afterwards."""
        raise NotImplementedError

    def encode_items(
        self, texts: Sequence[str], batch_size: int = 64, progress: bool = True
    ) -> np.ndarray:
        """Encode item texts.

        Parameters
        ----------
        texts : sequence of str
            One text per item; empty or whitespace-only texts get a zero row.
        batch_size : int
            Texts per model call (also the progress bar's step).
        progress : bool
            Show a progress bar on stderr.

        Returns
        -------
        ndarray of float32, shape (n, dim)
            Unit-norm rows (zero rows for empty texts), in input order.
        """
        return self._encode(check_texts(texts), batch_size, progress, query=False)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Encode query texts (no progress bar); same contract as :meth:`encode_items`."""
        return self._encode(check_texts(texts), 64, False, query=True)

    def _encode(self, texts: list[str], batch_size: int, progress: bool, query: bool) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        todo = [i for i, t in enumerate(texts) if t.strip()]
        todo.sort(key=lambda i: -len(texts[i]))
        dim = self._known_dim() if todo else int(self.dim)
        out = None if dim is None else np.zeros((len(texts), dim), dtype=np.float32)
        label = f"Encoding {'queries' if query else 'items'} ({self.id})"
        with progress_bar(len(todo), label, progress) as advance:
            for start in range(0, len(todo), batch_size):
                rows = todo[start : start + batch_size]
                vecs = np.asarray(self._encode_batch([texts[i] for i in rows], query))
                if out is None and vecs.ndim == 2:  # the first answer tells the dimension
                    dim = vecs.shape[1]
                    out = np.zeros((len(texts), dim), dtype=np.float32)
                if vecs.shape != (len(rows), dim):
                    raise EncoderError(
                        f"encoder {self.id!r} returned shape {vecs.shape} for {len(rows)} texts, "
                        f"expected ({len(rows)}, {dim})"
                    )
                assert out is not None
                out[rows] = vecs
                advance(len(rows))
        assert out is not None
        return l2_normalize(out)

    def _known_dim(self) -> int | None:
        """The dimension if it is known without a model call; None lets the first batch tell."""
        return int(self.dim)

"""Errors tailwise raises for bad input, missing extras and misuse."""

from __future__ import annotations

from pathlib import Path


class TailwiseError(Exception):
    """Base class of every error tailwise raises on purpose."""


class DataError(TailwiseError, ValueError):
    """Bad input data, located by file, line and field where they are known.

    Parameters
    ----------
    message : str
        What is wrong, in words a user can act on.
    path : str or Path, optional
        The file the problem is in.
    line : int, optional
        1-based line number in that file (the header is line 1 for CSV files).
    field : str, optional
        The column or field name.

    Examples
    --------
    >>> str(DataError("rating is not a number: 'abc'", path="r.csv", line=3, field="rating"))
    "r.csv, line 3, field 'rating': rating is not a number: 'abc'"
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.path is not None:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class ParameterError(TailwiseError, ValueError):
    """A model hyperparameter of the wrong type or outside its range.

    Parameters
    ----------
    message : str
        What is wrong and what is allowed.
    model : str
        The model's name.
    param : str
        The parameter's name.
    """

    def __init__(self, message: str, model: str, param: str) -> None:
        self.model = model
        self.param = param
        super().__init__(message)


class MissingExtraError(TailwiseError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class NumericalError(TailwiseError, ArithmeticError):
    """A fit gave NaN or infinite values: its parameters or data are outside a workable range."""


class NotFittedError(TailwiseError, RuntimeError):
    """A model was used before `fit` was called."""


class ColdStartError(TailwiseError, TypeError):
    """The model cannot score items it knows only by their text (it has no text side, or its
    encoder is fitted on the catalogue)."""


class MemoryBudgetError(TailwiseError, MemoryError):
    """A fit would need more memory than its budget (:mod:`tailwise.models.memory`); raised
    before the large arrays are allocated, with the estimate, the budget and what to use
    instead in the message."""

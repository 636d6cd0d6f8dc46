"""Memory budgets: models with dense item x item arrays estimate their fit's peak and refuse
up front when it is above the budget, instead of failing half-way with a MemoryError.

The default budget is a fixed share (:data:`DEFAULT_SHARE`) of the machine's total physical
memory, not of the memory available now, so whether a fit is refused does not depend on what
else the machine is running. Sizes are in decimal units throughout: ``1 GB = 10**9`` bytes
(``GiB`` and the other binary units are accepted by :func:`parse_budget`, and mean powers of 1024).

Examples
--------
>>> parse_budget("12G") == parse_budget("12GB") == 12 * 10**9
True
>>> format_bytes(parse_budget("512MiB"))
'536.9 MB'
>>> refuse_above("ease", 2 * 10**9, 10**9, "--model als")
Traceback (most recent call last):
...
tailwise.errors.MemoryBudgetError: ease needs about 2.0 GB, above the memory budget of 1.0 GB; use --model als, or raise --memory-budget
"""

from __future__ import annotations

import logging
import os
import re

from tailwise.errors import MemoryBudgetError

log = logging.getLogger(__name__)

#: the default budget's share of the machine's total physical memory
DEFAULT_SHARE = 0.5

#: assumed total memory where the operating system does not say (8 GB)
FALLBACK_TOTAL = 8 * 10**9

_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_FORMS = "a size such as 800M, 12G, 12GB, 512MiB, 1.5T or 1000000 (bytes), or a share of total memory such as 50%"
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")


def total_memory() -> int:
    """The machine's total physical memory in bytes (``SC_PHYS_PAGES * SC_PAGE_SIZE``), or
    :data:`FALLBACK_TOTAL` where the system does not tell (no ``os.sysconf``, as on Windows)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        total = 0
    if total > 0:
        return int(total)
    log.info("total physical memory unknown; assuming %s", format_bytes(FALLBACK_TOTAL))
    return FALLBACK_TOTAL


def default_budget() -> int:
    """:data:`DEFAULT_SHARE` of :func:`total_memory`, in bytes."""
    return int(total_memory() * DEFAULT_SHARE)


def parse_budget(text: str) -> int:
    """A memory budget in bytes from `text`: a size with an optional unit (``800M``, ``12G``,
    ``12GB``, ``512MiB``, ``1.5T``; no unit: bytes; K/M/G/T are decimal, KiB/MiB/GiB/TiB binary;
    case does not matter) or a share of :func:`total_memory` (``50%``).

    Raises
    ------
    ValueError
        Naming the value and the accepted forms, for anything else or a budget that is not
        above 0 bytes.
    """
    raw = str(text).strip()
    value = raw.lower()
    if value.endswith("%"):
        try:
            share = float(value[:-1])
        except ValueError:
            share = -1.0
        budget = int(total_memory() * share / 100) if 0 < share <= 100 else 0
        if not budget:
            raise ValueError(
                f"memory budget {raw!r} is not a share of total memory above 0% and at most 100%; use {_FORMS}"
            )
        return budget
    match = _SIZE.fullmatch(value)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(f"memory budget {raw!r} is not a size; use {_FORMS}")
    budget = int(float(match.group(1)) * _UNITS[match.group(2)])
    if budget <= 0:
        raise ValueError(f"memory budget {raw!r} must be above 0 bytes; use {_FORMS}")
    return budget


def format_bytes(n: int) -> str:
    """`n` bytes in decimal units with one decimal: ``"36.2 GB"`` is 36.2 * 10**9 bytes.

    >>> format_bytes(38_919_500_000), format_bytes(999), format_bytes(12 * 10**9)
    ('38.9 GB', '999 bytes', '12.0 GB')
    """
    n = int(n)
    if abs(n) < 1000:
        return f"{n} bytes"
    for power, unit in enumerate(("kB", "MB", "GB"), start=1):
        if abs(n) / 1000**power < 999.95:
            return f"{n / 1000**power:.1f} {unit}"
    return f"{n / 1000**4:.1f} TB"


def refuse_above(model: str, estimate: int, budget: int, instead: str, what: str = "") -> None:
    """Raise :class:`~tailwise.errors.MemoryBudgetError` when `estimate` is above `budget`.

    The message names the model, the estimate (and `what` it is for, e.g. ``"for 98,640
    items with interactions (a dense items x items matrix)"``), the budget, what to use
    `instead` (e.g. ``"--model als"``) and ``--memory-budget``.
    """
    if estimate <= budget:
        return
    detail = f" {what}" if what else ""
    alternative = f"use {instead}, or raise --memory-budget" if instead else "raise --memory-budget"
    raise MemoryBudgetError(
        f"{model} needs about {format_bytes(estimate)}{detail}, above the memory budget of "
        f"{format_bytes(budget)}; {alternative}"
    )

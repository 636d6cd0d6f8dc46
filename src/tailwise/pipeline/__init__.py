"""The pipeline of stages every list goes through: candidates -> scores -> re-ranking -> top-k.

:class:`Pipeline` is the one object the command line, the evaluator and the service hold;
:mod:`tailwise.pipeline.stages` has the stages themselves.
"""

from __future__ import annotations

from tailwise.pipeline.core import (
    COLD_HISTORY,
    EMPTY_HISTORY,
    FLAT_SCORES,
    NO_QUERY_MATCH,
    QUERY_SEEDS,
    UNKNOWN_USER,
    Pipeline,
    UserLists,
)

__all__ = ["COLD_HISTORY", "EMPTY_HISTORY", "FLAT_SCORES", "NO_QUERY_MATCH", "QUERY_SEEDS", "UNKNOWN_USER", "Pipeline", "UserLists"]

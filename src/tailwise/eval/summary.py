"""Plain-language summaries of results: what the default model gains and costs, what a sweep found.

Pure functions over metric rows (dicts with ``model``, ``ndcg``, ``tail_recall``, ...), shared by
the terminal (``tailwise demo``, ``evaluate``, ``report``) and the HTML report, so both say the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: the model ``tailwise fit`` uses when none is named
DEFAULT_MODEL = "hybrid"


def _num(row: dict, key: str) -> float:
    v = row.get(key)
    return float(v) if isinstance(v, int | float) and not math.isnan(float(v)) else math.nan


def _times(a: float, b: float) -> str:
    if b <= 0:
        return "where the other finds none" if a > 0 else "as does the other"
    r = a / b
    return f"{r:.1f}x" if r < 10 else f"{r:.0f}x"


def default_summary(rows: Sequence[dict], k: int, default: str = DEFAULT_MODEL) -> list[str]:
    """Sentences on the default model against the most accurate other model (by NDCG).

    Examples
    --------
    >>> rows = [{"model": "ease", "ndcg": 0.40, "tail_recall": 0.01, "coverage": 0.05},
    ...         {"model": "hybrid", "ndcg": 0.39, "tail_recall": 0.05, "coverage": 0.20}]
    >>> print("\\n".join(default_summary(rows, 20)))
    The default model, hybrid, reaches NDCG@20 0.3900: 97.5% of ease's 0.4000 (ease is the most accurate other model here).
    It finds 0.0500 of the held-out long-tail items (tail recall@20) against ease's 0.0100: 5.0x.
    It recommends 20.0% of the catalogue to someone, against ease's 5.0%.
    """
    named = [r for r in rows if r.get("model")]
    mine = next((r for r in named if r["model"] == default), None)
    others = [r for r in named if r["model"] != default and math.isfinite(_num(r, "ndcg"))]
    if not others:
        return []
    peer = max(others, key=lambda r: _num(r, "ndcg"))
    p = peer["model"]
    if mine is None:
        tail = max(others, key=lambda r: _num(r, "tail_recall") if math.isfinite(_num(r, "tail_recall")) else -1)
        return [
            (
                f"The default model ({default}) was not evaluated. Most accurate: {p} "
                f"(NDCG@{k} {_num(peer, 'ndcg'):.4f}); most tail recall: {tail['model']} "
                f"({_num(tail, 'tail_recall'):.4f})."
            )
        ]
    nd, pnd = _num(mine, "ndcg"), _num(peer, "ndcg")
    if nd >= pnd:
        out = [f"The default model, {default}, is the most accurate here: NDCG@{k} {nd:.4f} against {p}'s {pnd:.4f}, the next best."]
    else:
        out = [
            (
                f"The default model, {default}, reaches NDCG@{k} {nd:.4f}: {nd / pnd:.1%} of {p}'s "
                f"{pnd:.4f} ({p} is the most accurate other model here)."
            )
        ]
    tr, ptr = _num(mine, "tail_recall"), _num(peer, "tail_recall")
    if math.isfinite(tr) and math.isfinite(ptr):
        if tr >= ptr:
            out.append(
                f"It finds {tr:.4f} of the held-out long-tail items (tail recall@{k}) against "
                f"{p}'s {ptr:.4f}: {_times(tr, ptr)}."
            )
        else:
            out.append(f"It finds fewer held-out long-tail items than {p}: tail recall@{k} {tr:.4f} against {ptr:.4f}.")
    cov, pcov = _num(mine, "coverage"), _num(peer, "coverage")
    if math.isfinite(cov) and math.isfinite(pcov):
        out.append(f"It recommends {cov:.1%} of the catalogue to someone, against {p}'s {pcov:.1%}.")
    fit, pfit = _num(mine, "fit_s"), _num(peer, "fit_s")
    if math.isfinite(fit) and math.isfinite(pfit) and pfit > 0:
        out.append(f"Fitting it took {fit:.1f} s against {pfit:.1f} s for {p}.")
    return out


def sweep_summary(rows: Sequence[dict], keep: float = 0.98) -> list[str]:
    """One sentence per (model, re-ranker) of a trade-off sweep: how far the tail weight goes
    while NDCG stays at least `keep` of the model's own (tail weight 0), and what it buys.

    Examples
    --------
    >>> rows = [{"model": "ease", "rerank": "xquad", "tail_weight": w, "ndcg": n, "tail_recall": t}
    ...         for w, n, t in [(0.0, 0.40, 0.01), (0.5, 0.395, 0.03), (1.0, 0.30, 0.08)]]
    >>> print(sweep_summary(rows)[0])
    ease + xquad: up to tail weight 0.5 NDCG stays within 98% of its own (0.3950 vs 0.4000) and tail recall goes from 0.0100 to 0.0300; at 1 it is 0.3000 and 0.0800.
    >>> rows[1]["tail_recall"] = 0.005
    >>> print(sweep_summary(rows)[0])
    ease + xquad: up to tail weight 0.5 NDCG stays within 98% of its own (0.3950 vs 0.4000) and tail recall goes from 0.0100 to 0.0050 (less than the model's own lists give: xquad replaces its default exposure stage); at 1 it is 0.3000 and 0.0800.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((str(r.get("model")), str(r.get("rerank") or "none")), []).append(r)
    out = []
    for (model, rr), g in groups.items():
        g = sorted(g, key=lambda r: _num(r, "tail_weight"))
        base = next((r for r in g if _num(r, "tail_weight") == 0), g[0])
        b_nd, b_tr = _num(base, "ndcg"), _num(base, "tail_recall")
        ok = [r for r in g if _num(r, "ndcg") >= keep * b_nd]
        best = max(ok, key=lambda r: _num(r, "tail_weight")) if ok else base
        last = g[-1]
        tr = _num(best, "tail_recall")
        text = (
            f"{model} + {rr}: up to tail weight {_num(best, 'tail_weight'):g} NDCG stays within "
            f"{keep:.0%} of its own ({_num(best, 'ndcg'):.4f} vs {b_nd:.4f}) and tail recall goes "
            f"from {b_tr:.4f} to {tr:.4f}"
        )
        if tr < b_tr:  # weight 0 is the model's own lists, with its default exposure stage
            text += f" (less than the model's own lists give: {rr} replaces its default exposure stage)"
        if last is not best:
            text += (
                f"; at {_num(last, 'tail_weight'):g} it is {_num(last, 'ndcg'):.4f} and "
                f"{_num(last, 'tail_recall'):.4f}"
            )
        out.append(text + ".")
    return out

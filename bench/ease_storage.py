"""How to store EASE's dense weights in a model directory: the options measured on the bundled sample.

    python bench/ease_storage.py

Fits EASE (l2 = 150, what the demo's hybrid chooses) on every rating of the bundled
ml-latest-small (9,724 items with interactions) and measures, for its 9,724 x 9,724 float32
weights: the dense array stored and deflated; the packed form of
``tailwise.models.ease_weights`` (one triangle plus the other's distances in units in the last
place) stored and deflated at level 1 (what ``Pipeline.save`` writes), its pack and unpack CPU
seconds and whether it unpacks to the same bits; float16 weights (how many of the 610 users'
top-20 lists change, how far scores move); a refit at load time (its CPU seconds, and whether
one BLAS thread gives the same bits). Writes ``bench/results/ease_storage.json``.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tailwise.artifacts import write_npz
from tailwise.data import load_demo
from tailwise.models.ease import EASE, item_gram
from tailwise.models.ease_weights import pack_weights, unpack_weights

OUT = Path(__file__).resolve().parent / "results" / "ease_storage.json"
L2 = 150.0


def npz_mb(arrays: dict[str, np.ndarray], compress: bool) -> tuple[float, float]:
    """Size in MB of the arrays as one .npz, and the CPU seconds of writing it."""
    buf = io.BytesIO()
    t = time.process_time()
    write_npz(buf, arrays, compress=compress)
    return round(len(buf.getvalue()) / 1e6, 1), round(time.process_time() - t, 2)


def top20(rows, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(rows @ weights)
    scores[rows.nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :20]
    return top, np.take_along_axis(scores, top, 1)


def main() -> None:
    train = load_demo().matrix()
    t = time.process_time()
    active, gram = item_gram(train)
    model = EASE(l2=L2)
    model.fit_gram(active, gram)
    fit_cpu = time.process_time() - t
    w, d = model.weights_, model.inverse_diag_
    out: dict = {"items_with_interactions": len(active), "dense_mb": round(w.nbytes / 1e6, 1)}
    out["dense_stored_mb"], _ = npz_mb({"weights_": w}, False)
    out["dense_deflated_mb"], out["dense_deflate_cpu_s"] = npz_mb({"weights_": w}, True)

    t = time.process_time()
    upper, ulps = pack_weights(w, d)
    out["pack_cpu_s"] = round(time.process_time() - t, 2)
    t = time.process_time()
    back = unpack_weights(upper, ulps, d)
    out["unpack_cpu_s"] = round(time.process_time() - t, 2)
    out["unpacked_bit_identical"] = bool(np.array_equal(back.view(np.int32), w.view(np.int32)))
    del back
    values, counts = np.unique(ulps, return_counts=True)
    out["ulp_distances"] = {int(v): round(int(c) / len(ulps), 4) for v, c in zip(values, counts)}
    packed = {"weights_upper_": upper, "weights_lower_ulps_": ulps, "inverse_diag_": d}
    out["packed_stored_mb"], _ = npz_mb(packed, False)
    out["packed_deflated_mb"], out["packed_deflate_cpu_s"] = npz_mb(packed, True)
    buf = io.BytesIO()
    write_npz(buf, packed, compress=True)
    with zipfile.ZipFile(buf) as zf:
        out["packed_deflated_members_mb"] = {i.filename: round(i.compress_size / 1e6, 1) for i in zf.infolist()}
    t = time.process_time()
    with np.load(io.BytesIO(buf.getvalue())) as z:
        _ = {k: z[k] for k in z.files}
    out["packed_inflate_cpu_s"] = round(time.process_time() - t, 2)
    del upper, ulps, packed, buf

    rows = train[:, active]
    top32, s32 = top20(rows, w)
    top16, _ = top20(rows, w.astype(np.float16).astype(np.float32))
    s16 = np.take_along_axis(np.asarray(rows @ w.astype(np.float16).astype(np.float32)), top32, 1)
    out["float16"] = {
        "mb": round(w.nbytes / 2e6, 1),
        "top20_lists_changed": int((top16 != top32).any(axis=1).sum()),
        "users": int(rows.shape[0]),
        "max_relative_score_change_top20": float(np.max(np.abs(s16 - s32) / np.abs(s32))),
    }

    out["refit_at_load_cpu_s"] = round(fit_cpu, 1)
    with threadpool_limits(1, "blas"):
        one = EASE(l2=L2)
        one.fit_gram(*item_gram(train))
    out["refit_one_thread_bit_identical"] = bool(np.array_equal(one.weights_.view(np.int32), w.view(np.int32)))
    out["refit_one_thread_max_abs_diff"] = float(np.abs(one.weights_ - w).max())
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""``python -m tailwise.text.worker``: texts embedded into the cache for another process."""

from __future__ import annotations

import io
import json

from tailwise.text.side import TextSide
from tailwise.text.worker import serve


def test_the_worker_fills_the_cache_the_side_reads_and_reports_errors(tmp_path):
    texts = ["Alpha (1990). Drama", "Beta (2001). Comedy"]
    job = {"encoder": "use", "max_tokens": 16, "cache_dir": str(tmp_path), "texts": texts}
    out = io.StringIO()
    serve(io.StringIO(json.dumps(job) + "\n" + json.dumps(job) + "\nnot json\n"), out)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert answers[:2] == [{"encoded": 2}, {"encoded": 0}]  # the second time all were cached
    assert "error" in answers[2]
    side = TextSide("use", 16, str(tmp_path), progress=False)
    side.embed(texts)
    assert side.last_encoded == 0  # another process's side finds them cached

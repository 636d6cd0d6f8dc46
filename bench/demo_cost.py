"""What `tailwise demo` and `tailwise fit --demo-data` cost: wall and CPU time, peak memory, model size.

    python bench/demo_cost.py [--label NAME] [--skip-fit]

Runs `tailwise demo` (every model on the bundled ml-latest-small, the report's trade-off sweep)
and `tailwise fit --demo-data` (the default hybrid) each under GNU time (`/usr/bin/time -v`), in
a temporary folder, with the embedding cache as it is (warm after a first run: run it twice and
keep the second). Records wall seconds, user + system CPU seconds, the peak resident set size
and the model directory's size in `bench/results/demo_cost-LABEL.json`. Wall time needs a
quiet machine; CPU seconds and the peak move much less when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def timed(cmd: list[str], cwd: Path) -> dict:
    """Run `cmd` under /usr/bin/time -v; its wall and CPU seconds and peak RSS."""
    out = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, capture_output=True, text=True, check=True)
    err = out.stderr

    def field(name: str) -> str:
        return re.search(rf"{re.escape(name)}: (.+)", err).group(1).strip()

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(float(field("User time (seconds)")) + float(field("System time (seconds)")), 1),
        "peak_rss_mb": round(int(field("Maximum resident set size (kbytes)")) / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", default="current")
    ap.add_argument("--skip-fit", action="store_true", help="measure the demo only")
    args = ap.parse_args()
    tw = [sys.executable, "-m", "tailwise.cli.main"]
    result: dict = {"python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result["demo"] = timed([*tw, "demo", "--out-dir", "demo"], work)
        print("demo:", result["demo"], flush=True)
        if not args.skip_fit:
            result["fit_demo_data"] = timed([*tw, "fit", "--demo-data", "--model-dir", "model"], work)
            files = [p for p in (work / "model").rglob("*") if p.is_file()]
            result["fit_demo_data"]["model_dir_mb"] = round(sum(p.stat().st_size for p in files) / 1e6, 1)
            result["fit_demo_data"]["largest_files_mb"] = {
                str(p.relative_to(work / "model")): round(p.stat().st_size / 1e6, 1)
                for p in sorted(files, key=lambda p: -p.stat().st_size)[:4]
            }
            print("fit --demo-data:", result["fit_demo_data"], flush=True)
    out = ROOT / "results" / f"demo_cost-{args.label}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

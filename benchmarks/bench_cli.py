"""Time `dockeropt fix --diff` over the corpus in one process, and the CLI's cold start.

Usage: python benchmarks/bench_cli.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def corpus_files() -> list[Path]:
    return sorted(p for p in (ROOT / "corpus").glob("*/*/Dockerfile") if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    files = corpus_files()

    # one process, in-process API (what `dockeropt fix --diff` does per file)
    from dockeropt.config import Config
    from dockeropt.report import explanations, unified_diff
    from dockeropt.rules import selected_passes
    from dockeropt.runner import fix_file

    cfg = Config()
    passes = selected_passes(cfg)
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for f in files:
            o = fix_file(f, config=cfg, display=f.name, passes=passes)
            if o.result is not None:
                unified_diff(o.result.original, o.result.fixed, f.name)
                explanations(f.name, o.result.applied, o.result.notes)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"in-process: {len(files)} files, best {best:.3f} s, median {statistics.median(times):.3f} s "
          f"-> {len(files) / best:.0f} files/s (one process)")

    # the whole CLI, one process for all files
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--diff", *map(str, files)], capture_output=True, check=False)
    print(f"CLI: dockeropt fix --diff over {len(files)} files: {time.perf_counter() - t0:.3f} s")

    # cold start
    starts = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dockeropt", "--version"], capture_output=True, check=True)
        starts.append(time.perf_counter() - t0)
    print(f"cold start (dockeropt --version): median {statistics.median(starts) * 1000:.0f} ms")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--diff", str(ROOT / "examples/node-naive/Dockerfile")],
                   capture_output=True, check=False)
    print(f"cold start + one fix --diff: {(time.perf_counter() - t0) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

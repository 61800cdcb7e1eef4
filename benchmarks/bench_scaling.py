"""Fixing time against file size: it must grow linearly (issue 10).

Targets: a 2,000-RUN file fixes in under 1 s; a file just under the 1 MiB input
limit in under 5 s, each the first fix in a fresh process (after the imports).
Each size is also fixed in-process with the default rules, best of N rounds; the
image model is timed alone; and ``CLI s`` is ``dockeropt fix --diff`` end to end
in a fresh process (start-up, the Dockerfile's folder as build context, the diff
and explanations). Prints a table and exits 1 when a target is missed (``--check``).

Usage: python benchmarks/bench_scaling.py [--rounds N] [--check] [--sizes 250,500,1000,2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

LIMIT = 1 << 20


def generated(n_runs: int) -> str:
    lines = ["FROM node:20", "WORKDIR /app", "COPY . ."]
    lines += [f"RUN apt-get update && apt-get install -y pkg{i}" for i in range(n_runs)]
    lines.append("CMD npm start")
    return "\n".join(lines) + "\n"


def near_limit() -> str:
    """A realistic mix of instructions, just under the 1 MiB input limit."""
    block = [
        "RUN apt-get update && apt-get install -y curl-{i} ca-certificates && rm -rf /var/lib/apt/lists/*",
        "ENV VAR_{i}=value-{i}",
        "COPY file-{i}.txt /opt/data/",
        "RUN pip install package-{i}==1.0.{i}",
        "RUN npm install -g tool-{i}",
        "# a comment line that explains step {i} of this very long generated Dockerfile",
    ]
    out = ["FROM python:3.11", "WORKDIR /app"]
    size = sum(len(x) + 1 for x in out)
    i = 0
    while True:
        line = block[i % len(block)].format(i=i)
        if size + len(line) + 1 + 40 >= LIMIT:
            break
        out.append(line)
        size += len(line) + 1
        i += 1
    out.append('CMD ["python", "app.py"]')
    return "\n".join(out) + "\n"


def time_fix(text: str, rounds: int) -> tuple[float, float]:
    from dockeropt.config import Config
    from dockeropt.model import ImageModel
    from dockeropt.pipeline import fix_text
    from dockeropt.rules import PassContext, selected_passes
    from dockeropt.syntax import parse

    cfg = Config()
    passes = selected_passes(cfg)
    best = float("inf")
    best_model = float("inf")
    for _ in range(rounds):
        doc = parse(text)
        t0 = time.perf_counter()
        ImageModel.build(doc, None, cfg)
        best_model = min(best_model, time.perf_counter() - t0)
        t0 = time.perf_counter()
        fix_text(text, PassContext(config=cfg), passes)
        best = min(best, time.perf_counter() - t0)
    return best, best_model


_FIRST = """
import sys, time
sys.path.insert(0, {here!r})
import bench_scaling as b
from dockeropt.config import Config
from dockeropt.pipeline import fix_text
from dockeropt.rules import PassContext, selected_passes
text = b.generated({n}) if {n} else b.near_limit()
cfg = Config()
passes = selected_passes(cfg)
t0 = time.perf_counter()
fix_text(text, PassContext(config=cfg), passes)
print(time.perf_counter() - t0)
"""


def time_first(n: int) -> float:
    """The first fix of ``generated(n)`` (``n == 0``: ``near_limit()``) in a fresh process, after the imports."""
    code = _FIRST.format(here=str(Path(__file__).resolve().parent), n=n)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def time_cli(text: str) -> float:
    """Wall time of ``dockeropt fix --diff`` in a fresh process, the Dockerfile alone in its folder (its build
    context), output to /dev/null. Bytecode is cached as an installed package has it (``PYTHONDONTWRITEBYTECODE``
    is dropped for the child and a first call writes it)."""
    import os
    import tempfile

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "Dockerfile"
        path.write_text(text)
        cmd = [sys.executable, "-m", "dockeropt", "fix", "--diff", str(path)]
        subprocess.run([sys.executable, "-m", "dockeropt", "--version"], env=env, capture_output=True, check=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="250,500,1000,2000")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--give-up", type=float, default=30.0,
                    help="stop before larger inputs once one takes longer than this many seconds (quadratic code)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    time_fix(generated(10), 1)  # warm up imports and caches
    rows = []
    failed = []
    print(f"{'input':<28} {'bytes':>9} {'first s':>8} {'fix s':>8} {'model s':>8} {'CLI s':>8}  target")
    gave_up = False
    for n in sizes:
        text = generated(n)
        t, tm = time_fix(text, args.rounds)
        first = time_first(n)
        cli = time_cli(text) if n >= 2000 else float("nan")
        target = 1.0 if n >= 2000 else None
        ok = target is None or first < target
        rows.append((f"{n} RUNs", len(text), first, t, tm, cli, target, ok))
        if t > args.give_up:
            gave_up = True
            break
    if not gave_up:
        text = near_limit()
        t, tm = time_fix(text, max(1, args.rounds - 1))
        first = time_first(0)
        rows.append(("just under 1 MiB", len(text.encode()), first, t, tm, time_cli(text), 5.0, first < 5.0))
    else:
        print(f"(stopped: {rows[-1][0]} took over {args.give_up:g} s; larger inputs skipped)")
        failed.append("larger inputs")
    for name, size, first, t, tm, cli, target, ok in rows:
        tgt = f"< {target:g} s (first run) {'ok' if ok else 'MISSED'}" if target else ""
        print(f"{name:<28} {size:>9} {first:>8.3f} {t:>8.3f} {tm:>8.3f} {cli:>8.3f}  {tgt}")
        if not ok:
            failed.append(name)
    if len(rows) >= 3:
        (n1, _, _f1, t1, *_), (n2, _, _f2, t2, *_) = rows[0], rows[len(sizes) - 1]
        print(f"growth {n1} -> {n2}: x{t2 / t1 if t1 else float('inf'):.1f} for x{sizes[-1] / sizes[0]:.0f} the input")
    return 1 if (failed and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())

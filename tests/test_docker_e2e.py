"""Every sample app in corpus/apps builds and passes its smoke test before AND after `dockeropt fix`.

Each app folder is first copied and its app.json ``setup`` run once per session
(lockfiles that embed a registry's address, a jar), as a user's checkout would
have them. `dockeropt fix` runs (the real CLI) on a further copy with every rule
that exists, opt-in ones included. Both variants are built with BuildKit,
inspected and smoke-tested (app.json): a server must answer its probe (HTTP,
FastCGI or gRPC) and, where the image has a HEALTHCHECK, turn ``healthy`` while
started on a non-default port (``health_port``) where the app reads its port
from the environment. The fixed image is rebuilt after a one-line source edit
(the original too with DOCKEROPT_E2E_WARM_BEFORE=1), and for apps with
``add_file`` a new file is added to the context and the rebuilt image must
serve it. Sizes (and warm-rebuild times) are written to
``$DOCKEROPT_RESULTS_DIR/docker-e2e.json`` (default ``/tmp/dockeropt-results``)
and printed at the end of the session.

The *after* check of an app that today's passes still break is marked
``xfail(strict=True)`` with the issue row in ``AFTER_XFAIL``: the moment the fix
lands it XPASSes, which fails the run, and the marker must be removed.

The BuildKit cache is kept between tests (no prune): cold-build times are not
measured here (benchmarks/lab_report.py does that); warm rebuilds are timed
against the cache the variant's own build just filled, and the edit is unique
per run, so a cache left by an earlier run cannot turn it into a no-op.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from docker_support import (
    App,
    app_names,
    base_images,
    copy_folder,
    fix_in_place,
    load_app,
    missing_images,
    prepared_app,
    ratio,
    require_engine,
    require_images,
    write_results,
)
from dockeropt.verify import Measurement, measure

pytestmark = pytest.mark.docker

RESULTS: dict[str, dict[str, Any]] = {}

# app -> why its *after* check fails today (the issue row); strict: an XPASS fails the run.
# Empty: every issue-11 row these apps stood for is fixed (each one XPASSed, then its marker went).
AFTER_XFAIL: dict[str, str] = {}


def _after_params() -> list[Any]:
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=AFTER_XFAIL[n])) if n in AFTER_XFAIL else n
            for n in app_names()]


@pytest.fixture(scope="module")
def docker() -> str:
    return require_engine()


@pytest.fixture(scope="module")
def lab_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not RESULTS:
        return
    for r in RESULTS.values():
        r["size_ratio"] = ratio(r.get("size_before"), r.get("size_after"))
        r["warm_ratio"] = ratio(r.get("warm_before"), r.get("warm_after"))
    # totals over the apps whose both variants pass (an xfailed after check has no comparable image)
    rows = [r for r in RESULTS.values() if r.get("size_before") and r.get("size_after")
            and r.get("smoke_before") and r.get("smoke_after") and r.get("added_after") is not False]
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
    tr.write_line(f"docker e2e: after/before ratios (written to {path}); totals over apps passing both")
    tr.write_line(f"{'app':<22} {'MB before':>9} {'after':>6} {'ratio':>6} {'warm s':>7} {'after':>6} {'ratio':>6}"
                  f"  {'health before':<16} {'health after':<16} rules")
    for name, r in sorted(RESULTS.items()):
        tr.write_line(
            f"{name:<22} {_mb(r.get('size_before')):>9} {_mb(r.get('size_after')):>6} {_f(r.get('size_ratio')):>6} "
            f"{_f(r.get('warm_before')):>7} {_f(r.get('warm_after')):>6} {_f(r.get('warm_ratio')):>6}  "
            f"{_h(r.get('health_before')):<16} {_h(r.get('health_after')):<16} {','.join(r.get('rules', [])) or '-'}"
        )
    tr.write_line(f"{'TOTAL':<22} size ratio {_f(total['size_ratio'])}, warm-rebuild ratio {_f(total['warm_ratio'])}")


def _h(h: str | None) -> str:
    return "-" if not h else h.split(";")[0][:16]


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.0f}"


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _describe(m: Measurement) -> str:
    return (
        f"{m.label}: build_ok={m.build_ok} smoke={m.smoke_ok} ({m.smoke_detail}) {m.error}\n"
        f"--- build log tail ---\n{m.build_log}"
    )


def _measure(docker: str, folder: Path, app: App, label: str, warm: bool) -> Measurement:
    text = (folder / "Dockerfile").read_text(encoding="utf-8")
    tag = f"dockeropt-e2e-{app.name}:{label}-{uuid.uuid4().hex[:6]}"
    return measure(
        docker, folder, text, app.spec, label=label, tag=tag, dockerfile=folder / "Dockerfile",
        touch=app.spec.touch, cold=False, warm=warm and app.spec.touch is not None,
    )


# The naive file's warm rebuild re-runs its whole dependency install (that is what the fixes are for): it is
# timed by benchmarks/lab_report.py, not here, unless DOCKEROPT_E2E_WARM_BEFORE=1 (about a third of the run).
WARM_BEFORE = os.environ.get("DOCKEROPT_E2E_WARM_BEFORE", "") == "1"


def _describe(m: Measurement) -> str:
    return (
        f"{m.label}: build_ok={m.build_ok} smoke={m.smoke_ok} ({m.smoke_detail}) health={m.health!r} "
        f"added={m.added_ok} ({m.added_detail}) {m.error}\n"
        f"--- build log tail ---\n{m.build_log}"
    )


def _measure(docker: str, folder: Path, app: App, label: str, warm: bool) -> Measurement:
    text = (folder / "Dockerfile").read_text(encoding="utf-8")
    tag = f"dockeropt-e2e-{app.name}:{label}-{uuid.uuid4().hex[:6]}"
    return measure(
        docker, folder, text, app.spec, label=label, tag=tag, dockerfile=folder / "Dockerfile",
        touch=app.spec.touch, cold=False, warm=warm and app.spec.touch is not None,
    )


# The naive file's warm rebuild re-runs its whole dependency install (that is what the fixes are for): it is
# timed by benchmarks/lab_report.py, not here, unless DOCKEROPT_E2E_WARM_BEFORE=1 (about a third of the run).
WARM_BEFORE = os.environ.get("DOCKEROPT_E2E_WARM_BEFORE", "") == "1"


def _row(name: str) -> dict[str, Any]:
    return RESULTS.setdefault(name, {})


@pytest.mark.parametrize("name", app_names())
def test_app_works_before_fix(name: str, docker: str, lab_tmp: Path) -> None:
    """The naive Dockerfile itself: builds, serves (healthy where it has a HEALTHCHECK), rebuilds after an edit."""
    app = load_app(name)
    require_images(docker, app.dockerfile.read_text(encoding="utf-8"))
    folder = prepared_app(docker, app, lab_tmp)
    before = _measure(docker, folder, app, "original", warm=WARM_BEFORE)
    _row(name).update({
        "size_before": before.size, "layers_before": before.layers, "user_before": before.user,
        "warm_before": None if before.warm_seconds is None else round(before.warm_seconds, 2),
        "health_before": before.health, "smoke_before": before.smoke_ok,
    })
    assert before.build_ok and before.smoke_ok, f"the sample app itself is broken:\n{_describe(before)}"
    assert before.added_ok is not False, f"the sample app itself misses an added file:\n{_describe(before)}"
    assert not before.error, f"{before.error}\n{_describe(before)}"


@pytest.mark.parametrize("name", _after_params())
def test_app_works_after_fix(name: str, docker: str, lab_tmp: Path, tmp_path: Path) -> None:
    """`dockeropt fix` with every rule: the fixed image builds and behaves the same (smoke, health, added file)."""
    app = load_app(name)
    original_text = app.dockerfile.read_text(encoding="utf-8")
    require_images(docker, original_text)
    folder = copy_folder(prepared_app(docker, app, lab_tmp), tmp_path / app.name)
    proc = fix_in_place(folder)
    assert proc.returncode == 0, f"dockeropt fix failed ({proc.returncode}):\n{proc.stderr}"
    assert "warning:" not in proc.stderr, proc.stderr
    fixed_text = (folder / "Dockerfile").read_text(encoding="utf-8")
    rules = sorted({line.split()[1] for line in proc.stdout.splitlines() if line.startswith("Dockerfile:") and len(line.split()) > 1})
    # a base image the fixed file asks for must be in the lab (a pass naming an image nobody can pull is a bug)
    missing = missing_images(docker, base_images(fixed_text))
    assert not missing, f"fixed Dockerfile needs image(s) not in the lab: {missing}\n{fixed_text}"

    row = _row(name)
    row.update({"changed": fixed_text != original_text, "rules": rules})
    if fixed_text == original_text:
        row.update({"size_after": row.get("size_before"), "warm_after": row.get("warm_before"),
                    "health_after": row.get("health_before"), "smoke_after": row.get("smoke_before")})
        return  # nothing changed: the before check covers it
    after = _measure(docker, folder, app, "fixed", warm=True)
    row.update({
        "size_after": after.size, "layers_after": after.layers, "user_after": after.user,
        "warm_after": None if after.warm_seconds is None else round(after.warm_seconds, 2),
        "health_after": after.health, "smoke_after": after.smoke_ok, "added_after": after.added_ok,
        "notes": [after.note] if after.note else [],
    })
    assert after.build_ok, f"the fixed Dockerfile does not build:\n{fixed_text}\n{_describe(after)}"
    assert after.smoke_ok, f"the fixed image fails its smoke or health test:\n{fixed_text}\n{_describe(after)}"
    assert after.added_ok is not False, f"the fixed image misses a file added to the context:\n{fixed_text}\n{_describe(after)}"
    assert not after.error, f"{after.error}\n{fixed_text}"

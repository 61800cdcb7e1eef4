"""The smoke harness checks health, not only the first response (issue 11, deliver 3).

Real builds: one small server image that reads ``$PORT``, with three HEALTHCHECKs -
one that follows ``$PORT`` (must pass), one hard-coded to the default port (must
fail once the harness starts the app on a non-default port, with the health log
in the message), and one whose probe tool does not exist in the image (must
fail). Without a HEALTHCHECK the probe answering is the test.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from docker_support import require_engine, require_images
from dockeropt.verify import SmokeSpec, build_image, remove_image, run_smoke

pytestmark = pytest.mark.docker

SERVER = """const http = require("http");
const port = Number(process.env.PORT || 3000);
http.createServer((q, r) => r.end(q.url === "/health" ? "health ok" : "hello")).listen(port);
"""
PROBE = "node -e \"require('http').get('http://127.0.0.1:{port}/health', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', e => {{ console.error(e.message); process.exit(1); }})\""

CHECKS = {
    "none": "",
    "follows-port": "HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD " + PROBE.format(port="${PORT:-3000}") + "\n",
    "hard-coded": "HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD " + PROBE.format(port="3000") + "\n",
    "missing-tool": "HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD curl -fsS http://127.0.0.1:3000/health\n",
}
SPEC = SmokeSpec(http_path="/health", port=3000, port_env="PORT", expect="health ok", health_port=18124, timeout=30)


def _dockerfile(check: str) -> str:
    return f"FROM node:18-slim\nWORKDIR /app\nCOPY server.js .\nEXPOSE 3000\n{check}CMD [\"node\", \"server.js\"]\n"


@pytest.fixture(scope="module")
def docker() -> str:
    docker = require_engine()
    require_images(docker, _dockerfile(""))
    return docker


def _smoke(docker: str, tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    (tmp_path / "server.js").write_text(SERVER)
    (tmp_path / "Dockerfile").write_text(_dockerfile(CHECKS[name]))
    tag = f"dockeropt-e2e-health-{name}:{uuid.uuid4().hex[:6]}"
    built = build_image(docker, tmp_path, tmp_path / "Dockerfile", tag)
    assert built.ok, built.log_tail
    try:
        return run_smoke(docker, tag, SPEC)
    finally:
        remove_image(docker, tag)


def test_no_healthcheck_means_the_app_serving_is_the_test(docker: str, tmp_path: Path) -> None:
    r = _smoke(docker, tmp_path, "none")
    assert r.ok and r.health == "no HEALTHCHECK" and r.port == 3000, r


def test_a_healthcheck_that_follows_port_turns_healthy_on_the_health_port(docker: str, tmp_path: Path) -> None:
    r = _smoke(docker, tmp_path, "follows-port")
    assert r.ok and r.health == "healthy", r
    assert r.port == 18124  # started with PORT=18124, probed there
    assert r.seconds is not None and r.seconds < 20  # the 30 s interval was shortened


def test_a_healthcheck_on_the_hard_coded_default_port_fails_with_its_log(docker: str, tmp_path: Path) -> None:
    r = _smoke(docker, tmp_path, "hard-coded")
    assert not r.ok, r
    assert "the app answered on port 18124 (PORT=18124)" in r.detail, r.detail
    assert "HEALTHCHECK is unhealthy 15s later" in r.detail and "ECONNREFUSED" in r.detail, r.detail


def test_a_healthcheck_whose_tool_is_missing_fails(docker: str, tmp_path: Path) -> None:
    r = _smoke(docker, tmp_path, "missing-tool")
    assert not r.ok and "unhealthy" in r.detail and "curl" in r.detail, r.detail


def test_a_probe_dockeropt_adds_without_expose_turns_healthy(docker: str, tmp_path: Path) -> None:
    """DO403 without EXPOSE (the port from the source file the start command runs): fixed, built, healthy."""
    import shutil

    from harness import run_fix

    fixture = Path(__file__).parent / "fixtures" / "DO403" / "no-expose-source-port"
    shutil.copytree(fixture.with_suffix(".context"), tmp_path, dirs_exist_ok=True)
    text = fixture.with_suffix(".Dockerfile").read_text()
    fixed = run_fix(text, select=["DO403"], context=tmp_path, path=tmp_path / "Dockerfile").fixed
    assert "HEALTHCHECK" in fixed and "EXPOSE" not in fixed, fixed
    (tmp_path / "Dockerfile").write_text(fixed)
    tag = f"dockeropt-e2e-health-noexpose:{uuid.uuid4().hex[:6]}"
    built = build_image(docker, tmp_path, tmp_path / "Dockerfile", tag)
    assert built.ok, built.log_tail
    try:
        r = run_smoke(docker, tag, SmokeSpec(http_path="/health", port=3000, port_env=None, expect="ok", timeout=30))
    finally:
        remove_image(docker, tag)
    assert r.ok and r.health == "healthy", r

"""Docker end-to-end checks for the checklist rules that change the image (DO402 init, DO403 health check)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from docker_support import require_engine, require_images, write_results
from harness import run_fix

pytestmark = pytest.mark.docker

# a "server" started through a shell chain: /bin/sh is PID 1 and ignores SIGTERM
INIT_DOCKERFILE = """FROM debian:bookworm-slim
EXPOSE 8080
CMD echo "server starting" && sleep 1000
"""

NPM_DOCKERFILE = """FROM node:18-slim
WORKDIR /app
COPY package.json server.js ./
EXPOSE 8080
CMD ["npm", "start"]
"""

NPM_PACKAGE = json.dumps({"name": "stopper", "version": "1.0.0", "scripts": {"start": "node server.js"}})
# a server that exits on SIGTERM, as most do
NPM_SERVER = """const http = require('http');
const s = http.createServer((q, r) => r.end('ok')).listen(8080);
process.on('SIGTERM', () => { s.close(); process.exit(0); });
"""


def _env() -> dict[str, str]:
    return {**os.environ, "DOCKER_BUILDKIT": "1"}


def _build(docker: str, ctx: Path, tag: str) -> None:
    built = subprocess.run([docker, "build", "--network", "host", "-q", "-t", tag, str(ctx)],
                           capture_output=True, text=True, env=_env(), timeout=900)
    assert built.returncode == 0, built.stderr[-3000:]


def _stop_seconds(docker: str, tag: str) -> float:
    """Start the image, let it settle, and time `docker stop` (default 10 s grace period)."""
    cid = subprocess.run([docker, "run", "-d", "--network", "none", tag], capture_output=True, text=True, check=True).stdout.strip()
    try:
        time.sleep(2)
        running = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", cid], capture_output=True, text=True).stdout.strip()
        assert running == "true", subprocess.run([docker, "logs", cid], capture_output=True, text=True).stderr
        t0 = time.perf_counter()
        subprocess.run([docker, "stop", cid], capture_output=True, check=True, timeout=60)
        return time.perf_counter() - t0
    finally:
        subprocess.run([docker, "rm", "-f", cid], capture_output=True)


def _stop_before_after(tmp_path: Path, dockerfile: str, files: dict[str, str], name: str) -> tuple[float, float, str]:
    docker = require_engine()
    require_images(docker, dockerfile)
    fixed = run_fix(dockerfile, select=["DO402"]).fixed
    assert "tini" in fixed and fixed != dockerfile
    times = []
    for label, text in (("before", dockerfile), ("after", fixed)):
        ctx = tmp_path / label
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(text)
        for rel, content in files.items():
            (ctx / rel).write_text(content)
        tag = f"dockeropt-e2e-init-{name}:{label}"
        _build(docker, ctx, tag)
        try:
            times.append(_stop_seconds(docker, tag))
        finally:
            subprocess.run([docker, "rmi", "-f", tag], capture_output=True)
    return times[0], times[1], fixed


def test_init_process_makes_docker_stop_fast_shell_chain(tmp_path: Path) -> None:
    before, after, fixed = _stop_before_after(tmp_path, INIT_DOCKERFILE, {}, "shell")
    write_results("do402-shell.json", {"stop_before_s": round(before, 2), "stop_after_s": round(after, 2)})
    assert before >= 9.0, f"the original should take the 10 s grace period, took {before:.1f} s"
    assert after < 5.0, f"with tini docker stop should be quick, took {after:.1f} s"


def test_init_process_makes_docker_stop_fast_npm_start(tmp_path: Path) -> None:
    before, after, fixed = _stop_before_after(
        tmp_path, NPM_DOCKERFILE, {"package.json": NPM_PACKAGE, "server.js": NPM_SERVER}, "npm")
    write_results("do402-npm.json", {"stop_before_s": round(before, 2), "stop_after_s": round(after, 2)})
    assert after < 5.0, f"with tini docker stop should be quick, took {after:.1f} s"
    assert after < before


HEALTH_CASES = {
    "python": ("""FROM python:3.11-slim
WORKDIR /srv
COPY health /srv/health
EXPOSE 8000
CMD ["python3", "-m", "http.server", "8000"]
""", {"health": "ok\n"}),
    "node": ("""FROM node:18-slim
WORKDIR /app
COPY server.js .
EXPOSE 8080
CMD ["node", "server.js"]
""", {"server.js": "require('http').createServer((q, r) => { r.statusCode = q.url === '/health' ? 200 : 404; r.end('ok'); }).listen(8080);\n"}),
}


@pytest.mark.parametrize("name", sorted(HEALTH_CASES))
def test_healthcheck_probe_reports_healthy(tmp_path: Path, name: str) -> None:
    dockerfile, files = HEALTH_CASES[name]
    docker = require_engine()
    require_images(docker, dockerfile)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for rel, content in files.items():
        (ctx / rel).write_text(content)
    fixed = run_fix(dockerfile, select=["DO403"], context=ctx, path=ctx / "Dockerfile").fixed
    assert "HEALTHCHECK" in fixed and "curl" not in fixed and "wget" not in fixed  # slim images have neither
    (ctx / "Dockerfile").write_text(fixed)
    tag = f"dockeropt-e2e-health-{name}:fixed"
    _build(docker, ctx, tag)
    cid = ""
    try:
        # same probe, shorter interval so the test need not wait 30 s
        cid = subprocess.run([docker, "run", "-d", "--network", "none", "--health-interval", "1s", "--health-start-period", "1s", tag],
                             capture_output=True, text=True, check=True).stdout.strip()
        status = ""
        for _ in range(40):
            status = subprocess.run([docker, "inspect", "-f", "{{.State.Health.Status}}", cid], capture_output=True, text=True).stdout.strip()
            if status in ("healthy", "unhealthy"):
                break
            time.sleep(0.5)
        assert status == "healthy", subprocess.run([docker, "inspect", "-f", "{{json .State.Health}}", cid], capture_output=True, text=True).stdout
        write_results(f"do403-{name}.json", {"health": status})
    finally:
        if cid:
            subprocess.run([docker, "rm", "-f", cid], capture_output=True)
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)

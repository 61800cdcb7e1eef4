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

# a "server" started through a shell chain: /bin/sh is PID 1 and ignores SIGTERM; the stage already installs
# with apt, so tini joins that install (no extra apt-get update)
INIT_DOCKERFILE = """FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends procps && rm -rf /var/lib/apt/lists/*
EXPOSE 8080
CMD echo "server starting" && sleep 1000
"""

# the same on a python image: dumb-init from PyPI, in a small layer of its own
PY_INIT_DOCKERFILE = """FROM python:3.11-slim
EXPOSE 8080
CMD echo "server starting" && python3 -c "import time; time.sleep(1000)"
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


def _stop_seconds(docker: str, tag: str, run_args: tuple[str, ...] = ()) -> float:
    """Start the image, let it settle, and time `docker stop` (default 10 s grace period)."""
    cid = subprocess.run([docker, "run", "-d", "--network", "none", *run_args, tag], capture_output=True, text=True,
                         check=True).stdout.strip()
    try:
        time.sleep(2)
        running = subprocess.run([docker, "inspect", "-f", "{{.State.Running}}", cid], capture_output=True, text=True).stdout.strip()
        assert running == "true", subprocess.run([docker, "logs", cid], capture_output=True, text=True).stderr
        t0 = time.perf_counter()
        subprocess.run([docker, "stop", cid], capture_output=True, check=True, timeout=60)
        return time.perf_counter() - t0
    finally:
        subprocess.run([docker, "rm", "-f", cid], capture_output=True)


def _stop_before_after(tmp_path: Path, dockerfile: str, files: dict[str, str], name: str, init: str = "tini") -> tuple[float, float, str]:
    docker = require_engine()
    require_images(docker, dockerfile)
    fixed = run_fix(dockerfile, select=["DO402"]).fixed
    assert init in fixed and fixed != dockerfile, fixed
    assert fixed.count("apt-get update") == dockerfile.count("apt-get update")  # no extra package-index download
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


def test_init_process_makes_docker_stop_fast_python_dumb_init(tmp_path: Path) -> None:
    before, after, fixed = _stop_before_after(tmp_path, PY_INIT_DOCKERFILE, {}, "python", init="dumb-init")
    write_results("do402-python.json", {"stop_before_s": round(before, 2), "stop_after_s": round(after, 2)})
    assert before >= 9.0, f"the original should take the 10 s grace period, took {before:.1f} s"
    assert after < 5.0, f"with dumb-init docker stop should be quick, took {after:.1f} s"


def test_init_note_for_npm_start_and_docker_run_init_works(tmp_path: Path) -> None:
    """node:18-slim installs nothing with apt: DO402 only explains `docker run --init`, and that advice works."""
    docker = require_engine()
    require_images(docker, NPM_DOCKERFILE)
    result = run_fix(NPM_DOCKERFILE, select=["DO402"])
    assert result.fixed == NPM_DOCKERFILE
    assert any("docker run --init" in n.explanation for n in result.notes)
    ctx = tmp_path / "npm"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(NPM_DOCKERFILE)
    (ctx / "package.json").write_text(NPM_PACKAGE)
    (ctx / "server.js").write_text(NPM_SERVER)
    tag = "dockeropt-e2e-init-npm:note"
    _build(docker, ctx, tag)
    try:
        plain = _stop_seconds(docker, tag)
        with_init = _stop_seconds(docker, tag, ("--init",))
    finally:
        subprocess.run([docker, "rmi", "-f", tag], capture_output=True)
    write_results("do402-npm.json", {"stop_s": round(plain, 2), "stop_with_init_s": round(with_init, 2)})
    assert with_init < 5.0, f"docker run --init should stop quickly, took {with_init:.1f} s"
    assert with_init < plain


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


# --------------------------------------------------------------------------- DO304 scan stage, bind-mount style

# npm audit output when the registry's audit endpoint cannot be reached (not a verdict on the dependencies)
_AUDIT_NETWORK = ("audit endpoint returned an error", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT",
                  "ECONNRESET", "network request", "request to https", "getaddrinfo", "socket hang up")


def _image_config(docker: str, tag: str) -> dict[str, object]:
    out = subprocess.run([docker, "image", "inspect", "--format", "{{json .Config}}", tag],
                         capture_output=True, text=True, check=True).stdout
    cfg = json.loads(out)
    return {k: cfg.get(k) for k in ("Cmd", "Entrypoint", "Env", "WorkingDir", "ExposedPorts", "User")}


def _corpus_copy(tmp_path: Path, name: str) -> tuple[Path, object]:
    from docker_support import copy_app, load_app

    app = load_app(name)
    return copy_app(app, tmp_path), app


def test_scan_stage_stays_out_of_the_default_build_and_runs_with_target_scan(tmp_path: Path) -> None:
    from docker_support import fix_in_place
    from dockeropt.verify import measure

    docker = require_engine()
    folder, app = _corpus_copy(tmp_path, "node-express")
    original = (folder / "Dockerfile").read_text()
    require_images(docker, original)
    proc = fix_in_place(folder, ["DO304"])
    assert proc.returncode == 0, proc.stderr
    fixed = (folder / "Dockerfile").read_text()
    assert " AS scan" in fixed and "npm audit --audit-level=high" in fixed, fixed

    # the default target: same image configuration as the original, and the app still answers its smoke test
    tags = {"before": "dockeropt-e2e-scan:before", "after": "dockeropt-e2e-scan:after"}
    configs = {}
    try:
        (folder / "Dockerfile").write_text(original)
        _build(docker, folder, tags["before"])
        (folder / "Dockerfile").write_text(fixed)
        _build(docker, folder, tags["after"])
        configs = {k: _image_config(docker, t) for k, t in tags.items()}
    finally:
        subprocess.run([docker, "rmi", "-f", *tags.values()], capture_output=True)
    assert configs["after"] == configs["before"]
    m = measure(docker, folder, fixed, app.spec, label="scan-default", tag="dockeropt-e2e-scan:smoke",  # type: ignore[attr-defined]
                dockerfile=folder / "Dockerfile", touch=None, cold=False, warm=False)
    assert m.build_ok and m.smoke_ok, f"{m.smoke_detail} {m.error}\n{m.build_log[-2000:]}"

    # the scan target: the audit stage runs (its verdict depends on the advisories of the day and the network)
    scan = subprocess.run([docker, "build", "--network", "host", "--progress", "plain", "--target", "scan",
                           "-t", "dockeropt-e2e-scan:scan", str(folder)],
                          capture_output=True, text=True, env=_env(), timeout=900)
    subprocess.run([docker, "rmi", "-f", "dockeropt-e2e-scan:scan"], capture_output=True)
    log = scan.stdout + scan.stderr
    assert "npm audit --audit-level=high" in log, log[-3000:]
    if scan.returncode != 0 and any(s in log for s in _AUDIT_NETWORK):
        write_results("do304-scan.json", {"default_target_config_equal": True, "scan": "audit endpoint unreachable"})
        pytest.skip("the scan stage ran, but npm's audit endpoint is not reachable from this machine "
                    "(the audit needs the network); default-target checks passed")
    if scan.returncode != 0:
        # the audit ran and reported high-severity advisories: the gate works as designed
        assert "vulnerabilit" in log.lower(), log[-3000:]
        verdict = "advisories found (stage failed as a gate)"
    else:
        verdict = "passed"
    write_results("do304-scan.json", {"default_target_config_equal": True, "scan": verdict})


@pytest.mark.parametrize("name", ["python-flask", "node-express"])
def test_bind_mount_style_app_builds_and_passes_smoke(tmp_path: Path, name: str) -> None:
    from docker_support import fix_in_place
    from dockeropt.verify import measure

    docker = require_engine()
    folder, app = _corpus_copy(tmp_path, name)
    require_images(docker, (folder / "Dockerfile").read_text())
    (folder / ".dockeropt.toml").write_text("bind-mount-style = true\n")
    proc = fix_in_place(folder)  # every rule, opt-in ones too
    assert proc.returncode == 0, proc.stderr
    fixed = (folder / "Dockerfile").read_text()
    assert "--mount=type=bind,source=" in fixed, fixed
    require_images(docker, fixed)
    m = measure(docker, folder, fixed, app.spec, label="bind-mount-style", tag=f"dockeropt-e2e-bind-{name}:fixed",  # type: ignore[attr-defined]
                dockerfile=folder / "Dockerfile", touch=None, cold=False, warm=False)
    write_results(f"bind-mount-style-{name}.json", {"build_ok": m.build_ok, "smoke_ok": m.smoke_ok, "size": m.size})
    assert m.build_ok, f"{m.error}\n{fixed}\n{m.build_log[-3000:]}"
    assert m.smoke_ok, f"{m.smoke_detail}\n{fixed}"

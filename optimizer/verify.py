"""``dockeropt verify``: build the original and the fixed Dockerfile and compare.

The fixed Dockerfile is produced in memory by the same pipeline as ``dockeropt
fix``. Both variants are built from temporary copies of the build context (the
user's tree is never written), with the docker CLI and BuildKit, then measured
side by side: build result, image size, layer count, user, cold build time
(after emptying the BuildKit cache), warm rebuild time after a one-line source
edit, seconds from ``docker run`` to ready, and a smoke test.

The docker helpers here (:func:`build_image`, :func:`inspect_image`,
:func:`run_smoke`, :func:`measure`) are also used by the docker end-to-end tests
and by ``benchmarks/lab_report.py``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:  # the CLI imports this module at startup: keep it light
    from dockeropt.context import BuildContext

DOCKER_ENV = "DOCKEROPT_DOCKER"
PORT_WAIT = 45.0  # seconds to wait for a busy smoke-test port to become free
PREFERRED_DOCKER = "/usr/bin/docker"

# Files that describe dependencies rather than code: editing one is not a
# "source edit", it invalidates the dependency install on purpose.
MANIFESTS = frozenset(
    {
        "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml",
        "requirements.txt", "requirements-dev.txt", "constraints.txt", "pyproject.toml", "poetry.lock",
        "uv.lock", "Pipfile", "Pipfile.lock", "setup.py", "setup.cfg", "go.mod", "go.sum",
        "pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "gradle.properties",
        "Gemfile", "Gemfile.lock", "Cargo.toml", "Cargo.lock", "composer.json", "composer.lock",
        "mix.exs", "mix.lock", "tsconfig.json", "Dockerfile", ".dockerignore", "manifest.txt",
    }
)
SKIP_DIRS = frozenset({".git", "node_modules", "vendor", "__pycache__", ".venv", "venv", "target", "dist", "build"})

_SLASH = (".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".java", ".kt", ".kts", ".rs", ".c", ".cc",
          ".cpp", ".cxx", ".h", ".hpp", ".cs", ".scala", ".swift", ".dart", ".php")
_HASH = (".py", ".sh", ".bash", ".rb", ".pl", ".r", ".yaml", ".yml", ".toml", ".conf", ".cfg", ".ini",
         ".txt", ".ex", ".exs", ".tf")
_BLOCK = (".css", ".scss", ".less")
_MARKUP = (".html", ".htm", ".xml", ".vue", ".svelte", ".svg", ".md")
# files a default --touch may pick (a code edit, not a data or config change)
SOURCE_SUFFIXES = tuple(s for s in _SLASH + _HASH + _BLOCK + _MARKUP
                        if s not in (".yaml", ".yml", ".toml", ".conf", ".cfg", ".ini", ".txt", ".md", ".svg", ".xml"))


class VerifyError(Exception):
    """A one-line problem with the arguments or the environment."""


class EngineError(VerifyError):
    """No usable docker CLI or engine."""


# --------------------------------------------------------------------------- #
# smoke specification


@dataclass
class SetupSpec:
    """A command run once over a fresh copy of the app folder before anything is built.

    It makes what a user's checkout would already hold but this repository may not commit:
    lockfiles that embed a registry's address (yarn.lock, uv.lock, Pipfile.lock) or a jar
    built from the committed sources. ``docker run --rm --network host -v COPY:/src -w /src
    IMAGE CMD...``.
    """

    image: str
    cmd: list[str]


@dataclass
class AddedFileSpec:
    """A file added to the (fixed) build context after the first build; the rebuilt image must serve it.

    Proves that a rewrite never freezes today's file list: ``path`` is written with ``content``,
    the image is rebuilt, and ``GET http_path`` must answer with ``expect`` in the body.
    """

    path: str
    content: str
    http_path: str
    expect: str


SERVER_KINDS = ("http", "fcgi", "grpc")
HEALTH_GRACE = 15.0  # seconds a HEALTHCHECK may take to turn healthy after the app answered the smoke probe


@dataclass
class SmokeSpec:
    """How to tell that an image works: a probe of a server (HTTP, FastCGI, gRPC) or a command's output.

    Server images that declare a HEALTHCHECK must also turn ``healthy``; where the app reads its
    port from ``port_env``, that run uses ``health_port`` (a non-default port), so a check that
    hard-codes the default port fails.
    """

    http_path: str | None = None  # HTTP path; for FastCGI the REQUEST_URI
    port: int | None = None
    port_env: str | None = "PORT"  # None: the app does not read its port from the environment
    cmd: list[str] | None = None  # arguments after the image name; [] = the image's default CMD
    expect: str | None = None
    touch: str | None = None
    timeout: float = 60.0
    protocol: str = "http"  # http | fcgi | grpc (server probes)
    fcgi_script: str | None = None  # SCRIPT_FILENAME inside the container
    grpc_service: str = ""  # grpc.health.v1 service name ("" = the server as a whole)
    health_port: int | None = None  # default: 18000 + port % 1000
    env: dict[str, str] = field(default_factory=dict)
    setup: SetupSpec | None = None
    dep_edit: str | None = None  # dependency manifest edited (no dependency changed) for the dep-change rebuild
    add_file: AddedFileSpec | None = None

    @property
    def kind(self) -> str:
        if self.protocol in ("fcgi", "grpc"):
            return self.protocol
        if self.http_path is not None:
            return "http"
        if self.cmd is not None:
            return "cmd"
        return "none"

    @property
    def is_server(self) -> bool:
        return self.kind in SERVER_KINDS

    def run_port(self, healthcheck: bool) -> int | None:
        """The port the app is started on: ``health_port`` when the image has a HEALTHCHECK and reads its port."""
        if self.port is None:
            return None
        if healthcheck and self.port_env:
            return self.health_port if self.health_port is not None else 18000 + self.port % 1000
        return self.port

    def validate(self) -> None:
        if self.protocol not in SERVER_KINDS:
            raise VerifyError(f"unknown probe protocol {self.protocol!r}")
        if self.cmd is not None and (self.http_path is not None or self.protocol != "http"):
            raise VerifyError("give either an HTTP probe or a smoke command, not both")
        if self.protocol == "http":
            if self.http_path is not None:
                if not self.http_path.startswith("/"):
                    raise VerifyError(f"HTTP path must start with '/': {self.http_path!r}")
                if self.port is None:
                    raise VerifyError("an HTTP probe needs a port (--port)")
                if self.expect is None:
                    raise VerifyError("an HTTP probe needs the text to expect in the body (--expect)")
            elif self.port is not None:
                raise VerifyError("--port only applies to an HTTP probe (--http PATH)")
        else:
            if self.port is None:
                raise VerifyError(f"a {self.protocol} probe needs a port")
            if self.protocol == "fcgi" and not (self.fcgi_script or "").startswith("/"):
                raise VerifyError("a FastCGI probe needs the script's absolute path in the container (fcgi.script)")
            if self.expect is None:
                raise VerifyError(f"a {self.protocol} probe needs the text to expect in the answer")
        for p in (self.port, self.health_port):
            if p is not None and not 1 <= p <= 65535:
                raise VerifyError(f"port out of range: {p}")
        for name in ([self.port_env] if self.port_env is not None else []) + list(self.env):
            if not _env_name(name):
                raise VerifyError(f"not an environment variable name: {name!r}")
        if self.timeout <= 0:
            raise VerifyError("the smoke timeout must be positive")
        if self.add_file is not None and self.kind != "http":
            raise VerifyError("add_file needs an HTTP probe")

    @classmethod
    def from_json(cls, data: Any, where: str = "app.json") -> SmokeSpec:
        """Read the ``app.json`` format (docs/verify.md): one of ``http``/``fcgi``/``grpc``/``cmd``, plus extras."""
        if not isinstance(data, dict):
            raise VerifyError(f"{where}: expected a JSON object")
        unknown = set(data) - {"http", "fcgi", "grpc", "cmd", "expect", "touch", "timeout", "env", "setup",
                               "dep_edit", "add_file"}
        if unknown:
            raise VerifyError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        probes = [k for k in ("http", "fcgi", "grpc") if k in data]
        if len(probes) > 1:
            raise VerifyError(f"{where}: give one probe, not {' and '.join(probes)}")
        spec = cls()
        if probes:
            kind = probes[0]
            h = data[kind]
            if not isinstance(h, dict):
                raise VerifyError(f"{where}: '{kind}' must be an object")
            allowed = {"port", "expect", "port_env", "health_port"} | {
                "http": {"path"}, "fcgi": {"path", "script"}, "grpc": {"service"}}[kind]
            bad = set(h) - allowed
            if bad:
                raise VerifyError(f"{where}: unknown key {kind}.{sorted(bad)[0]}")
            spec.protocol = kind
            for key in ("port", "health_port"):
                v = h.get(key)
                if key in h and (not isinstance(v, int) or isinstance(v, bool)):
                    raise VerifyError(f"{where}: {kind}.{key} must be an integer")
            if not isinstance(h.get("port"), int):
                raise VerifyError(f"{where}: {kind}.port must be an integer")
            spec.port = h["port"]
            spec.health_port = h.get("health_port")
            default_expect = "SERVING" if kind == "grpc" else None
            spec.expect = default_expect if h.get("expect") is None else str(h["expect"])
            pe = h.get("port_env", "PORT" if kind == "http" else None)
            spec.port_env = None if pe is None else str(pe)
            if kind in ("http", "fcgi"):
                spec.http_path = str(h.get("path", "/"))
            if kind == "fcgi":
                spec.fcgi_script = None if h.get("script") is None else str(h["script"])
            if kind == "grpc":
                spec.grpc_service = str(h.get("service", ""))
            if "expect" in data:
                raise VerifyError(f"{where}: put 'expect' inside '{kind}' for a {kind} probe")
        if "cmd" in data:
            cmd = data["cmd"]
            if not _str_list(cmd):
                raise VerifyError(f"{where}: 'cmd' must be a list of strings")
            spec.cmd = list(cmd)
            spec.expect = None if data.get("expect") is None else str(data["expect"])
        elif "expect" in data and not probes:
            spec.cmd = []
            spec.expect = str(data["expect"])
        if data.get("touch") is not None:
            spec.touch = str(data["touch"])
        if "timeout" in data:
            spec.timeout = float(data["timeout"])
        if "env" in data:
            env = data["env"]
            if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
                raise VerifyError(f"{where}: 'env' must map names to strings")
            spec.env = dict(env)
        if "setup" in data:
            s = data["setup"]
            if not isinstance(s, dict) or set(s) != {"image", "cmd"} or not isinstance(s["image"], str) \
                    or not _str_list(s["cmd"]) or not s["cmd"]:
                raise VerifyError(f"{where}: 'setup' must be {{\"image\": IMAGE, \"cmd\": [ARG, ...]}}")
            spec.setup = SetupSpec(s["image"], list(s["cmd"]))
        if "dep_edit" in data:
            if not isinstance(data["dep_edit"], str) or not data["dep_edit"]:
                raise VerifyError(f"{where}: 'dep_edit' must be the path of a dependency manifest")
            spec.dep_edit = data["dep_edit"]
        if "add_file" in data:
            a = data["add_file"]
            keys = {"path", "content", "http_path", "expect"}
            if not isinstance(a, dict) or set(a) != keys or not all(isinstance(a[k], str) for k in keys):
                raise VerifyError(f"{where}: 'add_file' must have exactly {', '.join(sorted(keys))} (strings)")
            spec.add_file = AddedFileSpec(a["path"], a["content"], a["http_path"], a["expect"])
        spec.validate()
        return spec

    @classmethod
    def load(cls, path: Path) -> SmokeSpec:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise VerifyError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise VerifyError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
        return cls.from_json(data, str(path))

    def describe(self) -> str:
        health = " (and HEALTHCHECK healthy where the image has one)"
        if self.kind == "http":
            return f"GET :{self.port}{self.http_path} expecting {self.expect!r}{health}"
        if self.kind == "fcgi":
            return f"FastCGI :{self.port} {self.fcgi_script} expecting {self.expect!r}{health}"
        if self.kind == "grpc":
            svc = self.grpc_service or "(server)"
            return f"gRPC health :{self.port} {svc} expecting {self.expect!r}{health}"
        if self.kind == "cmd":
            args = shlex.join(self.cmd or []) or "(default CMD)"
            return f"run {args}" + (f" expecting {self.expect!r}" if self.expect is not None else "")
        return "none"


def _env_name(name: str) -> bool:
    return bool(name) and name.replace("_", "a").isalnum() and name.isascii() and not name[0].isdigit()


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(a, str) for a in v)


# --------------------------------------------------------------------------- #
# docker CLI


def docker_binary() -> str:
    """The docker CLI to use: $DOCKEROPT_DOCKER, else /usr/bin/docker, else docker on PATH."""
    env = os.environ.get(DOCKER_ENV)
    if env:
        return env
    if os.path.exists(PREFERRED_DOCKER):
        return PREFERRED_DOCKER
    found = shutil.which("docker")
    if found is None:
        raise EngineError("docker CLI not found (install docker, or set DOCKEROPT_DOCKER)")
    return found


def docker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["DOCKER_BUILDKIT"] = "1"
    return env


def _run(argv: Sequence[str], timeout: float | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, errors="replace", env=docker_env(), timeout=timeout, **kw
    )


def engine_problem(docker: str | None = None) -> str | None:
    """None when a docker engine answers; otherwise a one-line reason."""
    try:
        docker = docker or docker_binary()
    except EngineError as exc:
        return str(exc)
    where = os.environ.get("DOCKER_HOST") or "the default socket"
    try:
        p = _run([docker, "version", "--format", "{{.Server.Version}}"], timeout=20)
    except FileNotFoundError:
        return f"docker CLI not found at {docker}"
    except subprocess.TimeoutExpired:
        return f"no Docker engine reachable at {where} (timed out)"
    if p.returncode != 0 or not p.stdout.strip():
        last = (p.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"no Docker engine reachable at {where}: {last}"
    return None


def has_buildx(docker: str) -> bool:
    try:
        return _run([docker, "buildx", "version"], timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class BuildResult:
    ok: bool
    seconds: float
    log_tail: str = ""


def build_command(docker: str, context: Path, dockerfile: Path, tag: str, *, buildx: bool = False,
                  builder: str | None = None, network_host: bool = True) -> list[str]:
    """``docker buildx build --load`` when buildx is there (``--builder`` picks e.g. a remote BuildKit),
    else ``docker build`` with ``DOCKER_BUILDKIT=1``."""
    if builder is not None:
        buildx = True
    argv = [docker, "buildx", "build", "--load"] if buildx else [docker, "build"]
    if builder is not None:
        argv += ["--builder", builder]
    if network_host:
        argv += ["--network", "host"]
    argv += ["--progress", "plain", "-f", str(dockerfile), "-t", tag, str(context)]
    return argv


def build_image(docker: str, context: Path, dockerfile: Path, tag: str, *, buildx: bool = False,
                builder: str | None = None, timeout: float = 1200) -> BuildResult:
    """Build with BuildKit through the CLI (the SDK's legacy builder rejects ``RUN --mount``)."""
    start = time.monotonic()
    try:
        p = _run(build_command(docker, context, dockerfile, tag, buildx=buildx, builder=builder), timeout=timeout)
    except subprocess.TimeoutExpired:
        return BuildResult(False, time.monotonic() - start, f"build timed out after {timeout:.0f}s")
    seconds = time.monotonic() - start
    tail = "\n".join((p.stdout + p.stderr).strip().splitlines()[-25:])
    return BuildResult(p.returncode == 0, seconds, tail)


def prune_build_cache(docker: str, *, buildx: bool = False, builder: str | None = None) -> None:
    """Empty the BuildKit cache (including cache mounts) for a cold build."""
    if builder is not None:
        argv = [docker, "buildx", "prune", "-af", "--builder", builder]
    else:
        argv = [docker, "buildx", "prune", "-af"] if buildx else [docker, "builder", "prune", "-af"]
    _run(argv, timeout=300)


@dataclass
class ImageFacts:
    size: int
    layers: int
    user: str


def inspect_image(docker: str, tag: str) -> ImageFacts:
    p = _run([docker, "image", "inspect", "--format", "{{json .}}", tag], timeout=60)
    if p.returncode != 0:
        raise VerifyError(f"cannot inspect {tag}: {p.stderr.strip()}")
    data = json.loads(p.stdout)
    user = (data.get("Config") or {}).get("User") or "root"
    layers = len((data.get("RootFS") or {}).get("Layers") or [])
    return ImageFacts(int(data.get("Size") or 0), layers, user)


def remove_image(docker: str, tag: str) -> None:
    _run([docker, "image", "rm", "-f", tag], timeout=120)


@dataclass
class SmokeResult:
    ok: bool
    seconds: float | None  # docker run -> ready (the probe answered as expected, or the command finished)
    detail: str
    health: str = ""  # "healthy", "no HEALTHCHECK", "not checked (...)" or why it is not healthy
    port: int | None = None  # the port the app was started on and probed


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 - local probe
            return r.status, r.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode("utf-8", "replace")
    except (OSError, ValueError):
        return None


def image_healthcheck(docker: str, tag: str) -> dict[str, Any] | None:
    """The image's HEALTHCHECK (``Config.Healthcheck``), or None when it has none (or ``HEALTHCHECK NONE``)."""
    p = _run([docker, "image", "inspect", "--format", "{{json .Config.Healthcheck}}", tag], timeout=60)
    if p.returncode != 0:
        return None
    try:
        hc = json.loads(p.stdout or "null")
    except json.JSONDecodeError:
        return None
    if not isinstance(hc, dict) or not hc.get("Test") or hc["Test"][0] == "NONE":
        return None
    return hc


def _probe(spec: SmokeSpec, port: int, http_path: str | None = None, expect: str | None = None) -> tuple[bool, str]:
    """One attempt of the server probe: (passed, what was seen)."""
    from dockeropt.probes import fastcgi_get, grpc_health

    expect = spec.expect if expect is None else expect
    if spec.kind == "grpc":
        status = grpc_health("127.0.0.1", port, spec.grpc_service, timeout=3)
        if status is None:
            return False, "no answer"
        return (expect is None or expect == status), f"gRPC health {status}"
    if spec.kind == "fcgi":
        got = fastcgi_get("127.0.0.1", port, spec.fcgi_script or "", spec.http_path or "/", timeout=3)
        what = "FastCGI"
    else:
        got = _http_get(f"http://127.0.0.1:{port}{http_path or spec.http_path}")
        what = "HTTP"
    if got is None:
        return False, "no answer"
    status, body = got
    return (200 <= status < 400 and (expect is None or expect in body)), f"{what} {status}: {body.strip()[:120]}"


def _health_state(docker: str, name: str) -> tuple[str, str]:
    """(status, last check) of a running container's health: status starting/healthy/unhealthy."""
    p = _run([docker, "inspect", "--format", "{{json .State.Health}}", name], timeout=30)
    try:
        h = json.loads(p.stdout or "null") or {}
    except json.JSONDecodeError:
        h = {}
    log = h.get("Log") or []
    last = ""
    if log:
        e = log[-1]
        out = " ".join(str(e.get("Output", "")).split())[:200]
        last = f"last check: exit {e.get('ExitCode')}: {out or '(no output)'}"
    return str(h.get("Status") or "?"), last


def _container_exited(docker: str, name: str) -> str | None:
    st = _run([docker, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name], timeout=30)
    if not st.stdout.startswith("false"):
        return None
    logs = _run([docker, "logs", "--tail", "5", name], timeout=30)
    tail = (logs.stdout + logs.stderr).strip().splitlines()
    code = st.stdout.split()[-1] if st.stdout.split() else "?"
    return f"container exited ({code}): {(tail or [''])[-1][:200]}"


def run_smoke(docker: str, tag: str, spec: SmokeSpec, *, http_path: str | None = None,
              expect: str | None = None) -> SmokeResult:
    """Start the image and check it (host network; probes go to 127.0.0.1:PORT).

    Server probes (HTTP, FastCGI, gRPC): when the image has a HEALTHCHECK, the container is
    started with the app's port variable set to ``spec.run_port(True)`` (a non-default port, where
    the app reads one), the check's interval shortened to 1 s, and the run passes only when the
    probe answers on that port *and* Docker reports the container ``healthy`` within
    ``HEALTH_GRACE`` seconds after that; otherwise it fails with the status and the last check's
    output. ``http_path``/``expect`` override the spec's (the added-file check).
    """
    env_args = [a for k, v in spec.env.items() for a in ("-e", f"{k}={v}")]
    if spec.kind == "none":
        return SmokeResult(True, None, "no smoke test given", "not checked (no smoke test)")
    if spec.kind == "cmd":
        start = time.monotonic()
        name = f"dockeropt-smoke-{uuid.uuid4().hex[:10]}"
        try:
            p = _run([docker, "run", "--rm", "--name", name, "--network", "host", *env_args, tag, *(spec.cmd or [])],
                     timeout=spec.timeout)
        except BaseException as exc:  # a timeout, or interrupted (Ctrl-C, SIGTERM): the container would run on
            _run([docker, "rm", "-f", "-v", name], timeout=60)
            if isinstance(exc, subprocess.TimeoutExpired):
                return SmokeResult(False, None, f"command did not finish within {spec.timeout:.0f}s")
            raise
        seconds = time.monotonic() - start
        out = p.stdout + p.stderr
        last = (out.strip().splitlines() or ["(no output)"])[-1][:200]
        health = "not checked (command smoke test)"
        if p.returncode != 0:
            return SmokeResult(False, seconds, f"exit {p.returncode}: {last}", health)
        if spec.expect is not None and spec.expect not in out:
            return SmokeResult(False, seconds, f"output lacks {spec.expect!r}: {last}", health)
        return SmokeResult(True, seconds, "ok", health)
    hc = image_healthcheck(docker, tag)
    port = spec.run_port(hc is not None)
    assert port is not None
    # another run on a shared machine may hold the port for a moment: wait a little before giving up
    free_by = time.monotonic() + PORT_WAIT
    while port_in_use(port):
        if time.monotonic() >= free_by:
            return SmokeResult(False, None, f"port {port} is already in use on this machine", port=port)
        time.sleep(1)
    name = f"dockeropt-smoke-{uuid.uuid4().hex[:10]}"
    argv = [docker, "run", "-d", "--name", name, "--network", "host", *env_args]
    if spec.port_env:
        argv += ["-e", f"{spec.port_env}={port}"]
    if hc is not None:
        # the image's own check command, timeout, retries and start period; a 1 s interval instead of
        # its (often 30 s) one, so a run takes seconds
        argv += ["--health-interval", "1s"]
    start = time.monotonic()
    try:
        p = _run([*argv, tag], timeout=120)
    except BaseException:  # interrupted (Ctrl-C, SIGTERM, a timeout) while the engine may have made it
        _run([docker, "rm", "-f", "-v", name], timeout=60)
        raise
    if p.returncode != 0:
        return SmokeResult(False, None, f"docker run failed: {p.stderr.strip()[-200:]}", port=port)
    where = f" on port {port}" + (f" ({spec.port_env}={port})" if spec.port_env else "")
    try:
        deadline = start + spec.timeout
        last, polls, ready = "no answer", 0, None
        while time.monotonic() < deadline:
            ok, last = _probe(spec, port, http_path, expect)
            if ok:
                ready = time.monotonic() - start
                break
            polls += 1
            if polls % 8 == 0:
                gone = _container_exited(docker, name)
                if gone:
                    return SmokeResult(False, None, gone + where, "not healthy: " + gone if hc else "no HEALTHCHECK", port)
            time.sleep(0.25)
        if ready is None:
            health = ""
            if hc is not None:
                status, check = _health_state(docker, name)
                health = f"{status}; {check}" if check else status
            return SmokeResult(False, None, f"not ready within {spec.timeout:.0f}s{where} ({last})",
                               health or "no HEALTHCHECK", port)
        if hc is None:
            return SmokeResult(True, ready, "ok", "no HEALTHCHECK", port)
        # Docker turns a container healthy on any passing check (also after "unhealthy" while the app
        # was starting): once the app answers, a correct check passes within a few 1 s intervals
        until = time.monotonic() + HEALTH_GRACE
        status, check = _health_state(docker, name)
        while status != "healthy" and time.monotonic() < until:
            time.sleep(0.5)
            status, check = _health_state(docker, name)
        if status == "healthy":
            return SmokeResult(True, ready, "ok", "healthy", port)
        test = " ".join(hc.get("Test") or [])[:160]
        why = (f"the app answered{where}, but its HEALTHCHECK is {status} {HEALTH_GRACE:.0f}s later"
               f" ({check or 'no check ran'}; HEALTHCHECK {test})")
        return SmokeResult(False, ready, why, f"{status}; {check}", port)
    finally:
        _run([docker, "rm", "-f", "-v", name], timeout=60)


# --------------------------------------------------------------------------- #
# test set-up, added files and dependency-manifest edits


def _tree(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder`` (.git included: a set-up may make it)."""
    import hashlib

    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(dirnames)
        for f in filenames:
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_setup(docker: str, folder: Path, spec: SmokeSpec, timeout: float = 900, cache_dir: Path | None = None) -> None:
    """Run the spec's set-up command over ``folder`` (a copy of the app); VerifyError with the log tail on failure.

    With ``cache_dir``, the files the set-up wrote are kept there, keyed by the set-up image's id, its
    command and every file of ``folder``; the same inputs later reuse them instead of running it again.
    """
    if spec.setup is None:
        return
    import hashlib
    import tarfile

    tar: Path | None = None
    before: dict[str, str] = {}
    if cache_dir is not None:
        img = _run([docker, "image", "inspect", "--format", "{{.Id}}", spec.setup.image], timeout=60).stdout.strip()
        before = _tree(folder)
        # "v2": outputs kept since .git is part of them (a set-up that runs git init)
        key = hashlib.sha256(json.dumps(["v2", img, spec.setup.cmd, sorted(before.items())]).encode()).hexdigest()[:24]
        tar = cache_dir / f"{key}.tar"
        if img and tar.is_file():
            with tarfile.open(tar) as t:
                t.extractall(folder, filter="data")
            return
    argv = [docker, "run", "--rm", "--network", "host", "-v", f"{folder.resolve()}:/src", "-w", "/src",
            spec.setup.image, *spec.setup.cmd]
    try:
        p = _run(argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"set-up command timed out after {timeout:.0f}s: {shlex.join(spec.setup.cmd)}") from None
    if p.returncode != 0:
        tail = " | ".join((p.stdout + p.stderr).strip().splitlines()[-5:])[-400:]
        raise VerifyError(f"set-up in {spec.setup.image} failed (exit {p.returncode}): {tail}")
    if tar is not None:
        made = sorted(rel for rel, digest in _tree(folder).items() if before.get(rel) != digest)
        tar.parent.mkdir(parents=True, exist_ok=True)
        part = tar.with_suffix(f".{uuid.uuid4().hex[:6]}.part")
        with tarfile.open(part, "w") as t:
            for rel in made:
                t.add(folder / rel, arcname=rel, recursive=False)
        part.replace(tar)


def prepared_context(docker: str, context: Path, spec: SmokeSpec, into: Path, cache_dir: Path | None = None) -> Path:
    """``context`` itself, or (when the spec has a set-up) a copy of it under ``into`` with the set-up run."""
    if spec.setup is None:
        return context
    dest = into / context.resolve().name
    shutil.copytree(context, dest, symlinks=True)  # .git too: Docker sends it unless .dockerignore says otherwise
    run_setup(docker, dest, spec, cache_dir=cache_dir)
    return dest


def setup_cache_dir() -> Path | None:
    """Where the lab keeps set-up outputs between runs: $DOCKEROPT_SETUP_CACHE ('' or 'off': none),
    default $LAB_STATE/setup-cache (/var/tmp/dockeropt-lab/setup-cache)."""
    env = os.environ.get("DOCKEROPT_SETUP_CACHE")
    if env is not None:
        return None if env in ("", "off", "0") else Path(env)
    return Path(os.environ.get("LAB_STATE", "/var/tmp/dockeropt-lab")) / "setup-cache"


def edit_manifest(path: Path) -> None:
    """Edit a dependency manifest without changing any dependency.

    JSON (package.json, composer.json): add a top-level field; go.mod: a ``//`` comment;
    anything else (requirements.txt, Pipfile, pyproject.toml, Gemfile...): a ``#`` comment.
    Each edit carries a random token, so it is never a cache hit.
    """
    token = uuid.uuid4().hex[:12]
    if path.suffix == ".json":
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise VerifyError(f"{path.name}: not a JSON object")
        data["x-dockeropt-bench"] = token
        indent = 2
        for line in text.splitlines()[1:2]:
            stripped = len(line) - len(line.lstrip(" "))
            indent = stripped or 2
        path.write_text(json.dumps(data, indent=indent) + "\n", encoding="utf-8")
        return
    data = path.read_bytes()
    nl = b"\r\n" if b"\r\n" in data else b"\n"
    prefix = b"" if not data or data.endswith(b"\n") else nl
    mark = "//" if path.name in ("go.mod", "go.work") else "#"
    path.write_bytes(data + prefix + f"{mark} dockeropt lab: manifest edit {token}".encode() + nl)


# --------------------------------------------------------------------------- #
# source edits for warm rebuilds


def comment_line(path: str) -> str:
    """A one-line comment in the syntax of ``path``'s file type."""
    name = posixpath.basename(path).lower()
    suffix = posixpath.splitext(name)[1]
    msg = f"dockeropt verify: warm-rebuild edit {uuid.uuid4().hex[:12]}"  # unique: never a cache hit
    if suffix in _SLASH:
        return f"// {msg}"
    if suffix in _BLOCK:
        return f"/* {msg} */"
    if suffix in _MARKUP:
        return f"<!-- {msg} -->"
    if suffix == ".json":
        return ""  # JSON has no comments; trailing whitespace still changes the file
    return f"# {msg}"


def append_comment(path: Path) -> None:
    """Append a one-line comment (or, for JSON, a blank line) to ``path``."""
    data = path.read_bytes()
    nl = b"\r\n" if b"\r\n" in data else b"\n"
    prefix = b"" if not data or data.endswith(b"\n") else nl
    path.write_bytes(data + prefix + comment_line(path.name).encode() + nl)


def _copied_sources(text: str) -> list[str]:
    """Context paths named by COPY/ADD (not --from, not URLs) in any stage."""
    from dockeropt.analysis import copy_spec
    from dockeropt.syntax import ParseError, parse

    try:
        doc = parse(text)
    except ParseError:
        return ["."]
    out: list[str] = []
    for ins in doc.instructions:
        spec = copy_spec(ins)
        if spec is None or spec.from_stage is not None:
            continue
        for src in spec.sources:
            if "://" in src or src.startswith("git@"):
                continue
            out.append(posixpath.normpath(src.lstrip("/")) or ".")
    return out


def _walk(root: Path, ctx: BuildContext) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not ctx.ignored(rel_dir + d))
        for f in sorted(filenames):
            rel = rel_dir + f
            if not ctx.ignored(rel):
                yield rel


def default_touch(context: Path, dockerfile_text: str, dockerfile: Path | None = None) -> str | None:
    """The newest source file (not a manifest) in ``context`` that the Dockerfile copies."""
    from dockeropt.context import BuildContext

    ctx = BuildContext(context, dockerfile=dockerfile)
    sources = _copied_sources(dockerfile_text)
    if not sources:
        return None
    candidates: list[tuple[float, str]] = []
    for rel in _walk(context, ctx):
        name = posixpath.basename(rel)
        if name in MANIFESTS or name.startswith("Dockerfile") or not name.lower().endswith(SOURCE_SUFFIXES):
            continue
        if not any(_covered(rel, src) for src in sources):
            continue
        try:
            mtime = (context / rel).stat().st_mtime
        except OSError:
            continue
        candidates.append((mtime, rel))
    if not candidates:
        return None
    # newest first; among equal times (fresh checkouts) the shallowest, then alphabetical
    candidates.sort(key=lambda c: (-c[0], c[1].count("/"), c[1]))
    return candidates[0][1]


def _covered(rel: str, src: str) -> bool:
    if src in (".", ""):
        return True
    if any(ch in src for ch in "*?["):
        parts = rel.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[: i + 1]), src) for i in range(len(parts)))
    return rel == src or rel.startswith(src.rstrip("/") + "/")


# --------------------------------------------------------------------------- #
# measuring one variant


@dataclass
class Measurement:
    label: str
    build_ok: bool = False
    size: int | None = None
    layers: int | None = None
    user: str | None = None
    cold_seconds: float | None = None
    warm_seconds: float | None = None
    dep_seconds: float | None = None  # rebuild after a dependency manifest changed (lab report)
    ready_seconds: float | None = None
    smoke_ok: bool | None = None  # None: not run (build failed); False also when the HEALTHCHECK failed
    smoke_detail: str = ""
    health: str = ""  # "healthy", "no HEALTHCHECK", "not checked (...)", or the status and last check
    smoke_port: int | None = None  # the port the server was started on (the health port with a HEALTHCHECK)
    added_ok: bool | None = None  # the added-file check (spec.add_file); None: not run
    added_detail: str = ""
    error: str = ""
    note: str = ""  # e.g. a base image was replaced while measuring (timings not comparable)
    build_log: str = field(default="", repr=False)

    @property
    def passed(self) -> bool:
        return self.build_ok and self.smoke_ok is True and self.added_ok is not False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("build_log")
        return d


def stage_context(context: Path, dockerfile: Path | None, text: str, into: Path) -> tuple[Path, Path]:
    """Copy ``context`` to ``into/ctx`` and write ``text`` as the Dockerfile; returns (context, dockerfile)."""
    ctx = into / "ctx"
    # .git too: Docker sends it unless .dockerignore leaves it out, and a build may read it (setuptools-scm)
    shutil.copytree(context, ctx, symlinks=True)
    rel: Path | None = None
    if dockerfile is not None:
        try:
            rel = dockerfile.resolve().relative_to(context.resolve())
        except ValueError:
            rel = None
    target = ctx / rel if rel is not None else into / "Dockerfile"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return ctx, target


def measure(
    docker: str,
    context: Path,
    text: str,
    spec: SmokeSpec,
    *,
    label: str,
    tag: str,
    dockerfile: Path | None = None,
    touch: str | None = None,
    cold: bool = True,
    warm: bool = True,
    buildx: bool = False,
    builder: str | None = None,
    keep_image: bool = False,
    manifest: str | None = None,
    added: bool = True,
) -> Measurement:
    """Build ``text`` over a temporary copy of ``context``, inspect, smoke-test, edit ``touch``, rebuild.

    With ``manifest`` (a dependency manifest such as requirements.txt; the lab report passes
    ``spec.dep_edit``), also edit it without changing a dependency (:func:`edit_manifest`) after the warm rebuild and
    time one more rebuild: the dependency-change rebuild. With ``spec.add_file`` (and ``added``),
    finally add that file to the context, rebuild, and check the image serves it.
    """
    m = Measurement(label)
    bases_before = base_image_ids(docker, text)
    with tempfile.TemporaryDirectory(prefix="dockeropt-verify-") as tmp:
        ctx, df = stage_context(context, dockerfile, text, Path(tmp))
        if cold:
            prune_build_cache(docker, buildx=buildx, builder=builder)
        b = build_image(docker, ctx, df, tag, buildx=buildx, builder=builder)
        m.build_ok, m.build_log = b.ok, b.log_tail
        if cold:
            m.cold_seconds = b.seconds
        if not b.ok:
            m.error = "build failed: " + ((b.log_tail.splitlines() or ["?"])[-1])[:200]
            return m
        try:
            facts = inspect_image(docker, tag)
            m.size, m.layers, m.user = facts.size, facts.layers, facts.user
            s = run_smoke(docker, tag, spec)
            m.smoke_ok, m.ready_seconds, m.smoke_detail = s.ok, s.seconds, s.detail
            m.health, m.smoke_port = s.health, s.port
            if not s.ok:
                return m  # a broken image: no point timing its rebuilds (and the e2e run stays short)
            if warm and touch is not None:
                append_comment(ctx / touch)
                w = build_image(docker, ctx, df, tag + "-warm", buildx=buildx, builder=builder)
                if w.ok:
                    m.warm_seconds = w.seconds
                else:
                    m.error = "warm rebuild failed: " + ((w.log_tail.splitlines() or ["?"])[-1])[:200]
                remove_image(docker, tag + "-warm")
            if warm and manifest is not None and (ctx / manifest).is_file():
                edit_manifest(ctx / manifest)
                d = build_image(docker, ctx, df, tag + "-dep", buildx=buildx, builder=builder)
                if d.ok:
                    m.dep_seconds = d.seconds
                else:
                    m.error = "dependency-change rebuild failed: " + ((d.log_tail.splitlines() or ["?"])[-1])[:200]
                remove_image(docker, tag + "-dep")
            if spec.add_file is not None and added:
                m.added_ok, m.added_detail = check_added_file(docker, ctx, df, tag + "-added", spec,
                                                              buildx=buildx, builder=builder)
        finally:
            if not keep_image:
                remove_image(docker, tag)
    replaced = [b for b, i in base_image_ids(docker, text).items() if bases_before.get(b) != i]
    if replaced:
        m.note = f"base image {', '.join(replaced)} was replaced during the measurement: timings not comparable"
    return m


def check_added_file(docker: str, ctx: Path, dockerfile: Path, tag: str, spec: SmokeSpec, *,
                     buildx: bool = False, builder: str | None = None) -> tuple[bool, str]:
    """Add ``spec.add_file`` to the build context, rebuild, and probe its route (a file list frozen by
    a rewrite would leave it out of the image)."""
    a = spec.add_file
    assert a is not None
    target = ctx / a.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(a.content, encoding="utf-8")
    try:
        b = build_image(docker, ctx, dockerfile, tag, buildx=buildx, builder=builder)
        if not b.ok:
            return False, f"rebuild after adding {a.path} failed: " + ((b.log_tail.splitlines() or ["?"])[-1])[:200]
        s = run_smoke(docker, tag, spec, http_path=a.http_path, expect=a.expect)
        if not s.ok:
            return False, f"after adding {a.path} and rebuilding, GET {a.http_path}: {s.detail}"
        return True, f"{a.path} added, rebuilt, served at {a.http_path}"
    finally:
        remove_image(docker, tag)
        target.unlink(missing_ok=True)


def base_image_ids(docker: str, text: str) -> dict[str, str | None]:
    """Local image ids of the external images the Dockerfile's stages start from."""
    from dockeropt.syntax import ParseError, parse

    try:
        doc = parse(text)
    except ParseError:
        return {}
    names = {st.name.lower() for st in doc.stages if st.name}
    out: dict[str, str | None] = {}
    for st in doc.stages:
        ref = st.base
        if not ref or "$" in ref or ref.lower() == "scratch" or ref.lower() in names or ref in out:
            continue
        p = _run([docker, "image", "inspect", "--format", "{{.Id}}", ref], timeout=60)
        out[ref] = p.stdout.strip() if p.returncode == 0 else None
    return out


def regression(original: Measurement, fixed: Measurement) -> str | None:
    """Why the fixed image is worse than the original (None when it is not)."""
    if original.build_ok and not fixed.build_ok:
        return "the fixed Dockerfile does not build"
    if original.smoke_ok and fixed.smoke_ok is False:
        return f"the fixed image fails its smoke test ({fixed.smoke_detail})"
    if original.warm_seconds is not None and fixed.warm_seconds is None and fixed.error:
        return fixed.error
    if original.added_ok and fixed.added_ok is False:
        return f"the fixed image does not pick up a file added to the context ({fixed.added_detail})"
    return None


# --------------------------------------------------------------------------- #
# rendering


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.1f} MB"


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f} s"


def _ratio(a: float | int | None, b: float | int | None) -> str:
    if a is None or b is None or a == 0:
        return ""
    r = b / a
    return f"{(r - 1) * 100:+.0f}%"


def _smoke(m: Measurement) -> str:
    if m.smoke_ok is None:
        return "not run"
    return "pass" if m.smoke_ok else f"FAIL: {m.smoke_detail}"


def table_rows(original: Measurement, fixed: Measurement | None) -> list[tuple[str, str, str, str]]:
    """(row name, original, fixed, change) for the side-by-side table."""
    f = fixed
    rows = [
        ("build ok", "yes" if original.build_ok else "NO", "-" if f is None else ("yes" if f.build_ok else "NO"), ""),
        ("image size", _mb(original.size), "-" if f is None else _mb(f.size), "" if f is None else _ratio(original.size, f.size)),
        ("layers", "-" if original.layers is None else str(original.layers),
         "-" if f is None or f.layers is None else str(f.layers), ""),
        ("user", original.user or "-", "-" if f is None else (f.user or "-"), ""),
        ("cold build", _s(original.cold_seconds), "-" if f is None else _s(f.cold_seconds),
         "" if f is None else _ratio(original.cold_seconds, f.cold_seconds)),
        ("warm rebuild", _s(original.warm_seconds), "-" if f is None else _s(f.warm_seconds),
         "" if f is None else _ratio(original.warm_seconds, f.warm_seconds)),
        ("start to ready", _s(original.ready_seconds), "-" if f is None else _s(f.ready_seconds), ""),
        ("smoke test", _smoke(original), "-" if f is None else _smoke(f), ""),
        ("health", original.health or "-", "-" if f is None else (f.health or "-"), ""),
    ]
    if original.added_ok is not None or (f is not None and f.added_ok is not None):
        rows.append(("added file", _added(original), "-" if f is None else _added(f), ""))
    return rows


def _added(m: Measurement) -> str:
    if m.added_ok is None:
        return "not run"
    return "served" if m.added_ok else f"FAIL: {m.added_detail}"


def render_table(original: Measurement, fixed: Measurement | None, title: str = "") -> Any:
    from rich.table import Table

    t = Table(title=title or None)
    t.add_column("")
    t.add_column("original", justify="right")
    t.add_column("fixed" if fixed is not None else "fixed (no changes)", justify="right")
    t.add_column("change", justify="right")
    for row in table_rows(original, fixed):
        t.add_row(*row)
    return t


# --------------------------------------------------------------------------- #
# the command


def build_spec(
    *,
    app: Path | None,
    smoke_cmd: str | None,
    http: str | None,
    port: int | None,
    expect: str | None,
    port_env: str | None,
    touch: str | None,
    timeout: float | None,
) -> SmokeSpec:
    """The smoke spec from either --app or the individual options (VerifyError on contradictions)."""
    if app is not None:
        if smoke_cmd is not None or http is not None or port is not None or expect is not None or port_env is not None:
            raise VerifyError("--app gives the smoke test; do not combine it with --smoke-cmd/--http/--port/--expect/--port-env")
        spec = SmokeSpec.load(app)
    else:
        if smoke_cmd is not None and http is not None:
            raise VerifyError("give either --smoke-cmd or --http, not both")
        if port_env is not None and http is None:
            raise VerifyError("--port-env only applies to an HTTP probe (--http PATH)")
        spec = SmokeSpec(http_path=http, port=port, expect=expect, port_env=port_env or "PORT")
        if smoke_cmd is not None:
            try:
                spec.cmd = shlex.split(smoke_cmd)
            except ValueError as exc:
                raise VerifyError(f"--smoke-cmd: {exc}") from None
        elif http is None and expect is not None:
            spec.cmd = []  # --expect alone: run the default CMD
    if touch is not None:
        spec.touch = touch
    if timeout is not None:
        spec.timeout = timeout
    spec.validate()
    return spec


def check_touch(context: Path, touch: str) -> str:
    rel = posixpath.normpath(touch.replace(os.sep, "/"))
    if rel.startswith("../") or rel == ".." or posixpath.isabs(rel):
        raise VerifyError(f"--touch {touch}: must be a path inside the build context")
    if not (context / rel).is_file():
        raise VerifyError(f"--touch {touch}: no such file in the build context {context}")
    return rel


def _setup_copy(dockerfile: Path, ctx_dir: Path, spec: SmokeSpec) -> tuple[Path, Path]:
    """(Dockerfile, context) in a temporary copy of ``ctx_dir`` over which the spec's set-up has run."""
    import atexit

    docker = docker_binary()
    problem = engine_problem(docker)
    if problem is not None:
        raise EngineError(problem)
    try:
        rel = dockerfile.resolve().relative_to(ctx_dir.resolve())
    except ValueError:
        raise VerifyError("an app.json 'setup' needs the Dockerfile inside the build context") from None
    tmp = Path(tempfile.mkdtemp(prefix="dockeropt-setup-"))
    atexit.register(shutil.rmtree, tmp, True)
    assert spec.setup is not None
    _err(f"verify: set-up: {shlex.join(spec.setup.cmd)} in {spec.setup.image} over a copy of the context")
    prepared = prepared_context(docker, ctx_dir, spec, tmp)
    return prepared / rel, prepared


def _err(msg: str) -> None:
    import sys

    sys.stderr.write(f"dockeropt: {msg}\n")


def verify_command(
    dockerfile: Annotated[Path, typer.Argument(help="The Dockerfile to verify.")],
    context: Annotated[Optional[Path], typer.Option("--context", help="Build context (default: the Dockerfile's folder).")] = None,
    app_spec: Annotated[Optional[Path], typer.Option("--app", help="Read the smoke test from an app.json file.")] = None,
    smoke_cmd: Annotated[Optional[str], typer.Option("--smoke-cmd", help="Arguments for 'docker run IMAGE ...' ('' = default CMD).")] = None,
    http: Annotated[Optional[str], typer.Option("--http", help="HTTP path to probe on 127.0.0.1:PORT.")] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="Port the app listens on (HTTP probe).")] = None,
    expect: Annotated[Optional[str], typer.Option("--expect", help="Text expected in the HTTP body or command output.")] = None,
    port_env: Annotated[Optional[str], typer.Option("--port-env", help="Environment variable carrying the port (default PORT).")] = None,
    touch: Annotated[Optional[str], typer.Option("--touch", help="Context file to edit for the warm rebuild.")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds the smoke test may take (default 60).")] = None,
    keep_cache: Annotated[bool, typer.Option("--keep-cache", help="Do not empty the BuildKit cache (no cold-build timing).")] = False,
    builder: Annotated[Optional[str], typer.Option("--builder", help="buildx builder to build with (e.g. a remote BuildKit).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the measurements as JSON.")] = False,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Rule ids or prefixes, comma-separated.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule ids or prefixes to skip.")] = None,
    safe_only: Annotated[bool, typer.Option("--safe-only", help="Apply only fixes marked safe.")] = False,
    unsafe_fixes: Annotated[bool, typer.Option("--unsafe-fixes", help="Also apply fixes marked unsafe.")] = False,
) -> None:
    """Build the Dockerfile before and after 'fix' and compare size, speed and behaviour.

    Empties the BuildKit build cache (docker builder prune -af) for cold-build
    timings unless --keep-cache is given.
    """
    from dockeropt.cli import UsageError, build_config
    from dockeropt.report import display_path
    from dockeropt.rules import selected_passes
    from dockeropt.runner import fix_file
    from dockeropt.settings import ConfigError

    try:  # the shared loader: the nearest .dockeropt.toml / [tool.dockeropt], then these flags
        config = build_config(select, ignore, safe_only, unsafe_fixes, dockerfile)
    except (UsageError, ConfigError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from None
    try:
        ctx_dir = context if context is not None else (dockerfile.parent if str(dockerfile.parent) else Path("."))
        if not ctx_dir.is_dir():
            raise VerifyError(f"--context {ctx_dir}: not a folder")
        spec = build_spec(app=app_spec, smoke_cmd=smoke_cmd, http=http, port=port, expect=expect,
                          port_env=port_env, touch=touch, timeout=timeout)
        shown = display_path(dockerfile)
        if spec.setup is not None:  # fix and build over a copy of the context with the set-up's files
            dockerfile, ctx_dir = _setup_copy(dockerfile, ctx_dir, spec)
            context = ctx_dir
        outcome = fix_file(dockerfile, config=config, display=shown, context_dir=context,
                           write=False, passes=selected_passes(config))
        if outcome.error is not None:
            raise VerifyError(f"{outcome.display}: {outcome.error}")
        assert outcome.result is not None
        result = outcome.result
        touch_rel = check_touch(ctx_dir, spec.touch) if spec.touch else default_touch(ctx_dir, result.original, dockerfile)
        docker = docker_binary()
        problem = engine_problem(docker)
        if problem is not None:
            raise EngineError(problem)
    except VerifyError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from None

    buildx = builder is not None or has_buildx(docker)
    base = f"dockeropt-verify-{uuid.uuid4().hex[:8]}"
    say = (lambda s: None) if as_json else (lambda s: _err(s))
    say(f"verify: smoke test {spec.describe()}; warm-rebuild edit: {touch_rel or '(none found)'}")
    if not keep_cache:
        say("verify: emptying the BuildKit cache before each cold build (docker builder prune -af)")
    common = dict(dockerfile=dockerfile, touch=touch_rel, cold=not keep_cache, buildx=buildx, builder=builder)
    say("verify: building the original")
    orig = measure(docker, ctx_dir, result.original, spec, label="original", tag=f"{base}:original", **common)
    fixed: Measurement | None = None
    if result.changed:
        say(f"verify: building the fixed Dockerfile ({len(result.applied)} change(s))")
        fixed = measure(docker, ctx_dir, result.fixed, spec, label="fixed", tag=f"{base}:fixed", **common)
    why = regression(orig, fixed) if fixed is not None else None
    if as_json:
        print(json.dumps({
            "dockerfile": outcome.display,
            "changed": result.changed,
            "rules": sorted({c.rule_id for c in result.applied}) if result.applied else [],
            "smoke": spec.describe(),
            "touch": touch_rel,
            "original": orig.to_json(),
            "fixed": fixed.to_json() if fixed else None,
            "regression": why,
        }, indent=2))
    else:
        from rich.console import Console

        Console().print(render_table(orig, fixed, title=f"dockeropt verify {outcome.display}"))
        if not result.changed:
            print("dockeropt fix changes nothing in this Dockerfile.")
        for m in (orig, fixed):
            if m is not None and m.note:
                _err(f"warning: {m.label}: {m.note}")
            if m is not None and not m.build_ok:
                _err(f"{m.label} build log (tail):\n{m.build_log}")
    if why is not None:
        _err(f"error: {why}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify_command)

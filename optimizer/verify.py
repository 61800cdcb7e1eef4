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
class SmokeSpec:
    """How to tell that an image works: an HTTP probe or a command's output."""

    http_path: str | None = None
    port: int | None = None
    port_env: str = "PORT"
    cmd: list[str] | None = None  # arguments after the image name; [] = the image's default CMD
    expect: str | None = None
    touch: str | None = None
    timeout: float = 60.0

    @property
    def kind(self) -> str:
        if self.http_path is not None:
            return "http"
        if self.cmd is not None:
            return "cmd"
        return "none"

    def validate(self) -> None:
        if self.http_path is not None and self.cmd is not None:
            raise VerifyError("give either an HTTP probe or a smoke command, not both")
        if self.http_path is not None:
            if not self.http_path.startswith("/"):
                raise VerifyError(f"HTTP path must start with '/': {self.http_path!r}")
            if self.port is None:
                raise VerifyError("an HTTP probe needs a port (--port)")
            if self.expect is None:
                raise VerifyError("an HTTP probe needs the text to expect in the body (--expect)")
        elif self.port is not None:
            raise VerifyError("--port only applies to an HTTP probe (--http PATH)")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise VerifyError(f"port out of range: {self.port}")
        if not self.port_env or not self.port_env.replace("_", "a").isalnum() or self.port_env[0].isdigit():
            raise VerifyError(f"not an environment variable name: {self.port_env!r}")
        if self.timeout <= 0:
            raise VerifyError("the smoke timeout must be positive")

    @classmethod
    def from_json(cls, data: Any, where: str = "app.json") -> SmokeSpec:
        """Read the ``app.json`` format: ``{"http": {...}, "touch": ...}`` or ``{"cmd": [...], "expect": ...}``."""
        if not isinstance(data, dict):
            raise VerifyError(f"{where}: expected a JSON object")
        unknown = set(data) - {"http", "cmd", "expect", "touch", "timeout"}
        if unknown:
            raise VerifyError(f"{where}: unknown key {sorted(unknown)[0]!r}")
        spec = cls()
        if "http" in data:
            h = data["http"]
            if not isinstance(h, dict):
                raise VerifyError(f"{where}: 'http' must be an object")
            bad = set(h) - {"path", "port", "expect", "port_env"}
            if bad:
                raise VerifyError(f"{where}: unknown key http.{sorted(bad)[0]}")
            spec.http_path = str(h.get("path", "/"))
            port = h.get("port")
            if not isinstance(port, int) or isinstance(port, bool):
                raise VerifyError(f"{where}: http.port must be an integer")
            spec.port = port
            spec.expect = h.get("expect") if h.get("expect") is None else str(h["expect"])
            spec.port_env = str(h.get("port_env", "PORT"))
            if "expect" in data:
                raise VerifyError(f"{where}: put 'expect' inside 'http' for an HTTP probe")
        if "cmd" in data:
            cmd = data["cmd"]
            if not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
                raise VerifyError(f"{where}: 'cmd' must be a list of strings")
            spec.cmd = list(cmd)
            spec.expect = None if data.get("expect") is None else str(data["expect"])
        elif "expect" in data and "http" not in data:
            spec.cmd = []
            spec.expect = str(data["expect"])
        if data.get("touch") is not None:
            spec.touch = str(data["touch"])
        if "timeout" in data:
            spec.timeout = float(data["timeout"])
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
        if self.kind == "http":
            return f"GET :{self.port}{self.http_path} expecting {self.expect!r}"
        if self.kind == "cmd":
            args = shlex.join(self.cmd or []) or "(default CMD)"
            return f"run {args}" + (f" expecting {self.expect!r}" if self.expect is not None else "")
        return "none"


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
    seconds: float | None  # docker run -> ready (HTTP answered as expected, or the command finished)
    detail: str


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


def run_smoke(docker: str, tag: str, spec: SmokeSpec) -> SmokeResult:
    """Start the image and check it (host network; HTTP probes go to 127.0.0.1:PORT)."""
    if spec.kind == "none":
        return SmokeResult(True, None, "no smoke test given")
    if spec.kind == "cmd":
        start = time.monotonic()
        name = f"dockeropt-smoke-{uuid.uuid4().hex[:10]}"
        try:
            p = _run([docker, "run", "--rm", "--name", name, "--network", "host", tag, *(spec.cmd or [])],
                     timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            _run([docker, "rm", "-f", name], timeout=60)
            return SmokeResult(False, None, f"command did not finish within {spec.timeout:.0f}s")
        seconds = time.monotonic() - start
        out = p.stdout + p.stderr
        last = (out.strip().splitlines() or ["(no output)"])[-1][:200]
        if p.returncode != 0:
            return SmokeResult(False, seconds, f"exit {p.returncode}: {last}")
        if spec.expect is not None and spec.expect not in out:
            return SmokeResult(False, seconds, f"output lacks {spec.expect!r}: {last}")
        return SmokeResult(True, seconds, "ok")
    assert spec.port is not None and spec.http_path is not None
    # another run on a shared machine may hold the port for a moment: wait a little before giving up
    free_by = time.monotonic() + PORT_WAIT
    while port_in_use(spec.port):
        if time.monotonic() >= free_by:
            return SmokeResult(False, None, f"port {spec.port} is already in use on this machine")
        time.sleep(1)
    name = f"dockeropt-smoke-{uuid.uuid4().hex[:10]}"
    start = time.monotonic()
    p = _run([docker, "run", "-d", "--name", name, "--network", "host", "-e", f"{spec.port_env}={spec.port}", tag],
             timeout=120)
    if p.returncode != 0:
        return SmokeResult(False, None, f"docker run failed: {p.stderr.strip()[-200:]}")
    url = f"http://127.0.0.1:{spec.port}{spec.http_path}"
    last = "no answer"
    try:
        deadline = start + spec.timeout
        polls = 0
        while time.monotonic() < deadline:
            got = _http_get(url)
            if got is not None:
                status, body = got
                if 200 <= status < 400 and (spec.expect is None or spec.expect in body):
                    return SmokeResult(True, time.monotonic() - start, "ok")
                last = f"HTTP {status}: {body.strip()[:120]}"
            polls += 1
            if polls % 8 == 0:
                st = _run([docker, "inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", name], timeout=30)
                if st.stdout.startswith("false"):
                    logs = _run([docker, "logs", "--tail", "5", name], timeout=30)
                    tail = (logs.stdout + logs.stderr).strip().splitlines()
                    code = st.stdout.split()[-1] if st.stdout.split() else "?"
                    return SmokeResult(False, None, f"container exited ({code}): {(tail or [''])[-1][:200]}")
            time.sleep(0.25)
        return SmokeResult(False, None, f"not ready within {spec.timeout:.0f}s ({last})")
    finally:
        _run([docker, "rm", "-f", name], timeout=60)


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
    smoke_ok: bool | None = None  # None: not run (build failed)
    smoke_detail: str = ""
    error: str = ""
    note: str = ""  # e.g. a base image was replaced while measuring (timings not comparable)
    build_log: str = field(default="", repr=False)

    @property
    def passed(self) -> bool:
        return self.build_ok and self.smoke_ok is True

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("build_log")
        return d


def stage_context(context: Path, dockerfile: Path | None, text: str, into: Path) -> tuple[Path, Path]:
    """Copy ``context`` to ``into/ctx`` and write ``text`` as the Dockerfile; returns (context, dockerfile)."""
    ctx = into / "ctx"
    shutil.copytree(context, ctx, symlinks=True, ignore=shutil.ignore_patterns(".git"))
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
) -> Measurement:
    """Build ``text`` over a temporary copy of ``context``, inspect, smoke-test, edit ``touch``, rebuild.

    With ``manifest`` (a dependency manifest such as requirements.txt), also edit it after the warm
    rebuild and time one more rebuild: the dependency-change rebuild.
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
            if warm and touch is not None:
                append_comment(ctx / touch)
                w = build_image(docker, ctx, df, tag + "-warm", buildx=buildx, builder=builder)
                if w.ok:
                    m.warm_seconds = w.seconds
                else:
                    m.error = "warm rebuild failed: " + ((w.log_tail.splitlines() or ["?"])[-1])[:200]
                remove_image(docker, tag + "-warm")
            if warm and manifest is not None and (ctx / manifest).is_file():
                append_comment(ctx / manifest)
                d = build_image(docker, ctx, df, tag + "-dep", buildx=buildx, builder=builder)
                if d.ok:
                    m.dep_seconds = d.seconds
                else:
                    m.error = "dependency-change rebuild failed: " + ((d.log_tail.splitlines() or ["?"])[-1])[:200]
                remove_image(docker, tag + "-dep")
        finally:
            if not keep_image:
                remove_image(docker, tag)
    replaced = [b for b, i in base_image_ids(docker, text).items() if bases_before.get(b) != i]
    if replaced:
        m.note = f"base image {', '.join(replaced)} was replaced during the measurement: timings not comparable"
    return m


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
    ]
    return rows


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
        outcome = fix_file(dockerfile, config=config, display=display_path(dockerfile), context_dir=context,
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

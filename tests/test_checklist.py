"""Checklist rules whose fixes touch other files or need real folders (DO203, DO303, DO112), and the report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.edits import Safety
from dockeropt.pipeline import FixResult, fix_text
from dockeropt.rules import PassContext


def _fix(ctx_dir: Path, dockerfile: str, rules: list[str], **cfg: object) -> FixResult:
    (ctx_dir / "Dockerfile").write_text(dockerfile)
    config = Config(select=rules)
    for k, v in cfg.items():
        setattr(config, k, v)
    pctx = PassContext(config=config, path=ctx_dir / "Dockerfile", context=BuildContext(ctx_dir, dockerfile=ctx_dir / "Dockerfile"))
    return fix_text(dockerfile, pctx)


def _write_files(result: FixResult, ctx_dir: Path) -> None:
    for rel, (_old, new) in result.files.items():
        (ctx_dir / rel).write_text(new)


def _blob(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


NODE = 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD ["node", "server.js"]\n'


# --------------------------------------------------------------------------- DO203


def test_dockerignore_created_with_measured_saving(tmp_path: Path) -> None:
    _blob(tmp_path / ".git" / "objects" / "pack", 100_000)
    _blob(tmp_path / "node_modules" / "left-pad" / "index.js", 23_456)
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "server.js").write_text("")
    r = _fix(tmp_path, NODE, ["DO203"])
    assert r.fixed == NODE  # the Dockerfile itself is unchanged
    old, new = r.files[".dockerignore"]
    assert old is None
    assert [ln for ln in new.splitlines() if not ln.startswith("#")] == [".git", "node_modules", "Dockerfile"]
    (ch,) = r.applied
    assert ch.fix is not None and ch.fix.safety == Safety.SAFE and ch.fix.files[0].created
    assert "123,533 bytes" in ch.explanation  # .git and node_modules, plus the 77-byte Dockerfile
    _write_files(r, tmp_path)
    assert not _fix(tmp_path, NODE, ["DO203"]).changed  # converged: nothing left to ignore


def test_dockerignore_new_file_in_cli_diff(tmp_path: Path) -> None:
    _blob(tmp_path / "node_modules" / "a.js", 10)
    (tmp_path / "Dockerfile").write_text(NODE)
    out = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--diff", "--select", "DO203", "Dockerfile"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert "new file mode" in out.stdout and "+++ b/.dockerignore" in out.stdout and "+node_modules" in out.stdout
    assert not (tmp_path / ".dockerignore").exists()  # --diff writes nothing
    subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--select", "DO203", "Dockerfile"], cwd=tmp_path, check=True,
                   capture_output=True)
    assert "node_modules" in (tmp_path / ".dockerignore").read_text()


def test_dockerignore_keeps_git_for_git_describe(tmp_path: Path) -> None:
    _blob(tmp_path / ".git" / "HEAD", 10)
    _blob(tmp_path / "node_modules" / "a.js", 10)
    df = NODE.replace("RUN npm ci", "RUN npm ci && git describe --tags > VERSION")
    r = _fix(tmp_path, df, ["DO203"])
    new = r.files[".dockerignore"][1]
    assert "node_modules" in new and ".git" not in new.replace("(DO203)", "")


PY_INSTALL = 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install .\nCMD ["python", "-m", "svc"]\n'
SCM = '[build-system]\nrequires = ["setuptools>=64", "setuptools-scm>=8"]\n\n[project]\nname = "svc"\ndynamic = ["version"]\n'


def test_dockerignore_keeps_git_when_packaging_reads_the_version_from_it(tmp_path: Path) -> None:
    # setuptools-scm reads the version from .git while pip builds the project: without .git the install fails
    _blob(tmp_path / ".git" / "HEAD", 10)
    _blob(tmp_path / ".github" / "ci.yml", 10)
    (tmp_path / "pyproject.toml").write_text(SCM)
    r = _fix(tmp_path, PY_INSTALL, ["DO203"])
    new = r.files[".dockerignore"][1]
    assert ".github" in new and ".git\n" not in new
    # the same project with a static version: .git goes
    (tmp_path / "pyproject.toml").write_text(SCM.replace(', "setuptools-scm>=8"', "").replace('dynamic = ["version"]', 'version = "1.0"'))
    assert ".git\n" in _fix(tmp_path, PY_INSTALL, ["DO203"]).files[".dockerignore"][1]


def test_dockerignore_keeps_git_for_a_package_script_that_calls_git(tmp_path: Path) -> None:
    _blob(tmp_path / ".git" / "HEAD", 10)
    _blob(tmp_path / "node_modules" / "a.js", 10)
    (tmp_path / "package.json").write_text('{"scripts": {"build": "echo $(git rev-parse HEAD) > dist/rev"}}')
    df = NODE.replace("RUN npm ci", "RUN npm ci && npm run build")
    new = _fix(tmp_path, df, ["DO203"]).files[".dockerignore"][1]
    assert "node_modules" in new and ".git" not in new.replace("(DO203)", "")
    # a script that does not: .git goes
    (tmp_path / "package.json").write_text('{"scripts": {"build": "tsc", "release": "git tag v1"}}')
    assert ".git\n" in _fix(tmp_path, df, ["DO203"]).files[".dockerignore"][1]


def test_dockerignore_never_ignores_what_is_copied_or_run(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("dist/\nbuild/\ntarget/\n")
    _blob(tmp_path / "dist" / "app.js", 50)
    _blob(tmp_path / "build" / "x.o", 60)
    _blob(tmp_path / "target" / "app.jar", 70)
    _blob(tmp_path / "coverage" / "lcov.info", 80)  # not in .gitignore: may be source, left alone
    df = ("FROM node:20-slim\nWORKDIR /app\nCOPY dist /app/dist\nCOPY . .\nRUN ls target/app.jar\n"
          "RUN npm run build\nCMD [\"node\", \"dist/app.js\"]\n")
    r = _fix(tmp_path, df, ["DO203"])
    new = r.files[".dockerignore"][1]
    assert [ln for ln in new.splitlines() if not ln.startswith("#")] == ["build", "Dockerfile"]  # `npm run build` is a script name


def test_dockerignore_keeps_a_build_output_the_build_does_not_make(tmp_path: Path) -> None:
    # dist/ built on the host before `docker build` is what `npm start` runs: leaving it out broke the image
    (tmp_path / ".gitignore").write_text("dist/\n")
    _blob(tmp_path / "dist" / "index.js", 50)
    _blob(tmp_path / "node_modules" / "a.js", 10)
    (tmp_path / "package.json").write_text('{"scripts": {"start": "node dist/index.js"}}')
    df = 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN npm ci --omit=dev\nCMD ["npm", "start"]\n'
    new = _fix(tmp_path, df, ["DO203"]).files[".dockerignore"][1]
    assert [ln for ln in new.splitlines() if not ln.startswith("#")] == ["node_modules", "Dockerfile"]
    # with a RUN that builds, the build makes dist/ again: the host's copy stays out
    new = _fix(tmp_path, df.replace("npm ci --omit=dev", "npm ci && npm run build"), ["DO203"]).files[".dockerignore"][1]
    assert "dist" in new.splitlines()


def test_dockerignore_keeps_tests_a_run_runs(tmp_path: Path) -> None:
    # without tests/, `python -m pytest` collects nothing and exits 5: the build fails
    _blob(tmp_path / "tests" / "test_a.py", 40)
    (tmp_path / "app.py").write_text("print(1)\n")
    base = 'FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN {run}\nCMD ["python", "app.py"]\n'
    for run in ("python -m pytest", "make test", "bundle exec rake test", "./gradlew check"):
        assert not _fix(tmp_path, base.format(run=run), ["DO203"]).changed, run
    new = _fix(tmp_path, base.format(run="make build"), ["DO203"]).files[".dockerignore"][1]
    assert "tests" in new.splitlines()


def test_dockerignore_node_modules_kept_without_install(tmp_path: Path) -> None:
    _blob(tmp_path / "node_modules" / "a.js", 10)
    r = _fix(tmp_path, 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nCMD ["node", "server.js"]\n', ["DO203"])
    assert not r.changed  # the image runs with the context's node_modules


def test_dockerignore_extends_and_respects_negations(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# mine\n*.log\n!node_modules/keep\n")
    _blob(tmp_path / "node_modules" / "keep" / "a.js", 10)
    _blob(tmp_path / ".venv" / "pyvenv.cfg", 10)
    _blob(tmp_path / "myenv" / "pyvenv.cfg", 10)
    _blob(tmp_path / "pkg" / "__pycache__" / "m.pyc", 10)
    r = _fix(tmp_path, NODE, ["DO203"])
    old, new = r.files[".dockerignore"]
    assert old == "# mine\n*.log\n!node_modules/keep\n" and new.startswith(old)
    added = [ln for ln in new[len(old):].splitlines() if not ln.startswith("#")]
    assert added == [".venv", "myenv", "**/__pycache__", "Dockerfile"]
    assert not r.applied[0].fix.files[0].created  # type: ignore[union-attr]


def test_dockerignore_env_files_are_a_review_fix(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_KEY=abc\n")
    (tmp_path / ".env.example").write_text("API_KEY=\n")
    _blob(tmp_path / "node_modules" / "a.js", 10)
    r = _fix(tmp_path, NODE, ["DO203"])
    lines = [ln for ln in r.files[".dockerignore"][1].splitlines() if not ln.startswith("#")]
    assert lines == ["node_modules", "Dockerfile", ".env"]
    assert [c.fix.safety for c in r.applied] == [Safety.SAFE, Safety.REVIEW]  # type: ignore[union-attr]
    assert "abc" not in "".join(c.explanation for c in r.applied)
    safe = _fix(tmp_path, NODE, ["DO203"], safe_only=True)
    assert ".env" not in safe.files[".dockerignore"][1]
    assert any(n.rule_id == "DO203" for n in safe.notes)


def test_dockerignore_only_for_full_context_copies(tmp_path: Path) -> None:
    _blob(tmp_path / "node_modules" / "a.js", 10)
    df = 'FROM node:20-slim\nWORKDIR /app\nCOPY package.json server.js ./\nRUN npm ci\nCMD ["node", "server.js"]\n'
    assert not _fix(tmp_path, df, ["DO203"]).changed


def test_dockerignore_uses_dockerfile_specific_ignore_file(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.dockerignore").write_text("*.md\n")
    _blob(tmp_path / "node_modules" / "a.js", 10)
    r = _fix(tmp_path, NODE, ["DO203"])
    assert list(r.files) == ["Dockerfile.dockerignore"]


# --------------------------------------------------------------------------- DO303 digests

DIGEST = "sha256:" + "ab" * 32


class _Resp:
    def __init__(self, headers: dict[str, str], body: bytes = b"") -> None:
        self.headers = headers
        self._body = body

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> _Resp:
        return self

    def __exit__(self, *a: object) -> None:
        return None


def test_registry_client_follows_the_token_challenge() -> None:
    import io
    import json
    import urllib.error

    from dockeropt.catalog.images import parse_image
    from dockeropt.transforms._registry import resolve_digest

    seen: list[tuple[str, str | None]] = []

    def opener(req: object, timeout: float) -> _Resp:
        url = req.full_url  # type: ignore[attr-defined]
        auth = req.get_header("Authorization")  # type: ignore[attr-defined]
        seen.append((url, auth))
        if url.startswith("https://auth.test/token"):
            return _Resp({}, json.dumps({"token": "t0k"}).encode())
        if auth != "Bearer t0k":
            hdrs = {"WWW-Authenticate": 'Bearer realm="https://auth.test/token",service="reg",scope="repository:library/node:pull"'}
            raise urllib.error.HTTPError(url, 401, "unauthorized", hdrs, io.BytesIO())  # type: ignore[arg-type]
        return _Resp({"Docker-Content-Digest": DIGEST})

    ref = parse_image("node:22")
    assert ref is not None
    assert resolve_digest(ref, opener) == DIGEST
    assert seen[0][0].endswith("/v2/library/node/manifests/22") and seen[0][1] is None
    assert "scope=repository%3Alibrary%2Fnode%3Apull" in seen[1][0]
    assert seen[2][1] == "Bearer t0k"


def test_pass_pins_digest_when_the_registry_answers(monkeypatch: object) -> None:
    from dockeropt.transforms import _registry

    monkeypatch.setattr(_registry, "cached_digest", lambda ref: DIGEST)  # type: ignore[attr-defined]
    r = fix_text("FROM node\nFROM python:3.11-slim\n", PassContext(config=Config(select=["DO303"], resolve_digests=True)))
    assert r.fixed == f"FROM node:26@{DIGEST}\nFROM python:3.11-slim@{DIGEST}\n"
    plain = fix_text("FROM node\nFROM python:3.11-slim\n", PassContext(config=Config(select=["DO303"])))
    assert plain.fixed == "FROM node:26\nFROM python:3.11-slim\n"  # digests only on request


def test_real_registry_client_fails_fast_without_network() -> None:
    """No Docker Hub here: the real client must give up within seconds with a readable reason."""
    import time

    from dockeropt.catalog.images import parse_image
    from dockeropt.transforms._registry import RegistryUnavailable, resolve_digest

    ref = parse_image("node:22")
    assert ref is not None
    t0 = time.perf_counter()
    try:
        digest = resolve_digest(ref)
    except RegistryUnavailable as exc:
        assert str(exc).startswith(("cannot reach Docker Hub", "Docker Hub answered"))
    else:  # a machine with network access
        assert digest.startswith("sha256:")
    assert time.perf_counter() - t0 < 15


def test_cli_resolve_digests_message(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM node:18-slim\nCMD [\"node\"]\n")
    out = subprocess.run([sys.executable, "-m", "dockeropt", "fix", "--diff", "--select", "DO303", "--resolve-digests", "Dockerfile"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = " ".join((out.stdout + out.stderr).split())
    if "@sha256:" not in text:  # offline: one clear line, nothing pinned
        assert "--resolve-digests: cannot reach Docker Hub" in text and "base images were not pinned to digests" in text


# --------------------------------------------------------------------------- report


def _statuses(rep: object) -> dict[str, str]:
    return {rid: it.status for it in rep.items for rid in it.rules}  # type: ignore[attr-defined]


def test_report_scores_passed_fixed_and_human(tmp_path: Path) -> None:
    from dockeropt.checklist import FIXED, HUMAN, IGNORED, OPT_IN, PASSED, score_file

    df = tmp_path / "Dockerfile"
    # a pinned slim base, no ports; `latest` on the build stage, a shell-form CMD, and a literal secret in ENV
    df.write_text(
        "FROM python:latest AS build\nRUN pip wheel -w /w requests\n\n"
        "FROM python:3.11-slim\nENV API_KEY=abc123\nCOPY --from=build /w /w\nRUN pip install --no-cache-dir /w/*.whl\n"
        "CMD python -c \"import requests\"\n"
    )
    rep = score_file(df, display="Dockerfile")
    st = _statuses(rep)
    assert st["DO303"] == FIXED  # python:latest -> python:3.15
    assert st["DO401"] == FIXED  # exec form
    assert st["DO302"] == HUMAN  # a literal secret value: unsafe fix, held back by default
    assert st["DO110"] == PASSED and st["DO203"] == PASSED
    assert "abc123" not in str(rep)
    assert rep.count(PASSED) + rep.count(FIXED) + rep.count(HUMAN) + rep.count(OPT_IN) + rep.count(IGNORED) == rep.total


def test_report_cli_writes_markdown(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Dockerfile").write_text("FROM node\nWORKDIR /app\nCOPY . .\nRUN npm install\nCMD npm start\n")
    (tmp_path / "a" / "package.json").write_text('{"name": "a", "scripts": {"start": "node s.js"}}')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "Dockerfile").write_text("FROM golang:1.22\nCMD [\"go\", \"version\"]\n")
    before = (tmp_path / "a" / "Dockerfile").read_text()
    out = subprocess.run([sys.executable, "-m", "dockeropt", "report", ".", "--output", "checklist.md"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "wrote checklist.md" in out.stdout and "a/Dockerfile:" in out.stdout
    md = (tmp_path / "checklist.md").read_text()
    assert md.startswith("# Dockerfile optimisation checklist")
    assert "| `a/Dockerfile` |" in md and "## `b/Dockerfile`" in md
    assert "| Base image | Version tag, not `latest` | DO303 | fixed by dockeropt | Pin node to node:26 |" in md
    assert (tmp_path / "a" / "Dockerfile").read_text() == before  # the report writes nothing else
    assert not (tmp_path / "a" / ".dockerignore").exists()


def test_report_cli_bad_input(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("RUN echo no from\n")
    out = subprocess.run([sys.executable, "-m", "dockeropt", "report", "Dockerfile"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "Not scored" in out.stdout

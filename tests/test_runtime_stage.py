"""DO201 add-runtime-stage: behaviour a user would notice, and convergence with every other rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.edits import Safety
from harness import ROOT, assert_sound, run_fix

FIXTURES = ROOT / "tests" / "fixtures" / "DO201"


def _ctx(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def _fix(text: str, context: Path | None, select: list[str] | None = None, **cfg: object) -> tuple[str, list[str], list[str]]:
    config = Config(select=select if select is not None else ["DO201"])
    for k, v in cfg.items():
        setattr(config, k, v)
    res = run_fix(text, config=config, context=context, path=(context / "Dockerfile") if context else None)
    assert res.converged and not res.errors, res.errors
    return res.fixed, [c.explanation for c in res.applied], [c.explanation for c in res.notes]


def _pkg(**kw: object) -> str:
    return json.dumps({"name": "x", **kw})


NODE = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci\nCMD [\"npm\", \"start\"]\n"


def test_npm_start_resolves_to_node_file(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "node lib/main.js --port 3000"}),
                          "lib/main.js": "require('child_process')\n"})
    fixed, _, _ = _fix(NODE, ctx)
    # child_process in the app: no distroless, node slim with a direct node CMD
    assert "FROM node:18-slim" in fixed
    assert fixed.rstrip().endswith('CMD ["node", "lib/main.js", "--port", "3000"]')


def test_prestart_hook_keeps_npm_start(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"prestart": "node migrate.js", "start": "node server.js"})})
    fixed, _, _ = _fix(NODE, ctx)
    assert "FROM node:18-slim" in fixed  # npm is still in node slim
    assert fixed.rstrip().endswith('CMD ["npm", "start"]')


def test_dev_dependency_used_at_start_is_not_pruned(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"start": "ts-node src/index.ts"}, devDependencies={"ts-node": "^10"})})
    fixed, applied, _ = _fix(NODE, ctx)
    assert "npm prune" not in fixed
    assert "ts-node" in applied[0]


def test_dev_dependencies_pruned_after_build(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"package.json": _pkg(scripts={"build": "tsc", "start": "node dist/a.js"}, devDependencies={"typescript": "5"})})
    fixed, _, _ = _fix("FROM node:14\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nCMD npm start\n", ctx)
    build, runtime = fixed.split("\n\n")
    assert build.endswith("RUN npm prune --production")  # npm 6 has no --omit
    assert "COPY --from=build /app /app" in runtime


def test_stage_name_and_keyword_case_kept(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n", "app.py": ""})
    text = "from python:3.11 as app\nworkdir /srv\ncopy . .\nrun pip install -r requirements.txt\ncmd [\"python\", \"app.py\"]\n"
    fixed, _, _ = _fix(text, ctx)
    assert fixed.startswith("from python:3.11 as app-build\n")
    assert "\nfrom python:3.11-slim as app\n" in fixed  # `--target app` still builds the final image
    assert "copy --from=app-build /opt/venv /opt/venv" in fixed


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\r\nWORKDIR /app\r\nCOPY . .\r\nRUN pip install -r requirements.txt\r\nCMD [\"python\", \"app.py\"]\r\n"
    fixed, _, _ = _fix(text, ctx)
    assert "FROM python:3.11-slim" in fixed
    assert fixed.count("\n") == fixed.count("\r\n")


def test_pip_user_install_is_only_a_note(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install --user -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"
    fixed, applied, notes = _fix(text, ctx)
    assert fixed == text and not applied
    assert "--user" in notes[0]


def test_psycopg2_source_build_gets_libpq_at_runtime(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n"
    fixed, _, _ = _fix(text, ctx)
    runtime = fixed.split("\n\n")[1]
    assert "apt-get install -y --no-install-recommends libpq5" in runtime


def test_binary_on_system_path_and_shell_cmd_go_to_debian_slim(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"go.mod": "module x\n", "main.go": "package main\n"})
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /usr/local/bin/app .\nCMD app --port $PORT\n"
    fixed, _, _ = _fix(text, ctx)
    assert "FROM debian:bookworm-slim" in fixed  # $PORT needs a shell
    assert "ca-certificates tzdata" in fixed
    assert "COPY --from=build /usr/local/bin/app /usr/local/bin/app" in fixed
    assert fixed.rstrip().endswith("CMD app --port $PORT")


def test_go_without_context_keeps_cgo_on_glibc_runtime_and_is_unsafe() -> None:
    text = "FROM golang:1.22\nWORKDIR /src\nCOPY . .\nRUN go build -o /src/app .\nCMD [\"/src/app\"]\n"
    fixed, applied, notes = _fix(text, None)
    assert fixed == text and not applied  # unsafe: held back by default
    fixed, _, _ = _fix(text, None, unsafe_fixes=True)
    assert "gcr.io/distroless/base-debian12" in fixed and "CGO_ENABLED" not in fixed


def test_unknown_user_from_base_blocks(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nUSER www\nCMD [\"python\", \"app.py\"]\n"
    fixed, applied, notes = _fix(text, ctx)
    assert fixed == text and "USER www" in notes[0]


def test_fix_reports_review_safety(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "flask\n"})
    text = "FROM python:3.11\nCOPY . /app\nRUN pip install -r /app/requirements.txt\nCMD [\"python\", \"/app/app.py\"]\n"
    res = run_fix(text, config=Config(select=["DO201"]), context=ctx, path=ctx / "Dockerfile")
    assert [c.safety for c in res.applied] == [Safety.REVIEW]
    assert "COPY --from=build /app /app" in res.fixed


FIXTURE_CASES = sorted(p for p in FIXTURES.glob("*.Dockerfile") if not p.name.endswith(".fixed.Dockerfile"))


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[p.stem for p in FIXTURE_CASES])
def test_fixture_converges_with_every_rule(case: Path) -> None:
    """The whole pipeline (DO101 reorders, DO102 cache mounts, DO202 slim, DO301 user) reaches a fixpoint."""
    context = case.with_name(case.name[: -len(".Dockerfile")] + ".context")
    context_path = context if context.is_dir() else None
    text = case.read_text()
    res = run_fix(text, config=Config(), context=context_path, path=(context_path / "Dockerfile") if context_path else None)
    assert_sound(res, config=Config(), context=context_path)
    alone = run_fix(text, config=Config(select=["DO201"]), context=context_path,
                    path=(context_path / "Dockerfile") if context_path else None)
    if alone.fixed != text:
        # the runtime stage survives the other rules: the final FROM is not the toolchain image
        last_from = [ln for ln in res.fixed.splitlines() if ln.upper().startswith("FROM ")][-1]
        assert last_from.split()[1] == [ln for ln in alone.fixed.splitlines() if ln.upper().startswith("FROM ")][-1].split()[1]


# -- node: production dependencies from their own stage


_TSC_APP = {
    "package.json": _pkg(scripts={"build": "tsc -p tsconfig.build.json", "start": "node out/index.js"},
                         dependencies={"express": "4"}, devDependencies={"typescript": "5"}),
    "package-lock.json": "{}",
    "tsconfig.build.json": '{\n  // emitted JavaScript\n  "compilerOptions": {"outDir": "out/js",},\n}\n',
    "src/index.ts": "export {}\n",
    "views/home.html": "<p>hi</p>\n",
    "server.config.json": "{}\n",
}
_TSC_FILE = "FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm install\nRUN npm run build\nCMD [\"npm\", \"start\"]\n"


def _stages(fixed: str) -> dict[str, str]:
    """Stage text by name (the unnamed final stage is 'final')."""
    out: dict[str, str] = {}
    for part in fixed.split("\nFROM ")[0:]:
        part = part if part.startswith("FROM ") else "FROM " + part
        head = part.splitlines()[0].split()
        out[head[-1] if len(head) >= 4 and head[-2].upper() == "AS" else "final"] = part
    return out


def test_runtime_takes_node_modules_from_a_manifest_only_stage(tmp_path: Path) -> None:
    fixed, applied, _ = _fix(_TSC_FILE, _ctx(tmp_path, _TSC_APP))
    st = _stages(fixed)
    assert "npm prune" not in fixed  # no prune after every build
    assert st["deps"].splitlines()[1:] == ["WORKDIR /app", "COPY package.json package-lock.json ./", "RUN npm ci --omit=dev"]
    final = st["final"]
    # node_modules never comes from the build stage: only the listed entries do, dependencies first
    assert "COPY --from=build /app /app" not in final
    copies = [ln for ln in final.splitlines() if ln.startswith("COPY")]
    assert copies == [
        "COPY --from=deps /app /app",
        "COPY --from=build /app/out /app/out",  # tsc's outDir, not in the context
        "COPY --from=build /app/src /app/src",
        "COPY --from=build /app/views /app/views",
        "COPY --from=build /app/server.config.json /app/tsconfig.build.json /app/",
    ]
    assert "npm ci --omit=dev" in applied[0]


def test_deps_stage_without_lockfile_uses_npm_install_and_keeps_flags(tmp_path: Path) -> None:
    files = {k: v for k, v in _TSC_APP.items() if k != "package-lock.json"}
    text = _TSC_FILE.replace("RUN npm install\n", "RUN npm install --legacy-peer-deps --production=false\n")
    fixed, _, _ = _fix(text, _ctx(tmp_path, files))
    assert "RUN npm install --omit=dev --legacy-peer-deps\n" in _stages(fixed)["deps"]


def test_dockerignored_files_are_not_listed(tmp_path: Path) -> None:
    fixed, _, _ = _fix(_TSC_FILE, _ctx(tmp_path, {**_TSC_APP, ".dockerignore": "views\nnode_modules\n", "node_modules/x/i.js": ""}))
    final = _stages(fixed)["final"]
    assert "/app/views" not in final and "node_modules" not in final


@pytest.mark.parametrize("change", [
    {"package.json": _pkg(scripts={"build": "webpack", "start": "node dist/main.js"}, devDependencies={"webpack": "5"})},
    {"package.json": _pkg(scripts={"postinstall": "node setup.js", "start": "node server.js"})},
    {"package.json": _pkg(scripts={"start": "node server.js"}, dependencies={"shared": "file:../shared"})},
    {"package.json": _pkg(scripts={"start": "node server.js"}, workspaces=["packages/*"])},
], ids=["unknown-build-output", "install-script", "local-package", "workspaces"])
def test_uncertain_app_folder_keeps_the_whole_folder_copy(tmp_path: Path, change: dict[str, str]) -> None:
    fixed, _, _ = _fix("FROM node:18\nWORKDIR /app\nCOPY . .\nRUN npm ci && npm run build\nCMD [\"npm\", \"start\"]\n",
                       _ctx(tmp_path, {**_TSC_APP, **change}))
    assert "AS deps" not in fixed
    assert "COPY --from=build /app /app" in fixed


def test_file_moved_in_the_build_keeps_the_whole_folder_copy(tmp_path: Path) -> None:
    text = _TSC_FILE.replace("RUN npm run build\n", "RUN npm run build && mv out/js/index.js main.js\n")
    fixed, applied, notes = _fix(text, _ctx(tmp_path, _TSC_APP))
    assert "AS deps" not in fixed


def test_deps_stage_converges_with_every_rule(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, _TSC_APP)
    res = run_fix(_TSC_FILE, config=Config(), context=ctx, path=ctx / "Dockerfile")
    assert_sound(res, config=Config(), context=ctx)
    deps = _stages(res.fixed)["deps"]
    assert "--mount=type=cache,target=/root/.npm npm ci --omit=dev" in deps  # DO102 caches the deps install too


def test_runtime_packages_and_users_come_before_env(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = ("FROM python:3.11\nARG VERSION\nENV APP_VERSION=$VERSION\nRUN useradd --create-home app\nWORKDIR /app\n"
            "COPY . .\nRUN pip install -r requirements.txt\nUSER app\nCMD [\"python\", \"app.py\"]\n")
    fixed, _, _ = _fix(text, ctx)
    final = fixed.split("\n\n")[1].splitlines()
    # a new VERSION must not re-run apt-get or useradd in the runtime stage
    assert final.index("ARG VERSION") > final.index("RUN useradd --create-home app")
    assert any("libpq5" in ln for ln in final[: final.index("ARG VERSION")])


def test_env_the_runtime_runs_may_read_stays_first(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"requirements.txt": "psycopg2==2.9.9\n"})
    text = ("FROM python:3.11\nENV DEBIAN_FRONTEND=noninteractive\nWORKDIR /app\n"
            "COPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n")
    final = _fix(text, ctx)[0].split("\n\n")[1].splitlines()
    assert final[1] == "ENV DEBIAN_FRONTEND=noninteractive" and "libpq5" in final[2]


def test_quoted_app_folder_is_only_a_note(tmp_path: Path) -> None:
    text = _TSC_FILE.replace("WORKDIR /app", 'WORKDIR "/my app"')
    fixed, applied, notes = _fix(text, _ctx(tmp_path, _TSC_APP))
    assert fixed == text and not applied  # not `COPY --from=build //"/my app" ...`
    assert "/my app" in notes[0]

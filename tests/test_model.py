"""The image model: facts every pass reads (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.model import ImageModel
from dockeropt.model.frontend import frontend_for
from dockeropt.model.mounts import mounts_of
from dockeropt.model.values import expand
from dockeropt.syntax import parse


def model(text: str, context: Path | None = None, **cfg: object) -> ImageModel:
    bc = BuildContext(context) if context is not None else None
    return ImageModel.build(parse(text), bc, Config(**cfg))  # type: ignore[arg-type]


def ins(m: ImageModel, keyword: str, n: int = 0):  # type: ignore[no-untyped-def]
    return [i for i in m.doc.instructions if i.keyword == keyword][n]


# --------------------------------------------------------------------------- variables and stages


def test_from_resolves_global_arg_defaults() -> None:
    m = model("ARG NODE_VERSION=20\nFROM node:${NODE_VERSION}-slim AS base\nFROM base\nCMD node\n")
    assert m.graph[0].base == "node:20-slim"
    assert m.graph[0].image is not None and m.graph[0].image.info is not None
    assert m.graph[0].image.info.version == "20"
    assert m.graph[1].parent == 0 and m.graph[1].root == 0
    assert m.graph[1].image is m.graph[0].image


def test_unknown_arg_leaves_the_base_unknown() -> None:
    m = model("ARG IMAGE\nFROM $IMAGE\nRUN true\n")
    assert m.graph[0].base is None and m.graph[0].image is None
    assert m.state(ins(m, "RUN")).workdir is None


def test_arg_default_is_the_value_in_a_plain_build_and_overridable() -> None:
    m = model("FROM python:3.11\nARG PIP_CACHE_DIR=/cache\nRUN pip install flask\n")
    var = m.state(ins(m, "RUN")).env["PIP_CACHE_DIR"]
    assert var.value == "/cache" and var.overridable and var.origin == "arg"


def test_env_wins_over_arg_and_args_do_not_cross_stages() -> None:
    m = model("FROM debian:bookworm AS a\nENV MODE=env\nARG MODE=arg\nARG ONLY_A=1\nRUN true\nFROM a\nRUN true\n")
    first, second = ins(m, "RUN", 0), ins(m, "RUN", 1)
    assert m.state(first).env.value("MODE") == "env"
    assert m.state(first).env.value("ONLY_A") == "1"
    assert "ONLY_A" not in m.state(second).env
    assert m.state(second).env.value("MODE") == "env"


def test_bare_arg_in_a_stage_takes_the_global_default() -> None:
    m = model("ARG V=3.11\nFROM python:${V}\nARG V\nRUN echo $V\n")
    assert m.state(ins(m, "RUN")).env.value("V") == "3.11"


def test_env_expands_against_the_values_before_the_line_and_single_quotes_stay_literal() -> None:
    # BuildKit: `ENV abc=bye def=$abc` gives def the value abc had before this line
    m = model("FROM debian:bookworm\nENV A=/opt B=$A/bin C='$A'\nENV D=$A/bin\nRUN true\n")
    env = m.state(ins(m, "RUN")).env
    assert env.value("B") == "/bin"
    assert env.value("D") == "/opt/bin"
    assert env.value("C") == "$A"


def test_expand_defaults_and_unknowns() -> None:
    assert expand("${X:-a}/${Y:+b}", {"Y": "1"}) == "a/b"
    assert expand("$X/y", {"X": None}) is None
    assert expand("~/.cache", {}, home="/home/app", tilde=True) == "/home/app/.cache"


def test_stage_closure_of_the_final_image() -> None:
    m = model(
        "FROM node:20 AS deps\nRUN true\nFROM node:20 AS unused\nRUN true\n"
        "FROM node:20-slim\nCOPY --from=deps /a /a\nCMD node\n"
    )
    assert [n.needed for n in m.graph.nodes] == [True, False, True]
    assert m.graph[2].copies_from == (0,)


def test_workdir_user_shell_and_created_accounts() -> None:
    m = model(
        "FROM debian:bookworm\nWORKDIR /srv\nWORKDIR app\n"
        "RUN groupadd -g 1001 app && useradd -u 1001 -g app -m app\nUSER app\nSHELL [\"/bin/bash\", \"-c\"]\nRUN id\n"
    )
    st = m.state(ins(m, "RUN", 1))
    assert st.workdir == "/srv/app"
    assert (st.user.name, st.user.uid, st.user.gid, st.user.home) == ("app", 1001, 1001, "/home/app")
    assert st.shell == ("/bin/bash", "-c")


def test_users_the_base_image_carries() -> None:
    m = model("FROM node:20\nUSER node\nRUN id\n")
    u = m.state(ins(m, "RUN")).user
    assert (u.uid, u.home) == (1000, "/home/node")
    m = model("FROM python:3.11\nUSER app\nRUN id\n")
    assert m.state(ins(m, "RUN")).user.uid is None  # python images have no `app` user: unknown, not guessed


# --------------------------------------------------------------------------- RUN facts


def _actions(text: str, n: int = 0, context: Path | None = None):  # type: ignore[no-untyped-def]
    m = model(text, context)
    facts = m.run(ins(m, "RUN", n))
    assert facts is not None
    return facts.actions


def test_npm_global_with_a_prefix_in_roots_home() -> None:
    (a,) = _actions("FROM node:20\nENV NPM_CONFIG_PREFIX=/root/.npm-global\nRUN npm install -g pm2\n")
    assert (a.tool, a.verb, a.packages) == ("npm", "global", ("pm2",))
    assert [(w.kind, w.path) for w in a.writes] == [("prefix", "/root/.npm-global")]


def test_npm_ci_and_install_write_the_project() -> None:
    (a,) = _actions("FROM node:20\nWORKDIR /app\nRUN npm ci --omit=dev\n")
    assert (a.verb, a.project) == ("ci", "/app")
    assert [(w.kind, w.path) for w in a.writes] == [("project", "/app/node_modules")]
    assert "/app/package-lock.json" in a.manifests
    (a,) = _actions("FROM node:20\nWORKDIR /app\nRUN npm --prefix web install\n")
    assert a.writes[0].path == "/app/web/node_modules" or a.project == "/app/web"


def test_pip_user_installs_in_the_home_of_the_user() -> None:
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN pip install --user -r requirements.txt\n")
    assert (a.tool, a.verb) == ("pip", "install")
    assert [(w.kind, w.path) for w in a.writes] == [("home", "/root/.local")]
    assert a.manifests == ("/app/requirements.txt",)


def test_downloads_into_the_home_that_the_app_reads_at_run_time() -> None:
    # playwright browsers, NLTK data and the Hugging Face cache land in the installing user's home
    (a,) = _actions("FROM python:3.11\nRUN playwright install --with-deps chromium\n")
    assert (a.tool, a.verb, [(w.kind, w.path) for w in a.writes]) == (
        "playwright", "fetch", [("home", "/root/.cache/ms-playwright")])
    (a,) = _actions("FROM python:3.11\nRUN python -m playwright install chromium\n")
    assert (a.tool, a.verb, a.writes[0].path) == ("playwright", "fetch", "/root/.cache/ms-playwright")
    (a,) = _actions("FROM python:3.11\nENV PLAYWRIGHT_BROWSERS_PATH=/ms-playwright\nRUN playwright install\n")
    assert a.writes[0].path == "/ms-playwright"
    (a,) = _actions("FROM python:3.11\nRUN python -m nltk.downloader punkt\n")
    assert (a.tool, a.network, [(w.kind, w.path) for w in a.writes]) == ("nltk", True, [("home", "/root/nltk_data")])
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN python3 -m nltk.downloader -d nltk_data punkt\n")
    assert [(w.kind, w.path) for w in a.writes] == [("path", "/app/nltk_data")]
    (a,) = _actions("FROM python:3.11\nRUN huggingface-cli download gpt2\n")
    assert a.writes[0].path == "/root/.cache/huggingface/hub"
    (a,) = _actions("FROM python:3.11\nENV HF_HOME=/opt/hf\nRUN huggingface-cli download gpt2\n")
    assert a.writes[0].path == "/opt/hf/hub"
    (a,) = _actions("FROM python:3.11\nRUN huggingface-cli download gpt2 --local-dir /models/gpt2\n")
    assert [(w.kind, w.path) for w in a.writes] == [("path", "/models/gpt2")]


def test_pip_into_a_venv_on_path() -> None:
    text = "FROM python:3.11\nRUN python -m venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\nRUN pip install flask\n"
    (a,) = _actions(text, 1)
    assert [(w.kind, w.path) for w in a.writes] == [("venv", "/opt/venv")]
    (v,) = _actions(text, 0)
    assert (v.tool, v.verb, v.writes[0].path) == ("venv", "venv", "/opt/venv")


def test_pipenv_without_system_makes_a_venv_in_home() -> None:
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN pipenv install --deploy\n")
    assert (a.tool, a.verb) == ("pipenv", "install")
    assert [(w.kind, w.path) for w in a.writes] == [("home", "/root/.local/share/virtualenvs")]
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN pipenv install --deploy --system\n")
    assert a.writes[0].kind == "system"
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nENV PIPENV_VENV_IN_PROJECT=1\nRUN pipenv sync\n")
    assert [(w.kind, w.path) for w in a.writes] == [("project", "/app/.venv")]


def test_poetry_and_uv_environments() -> None:
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nENV POETRY_VIRTUALENVS_CREATE=false\nRUN poetry install --no-root\n")
    assert (a.verb, a.writes[0].kind) == ("install", "system")
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN poetry install\n")
    assert a.writes[0].path == "/root/.cache/pypoetry/virtualenvs"
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN uv sync --frozen\n")
    assert (a.tool, a.verb, a.writes[0].path) == ("uv", "sync", "/app/.venv")


def test_corepack_enable_and_tools() -> None:
    (a,) = _actions("FROM node:20\nRUN corepack enable\n")
    assert (a.tool, a.verb, a.writes[0].kind, a.writes[0].path) == ("corepack", "global", "prefix", "/usr/local/bin")
    acts = _actions("FROM debian:bookworm\nRUN mkdir -p /data && chown -R 1000:1000 /data && curl -o /x https://e.x/y\n")
    assert [(a.tool, a.verb) for a in acts] == [("mkdir", "fs"), ("chown", "chown"), ("curl", "download")]
    assert acts[2].network


def test_go_build_output_and_apt() -> None:
    acts = _actions("FROM golang:1.22\nWORKDIR /src\nRUN apt-get update && apt-get install -y libsqlite3-dev && go build -o /out/app .\n")
    assert [(a.tool, a.verb) for a in acts] == [("apt", "update-index"), ("apt", "install"), ("go", "build")]
    assert acts[1].packages == ("libsqlite3-dev",)
    assert acts[2].writes[0].path == "/out/app"


def test_unknown_commands_are_reported() -> None:
    m = model("FROM debian:bookworm\nRUN ./build.sh && make\n")
    facts = m.run(ins(m, "RUN"))
    assert facts is not None and not facts.understood
    assert [c.name for c in facts.unknown] == ["build.sh"]


def test_later_apt_lists_is_linear_and_right() -> None:
    lines = ["FROM debian:bookworm", "RUN apt-get update"] + [f"RUN apt-get install -y p{i}" for i in range(3)]
    m = model("\n".join(lines) + "\n")
    first = ins(m, "RUN", 0)
    later = m.later_apt_needs_lists(first)
    assert later is not None and later.start_line == 3
    assert m.later_apt_needs_lists(ins(m, "RUN", 3)) is None


def test_mounts_are_read_once() -> None:
    doc = parse('FROM x\nRUN --mount=type=cache,target=/root/.cache/pip,sharing=locked --mount="type=secret,id=tok" true\n')
    mounts = mounts_of(doc.instructions[1])
    assert [(m.type, m.target) for m in mounts] == [("cache", "/root/.cache/pip"), ("secret", None)]
    assert mounts[0].get("sharing") == "locked" and mounts[1].id == "tok"
    assert mounts[0].covers("/root/.cache") and mounts[0].covers("/root/.cache/pip/wheels")
    assert not mounts[0].covers("/root/.npm")


# --------------------------------------------------------------------------- files and owners


def test_copy_into_an_existing_workdir_is_a_folder_copy() -> None:
    m = model("FROM python:3.11\nWORKDIR /app\nCOPY app.py /app\nCMD python app.py\n")
    cf = m.copy(ins(m, "COPY"))
    assert cf is not None and cf.dest_is_dir and cf.target_of("app.py") == "/app/app.py"


def test_owners_of_copies_and_workdirs(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"src/app.js": "", "data/x": ""})
    m = model(
        "FROM node:20\nWORKDIR /app\nCOPY . .\nUSER node\nWORKDIR /app/cache\nCOPY --chown=node:node data /app/data\nCMD node\n",
        ctx,
    )
    final = m.graph.final
    assert final is not None
    assert m.owner(final.index, "/app").uid == 0  # type: ignore[union-attr]
    assert m.owner(final.index, "/app/src").uid == 0  # type: ignore[union-attr]  # COPY . . as root, recursively
    assert m.owner(final.index, "/app/cache").uid == 1000  # type: ignore[union-attr]  # BuildKit: WORKDIR as USER
    assert m.owner(final.index, "/app/data/x").uid == 1000  # type: ignore[union-attr]
    assert m.owner(final.index, "/var/lib/other") is None


# --------------------------------------------------------------------------- frontend and style


@pytest.mark.parametrize(("directive", "buildkit", "mount", "heredoc"), [
    (None, None, True, False),
    ("docker/dockerfile:1", None, True, True),
    ("docker/dockerfile:1.0", None, False, False),
    ("docker/dockerfile:1.0-experimental", None, True, False),
    ("docker/dockerfile:1.4", None, True, True),
    ("example.com/custom/frontend:1", None, False, False),
    (None, "0.8", True, False),
    (None, "0.12", True, True),
    (None, "0.6", False, False),
])
def test_frontend_features(directive: str | None, buildkit: str | None, mount: bool, heredoc: bool) -> None:
    fe = frontend_for(directive, buildkit)
    assert fe.supports("run-mount") is mount
    assert fe.supports("heredoc") is heredoc


def test_style_follows_the_file() -> None:
    m = model("from node:20\nworkdir /app\ncopy . .\nrun npm ci\n")
    assert m.style.line("COPY --from=build /a /b") == "copy --from=build /a /b"
    assert m.style.line("FROM node:20-slim AS runtime") == "from node:20-slim as runtime"
    assert model("FROM x\nRUN y\n").style.line("COPY a b") == "COPY a b"


# --------------------------------------------------------------------------- runtime


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path


def test_runtime_npm_start_resolves_through_package_json(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {
        "package.json": json.dumps({"scripts": {"start": "node src/server.js"}, "dependencies": {"express": "^4"}}),
        "src/server.js": "const app = require('express')();\napp.get('/healthz', (q, r) => r.send('ok'));\n"
                         "app.listen(process.env.PORT || 3000);\n",
    })
    m = model("FROM node:20\nWORKDIR /app\nCOPY . .\nEXPOSE 3000\nCMD [\"npm\", \"start\"]\n", ctx)
    rt = m.runtime
    assert rt is not None
    assert (rt.start.launcher, rt.start.script, rt.start.program) == ("npm", "start", ("node", "src/server.js"))
    assert (rt.listen.env, rt.listen.number) == ("PORT", 3000)  # type: ignore[union-attr]
    assert rt.protocol == "http" and "/healthz" in rt.health_routes
    assert rt.probe_port_text() == "${PORT:-3000}"


def test_runtime_php_fpm_is_fastcgi_on_9000() -> None:
    m = model("FROM php:8.2-fpm\nCOPY . /var/www/html\n")
    rt = m.runtime
    assert rt is not None and rt.protocol == "fastcgi"
    assert rt.listen is not None and rt.listen.number == 9000


def test_runtime_grpc_is_not_http(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"requirements.txt": "grpcio==1.60\n", "server.py": "import grpc\nserver.add_insecure_port('[::]:50051')\n"})
    m = model("FROM python:3.11\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nEXPOSE 50051\nCMD [\"python\", \"server.py\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and rt.protocol == "grpc"
    assert rt.listen is not None and rt.listen.number == 50051


def test_runtime_rails_up_route(tmp_path: Path) -> None:
    ctx = _app(tmp_path, {"Gemfile": "gem 'rails', '~> 7.1'\n", "config/routes.rb": 'Rails.application.routes.draw do\n  get "up" => "rails/health#show"\nend\n'})
    m = model("FROM ruby:3.3\nWORKDIR /rails\nCOPY . .\nEXPOSE 3000\nCMD [\"bin/rails\", \"server\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and "/up" in rt.health_routes and rt.protocol == "http"


@pytest.mark.parametrize(("name", "source", "started"), [
    ("main.go", 'package main\nimport "os/exec"\nfunc main() { exec.Command("git", "--version").Output(); exec.CommandContext(ctx, "/usr/bin/curl") }\n',
     [("git", "main.go"), ("curl", "main.go")]),
    ("app.py", 'import subprocess, os\nsubprocess.run(["git", "log"], check=True)\nsubprocess.check_output("convert a.png b.jpg", shell=True)\n'
               'os.system("ffmpeg -i x")\n', [("git", "app.py"), ("convert", "app.py"), ("ffmpeg", "app.py")]),
    ("server.js", "const { execFileSync } = require('child_process');\nexecFileSync('git', ['--version']);\n"
                  "child_process.spawn('wget');\nconst m = /x/.exec('abc');\n", [("git", "server.js"), ("wget", "server.js")]),
    ("app.py", "import subprocess\ncmd = ['git']\nsubprocess.run(cmd)\n", []),  # not a literal name: unknown, not claimed
])
def test_runtime_programs_the_source_starts(tmp_path: Path, name: str, source: str, started: list[tuple[str, str]]) -> None:
    ctx = _app(tmp_path, {name: source})
    m = model("FROM debian:bookworm\nWORKDIR /app\nCOPY . .\nCMD [\"./app\"]\n", ctx)
    rt = m.runtime
    assert rt is not None and list(rt.started) == started


def test_runtime_gunicorn_bind_reads_port() -> None:
    m = model("FROM python:3.11\nENV PORT=8084\nCMD gunicorn --bind 0.0.0.0:$PORT app:app\n")
    rt = m.runtime
    assert rt is not None and rt.listen is not None and rt.listen.env == "PORT"
    assert rt.probe_port_text(m.end_state(0).env) == "${PORT:-8084}"



def test_context_source_reads_a_glob_copy_only_for_files_the_context_holds(tmp_path) -> None:
    """``COPY package*.json ./``: package.json in the workdir came from the context; a name it does not match did not."""
    from dockeropt.config import Config
    from dockeropt.context import BuildContext
    from dockeropt.rules import PassContext
    from dockeropt.syntax import parse

    (tmp_path / "package.json").write_text("{}\n")
    (tmp_path / "package-lock.json").write_text("{}\n")
    doc = parse("FROM node:18\nWORKDIR /app\nCOPY package*.json ./\nRUN npm ci\n")
    m = PassContext(config=Config(), context=BuildContext(tmp_path, dockerfile=tmp_path / "Dockerfile")).model(doc)
    assert m.context_source(0, "/app/package.json") == "package.json"
    assert m.context_source(0, "/app/package-lock.json") == "package-lock.json"
    assert m.context_source(0, "/app/yarn.lock") is None  # matches no pattern
    assert m.context_source(0, "/app/packages.json") is None  # matches the pattern, but the context has no such file
    assert m.context_source(0, "/app/sub/package.json") is None  # a glob places files right in the folder


def _ws_app(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    return _app(tmp_path, {
        "package.json": json.dumps({"name": "mono", "workspaces": ["packages/*"]}),
        "server.js": "require('http').createServer().listen(3000);\n",
        "packages/api/package.json": json.dumps({"name": "@acme/api", "scripts": {"start": "node src/index.js"}}),
        "packages/api/src/index.js": "require('http').createServer().listen(3000);\n",
        "packages/web/package.json": json.dumps({"name": "@acme/web"}),
        "packages/web/server.js": "require('http').createServer().listen(3000);\n",
        **(extra or {}),
    })


@pytest.mark.parametrize("cmd, program, cwd", [
    # npm runs the workspace's script in the workspace's folder, named by path or by package name
    ('["npm", "start", "-w", "packages/api"]', ("node", "src/index.js"), "packages/api"),
    ('["npm", "start", "--workspace=@acme/api"]', ("node", "src/index.js"), "packages/api"),
    ('["npm", "run", "start", "--workspace", "./packages/api/"]', ("node", "src/index.js"), "packages/api"),
    # no start script: npm's default `node server.js` is looked for in the workspace, not in the root
    ('["npm", "start", "-w", "packages/web"]', ("node", "server.js"), "packages/web"),
    # words after `--` are appended to the script
    ('["npm", "start", "-w", "packages/api", "--", "--port", "80"]', ("node", "src/index.js", "--port", "80"), "packages/api"),
    ('["npm", "start", "--", "--inspect"]', ("node", "server.js", "--inspect"), None),
])
def test_runtime_npm_workspace_and_script_arguments(tmp_path: Path, cmd: str, program: tuple[str, ...], cwd: str | None) -> None:
    m = model(f"FROM node:20\nWORKDIR /repo\nCOPY . .\nRUN npm ci\nCMD {cmd}\n", _ws_app(tmp_path))
    rt = m.runtime
    assert rt is not None
    assert (rt.start.launcher, rt.start.program, rt.start.cwd) == ("npm", program, cwd)


@pytest.mark.parametrize("cmd", [
    '["npm", "start", "-w", "packages"]',  # a parent folder: every workspace below it
    '["npm", "start", "-w", "packages/api", "-w", "packages/web"]',  # more than one workspace
    '["npm", "start", "-w", "@acme/none"]',  # names no workspace
    '["npm", "start", "-w"]',  # no value
    '["npm", "start", "--silent"]',  # an npm option dockeropt does not read
    '["yarn", "start", "--port", "80"]',  # yarn passes these on: not resolved (was: the script, losing them)
])
def test_runtime_launcher_words_it_does_not_read_leave_the_program_unknown(tmp_path: Path, cmd: str) -> None:
    m = model(f"FROM node:20\nWORKDIR /repo\nCOPY . .\nRUN npm ci\nCMD {cmd}\n",
              _ws_app(tmp_path, {"package.json": json.dumps({"name": "mono", "workspaces": ["packages/*"],
                                                             "scripts": {"start": "node server.js"}})}))
    rt = m.runtime
    assert rt is not None and rt.start.launcher in ("npm", "yarn")
    assert rt.start.program is None and rt.start.cwd is None


@pytest.mark.parametrize("cmd, program, cwd", [
    # pnpm takes the filter before the command, and matches a package name or a folder written ./x
    ('["pnpm", "--filter", "@acme/api", "start"]', ("node", "src/index.js"), "packages/api"),
    ('["pnpm", "-F", "./packages/api", "run", "start"]', ("node", "src/index.js"), "packages/api"),
    ('["pnpm", "--filter=@acme/api", "start"]', ("node", "src/index.js"), "packages/api"),
    # not one package: a glob, a bare folder (pnpm reads it as a name), two filters
    ('["pnpm", "--filter", "./packages/*", "start"]', None, None),
    ('["pnpm", "--filter", "packages/api", "start"]', None, None),
    ('["pnpm", "--filter", "@acme/api", "--filter", "@acme/web", "start"]', None, None),
])
def test_runtime_pnpm_filter(tmp_path: Path, cmd: str, program: tuple[str, ...] | None, cwd: str | None) -> None:
    ctx = _ws_app(tmp_path, {"package.json": json.dumps({"name": "mono"}),
                             "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n"})
    m = model(f"FROM node:20\nWORKDIR /repo\nCOPY . .\nRUN pnpm install\nCMD {cmd}\n", ctx)
    rt = m.runtime
    assert rt is not None
    if program is None:  # no launcher resolved: the command is what it says, and the runtime stage declines it
        assert (rt.start.launcher, rt.start.program, rt.start.cwd) == (None, tuple(json.loads(cmd)), None)
    else:
        assert (rt.start.launcher, rt.start.program, rt.start.cwd) == ("pnpm", program, cwd)


@pytest.mark.parametrize("cmd, program, cwd", [
    ('["yarn", "workspace", "@acme/api", "start"]', ("node", "src/index.js"), "packages/api"),
    ('["yarn", "workspace", "packages/api", "start"]', None, None),  # yarn names workspaces by package name only
    ('["yarn", "workspace", "@acme/api", "start", "--port", "80"]', None, None),  # yarn passes these on
])
def test_runtime_yarn_workspace(tmp_path: Path, cmd: str, program: tuple[str, ...] | None, cwd: str | None) -> None:
    m = model(f"FROM node:20\nWORKDIR /repo\nCOPY . .\nRUN yarn install\nCMD {cmd}\n", _ws_app(tmp_path))
    rt = m.runtime
    assert rt is not None
    assert (rt.start.launcher, rt.start.program, rt.start.cwd) == ("yarn", program, cwd)


@pytest.mark.parametrize(("script", "expected"), [
    # a redirect makes a command that changes nothing by itself write the file it names
    ("echo '{}' > config.json", [("echo", "fs", ["/app/config.json"])]),
    ("echo x | tee /etc/app.conf", [("echo", "noop", []), ("tee", "fs", ["/etc/app.conf"])]),
    ("pip freeze > requirements.lock", [("pip", None, ["/app/requirements.lock"])]),
    ("find . -name '*.pyc' -delete", [("find", "fs", ["/app"])]),
    ("find /srv /opt -type f -exec chmod 644 {} +", [("find", "fs", ["/srv", "/opt"])]),
    ("find -delete", [("find", "fs", ["/app"])]),
    ("find . -name '*.md' && ls > /dev/null", [("find", "noop", []), ("ls", "noop", [])]),
])
def test_run_writes_include_redirects_and_file_changing_finds(script: str, expected: list[tuple[str, str | None, list[str]]]) -> None:
    m = model(f"FROM debian:12\nWORKDIR /app\nCOPY . .\nRUN {script}\n")
    f = m.run(ins(m, "RUN"))
    assert f is not None
    got = [(a.tool, a.verb if expected[k][1] is not None else None, [w.path for w in a.writes if w.path is not None])
           for k, a in enumerate(f.actions)]
    assert got == expected


def test_pip_requirement_files_in_every_spelling_are_manifests() -> None:
    """-r X, -rX, --requirement=X and -c X are read from one catalog list (the classifier missed -rX before)."""
    for run, want in (
        ("pip install -r requirements.txt", ("/app/requirements.txt",)),
        ("pip install -rrequirements.txt", ("/app/requirements.txt",)),
        ("pip install --requirement=req/base.txt -c constraints.txt", ("/app/req/base.txt", "/app/constraints.txt")),
        ("uv pip install --system -r requirements.txt", ("/app/requirements.txt",)),
    ):
        (a,) = _actions(f"FROM python:3.11\nWORKDIR /app\nRUN {run}\n")
        assert a.manifests == want, run


def test_pip_no_binary_compiles_and_local_paths_are_not_packages() -> None:
    (a,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN pip install --no-binary :all: ./lib flask\n")
    assert a.compiles is True
    assert a.packages == ("flask",)
    (b,) = _actions("FROM python:3.11\nWORKDIR /app\nRUN pip install flask\n")
    assert b.compiles is not True

"""Model facts the build-speed passes read: dependency installs (model.deps), caches and existing mounts
(model.caches), project files (model.project), mount writers, ENV/ARG spans; plus hypothesis properties."""

from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockeropt.catalog import catalog
from dockeropt.context import BuildContext
from dockeropt.model import ImageModel
from dockeropt.model.caches import cache_folders, tool_mount
from dockeropt.model.deps import ContextView, is_prefetch, read_install, source_free, tool_install
from dockeropt.model.mounts import bind_flag, cache_flag, mount_flag, mounts_of, parse_mount, secret_flag
from dockeropt.model.project import context_file, lock_mismatch, pnp_cache, yarn_linker
from dockeropt.model.values import Env, Var, assignment_spans, expand
from dockeropt.syntax import parse


def _model(text: str, ctx: Path | None = None) -> ImageModel:
    return ImageModel.build(parse(text), BuildContext(ctx) if ctx is not None else None)


def _actions(text: str, ctx: Path | None = None, n: int = -1):  # type: ignore[no-untyped-def]
    m = _model(text, ctx)
    runs = [i for i in m.doc.instructions if i.keyword == "RUN"]
    facts = m.run(runs[n])
    assert facts is not None
    return m, facts


def _write(root: Path, files: dict[str, object]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


# --------------------------------------------------------------------------- dependency installs


def test_npm_ci_reads_the_manifests_and_never_writes_them(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"package.json": {"name": "a"}, "package-lock.json": {}})
    _m, f = _actions("FROM node:20\nWORKDIR /app\nRUN npm ci\n", ctx)
    inst = read_install(f.actions[0], ContextView(BuildContext(ctx)))
    assert inst is not None and (inst.label, inst.mode, inst.manifests, inst.bind_ok) == ("npm", "move", ("package.json",), True)
    assert "package-lock.json" in inst.optional


def test_lifecycle_scripts_and_local_paths_need_the_source(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"package.json": {"scripts": {"postinstall": "node x.js"}}})
    _m, f = _actions("FROM node:20\nWORKDIR /app\nRUN npm install\n", ctx)
    inst = read_install(f.actions[0], ContextView(BuildContext(ctx)))
    assert inst is not None and inst.blocker is not None and "postinstall" in inst.blocker
    _m, f = _actions("FROM python:3.12\nWORKDIR /app\nRUN pip install -e .\n", ctx)
    inst = read_install(f.actions[0], ContextView(BuildContext(ctx)))
    assert inst is not None and inst.blocker is not None and "editable" in inst.blocker


def test_nested_requirement_files_are_followed(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"req/prod.txt": "-r base.txt\nflask==3.0\n", "req/base.txt": "requests\n"})
    _m, f = _actions("FROM python:3.12\nWORKDIR /app\nRUN pip install --no-cache-dir -r req/prod.txt\n", ctx)
    inst = read_install(f.actions[0], ContextView(BuildContext(ctx)))
    assert inst is not None and inst.manifests == ("req/prod.txt", "req/base.txt")


def test_pip_packages_leave_out_requirement_files_and_index_urls() -> None:
    _m, f = _actions("FROM python:3.12\nRUN pip install -i https://mirror.invalid/simple -r r.txt flask\n")
    assert f.actions[0].packages == ("flask",)


def test_go_build_gets_a_download_step_only_with_a_go_mod(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"go.mod": "module example.invalid/app\n"})
    _m, f = _actions("FROM golang:1.22\nWORKDIR /src\nRUN go build -o /app .\n", ctx)
    inst = read_install(f.actions[0], ContextView(BuildContext(ctx)))
    assert inst is not None and (inst.mode, inst.prefetch) == ("prefetch", "go mod download")
    assert read_install(f.actions[0], ContextView(BuildContext(tmp_path / "missing"))) is None
    _m, f = _actions("FROM golang:1.22\nRUN go mod download\n")
    assert is_prefetch(f.actions[0]) == "go"


def test_source_free_commands() -> None:
    _m, f = _actions("FROM debian:bookworm\nWORKDIR /app\nRUN apt-get update && mkdir -p /data && rm -rf /var/lib/apt/lists/* "
                     "&& pip install uv==0.4 && rm -rf build && ./configure\n")
    free = [source_free(a, "/app", "/root") for a in f.actions]
    assert free == [True, True, True, True, False, False]  # `rm -rf build` is in /app, the copied folder


def test_tool_installs_and_their_pins() -> None:
    _m, f = _actions("FROM node:20\nRUN npm i -g pnpm@9.1.0 && corepack enable && npm install -g left-pad && pip install uv "
                     "&& corepack prepare pnpm@9.1.0 --activate\n")
    tools = [tool_install(a) for a in f.actions]
    assert tools[0] is not None and tools[0].pinned
    assert tools[1] is not None and tools[1].names == ("corepack",)
    assert tools[2] is None  # not a package manager
    assert tools[3] is not None and not tools[3].pinned
    assert tools[4] is not None and tools[4].names == ("corepack", "pnpm@9.1.0") and tools[4].pinned


# --------------------------------------------------------------------------- caches and mounts


def test_cache_folders_follow_user_home_and_variables() -> None:
    _m, f = _actions("FROM node:20\nUSER node\nRUN npm ci\n")
    assert [c.path for c in cache_folders(f.actions[0])] == ["/home/node/.npm"]
    _m, f = _actions("FROM python:3.12\nARG PIP_CACHE_DIR=/cache\nRUN pip install flask\n")
    assert [c.path for c in cache_folders(f.actions[0])] == ["/cache"]
    _m, f = _actions("FROM python:3.12\nARG PIP_CACHE_DIR\nRUN pip install flask\n")
    assert [c.path for c in cache_folders(f.actions[0])] == [None]  # a build argument without default: not known


@pytest.mark.parametrize(("mount", "tool", "expected"), [
    ("type=cache,target=/root/.m2", "mvn -B package", True),  # over ~/.m2/repository
    ("type=cache,target=/root/.m2/repository/org", "mvn -B package", True),  # under it
    ("type=cache,id=m2,target=/cache/maven", "mvn -B package", True),  # beside it, named after the tool
    ("type=cache,target=/root/.npm", "mvn -B package", False),  # another tool's
    ("type=cache,target=/root/.cache/pypoetry", "poetry install", True),
    ("type=bind,target=/root/.m2", "mvn -B package", False),  # not a cache
])
def test_existing_mounts_of_the_same_tool(mount: str, tool: str, expected: bool) -> None:
    _m, f = _actions(f"FROM maven:3.9-eclipse-temurin-17\nRUN --mount={mount} {tool}\n")
    assert (tool_mount(f.mounts, cache_folders(f.actions[0])) is not None) is expected


def test_cache_templates_read_only_listed_variables() -> None:
    """cache_folders() reads only a manager's cache_env: every variable its templates use must be listed."""
    for m in catalog().managers:
        used = set()
        for c in m.caches:
            for t in (c.template, c.fallback or "", c.root_path or ""):
                used |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", t))
        assert used <= set(m.cache_env), (m.id, used - set(m.cache_env))


_VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789/._-:", min_size=1, max_size=12)
_KEY = st.sampled_from(["type", "target", "source", "id", "sharing", "uid", "gid", "mode", "from", "required"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_KEY, _VALUE), min_size=1, max_size=5, unique_by=lambda kv: kv[0]))
def test_written_mounts_read_back(options: list[tuple[str, str]]) -> None:
    """mount_flag() writes what parse_mount(), the one mount parser, reads back: CSV round trip."""
    flag = mount_flag(options)
    ins = parse(f"FROM x\nRUN {flag} true\n").instructions[1]
    (mt,) = mounts_of(ins)
    assert dict(mt.options) == dict(options)
    assert parse_mount(ins.flags[0]) == mt


@settings(max_examples=100, deadline=None)
@given(_VALUE.map(lambda v: "/" + v.lstrip("/")), st.sampled_from(["shared", "locked", "private"]),
       st.one_of(st.none(), st.integers(0, 70000)))
def test_cache_bind_and_secret_flags_read_back(target: str, sharing: str, uid: int | None) -> None:
    ins = parse(f"FROM x\nRUN {cache_flag(target, sharing, uid)} {bind_flag('a.txt', target)} {secret_flag('tok')} true\n").instructions[1]
    cache, bind, secret = mounts_of(ins)
    assert (cache.type, cache.target, cache.get("sharing") or "shared") == ("cache", posixpath.normpath(target), sharing)
    assert cache.get("uid") == (None if uid is None else str(uid))
    assert (bind.type, bind.source) == ("bind", "a.txt")
    assert (secret.type, secret.id, secret.get("required")) == ("secret", "tok", "true")


def test_a_value_that_needs_quoting_is_refused() -> None:
    with pytest.raises(ValueError):
        mount_flag([("type", "bind"), ("source", "a,b")])


# --------------------------------------------------------------------------- values


_NAMES = st.sampled_from(["A", "B", "HOME", "X_1"])
_VALS = st.text("abc/:-.0123", max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, st.one_of(st.none(), _VALS), max_size=4), _NAMES, _VALS)
def test_expand_defaults_and_alternatives(env: dict[str, str | None], name: str, word: str) -> None:
    """${X:-w} is X when set and non-empty else w; ${X:+w} is w when X is set and non-empty; an unknown X gives None;
    a plain mapping and an Env give the same answer."""
    as_env = Env({k: Var(v, "env") for k, v in env.items()})
    for text in (f"${{{name}:-{word}}}", f"${{{name}:+{word}}}", f"${name}/x", "no-variables"):
        got = expand(text, env)
        assert got == expand(text, as_env)
        if "$" not in text:
            assert got == text
            continue
        if name in env and env[name] is None:
            assert got is None
            continue
        value = env.get(name) or ""
        if text.endswith(":-" + word + "}"):
            assert got == (value if value else word)
        elif text.endswith(":+" + word + "}"):
            assert got == (word if value else "")
        else:
            assert got == value + "/x"


def test_assignment_spans_match_the_line() -> None:
    ins = parse('FROM x\nENV A=1 B="two words" C=$A\n').instructions[1]
    spans = assignment_spans(ins)
    assert spans is not None
    assert [ins.logical.text[s:e] for _a, s, e in spans] == ["A=1", 'B="two words"', "C=$A"]
    legacy = parse("FROM x\nENV NAME value with spaces\n").instructions[1]
    (only,) = assignment_spans(legacy) or []
    assert legacy.logical.text[only[1]:only[2]] == "NAME value with spaces"


# --------------------------------------------------------------------------- projects


def test_context_file_follows_globs_folders_and_later_runs(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"web/package.json": "{}", "web/package-lock.json": "{}"})
    m = _model("FROM node:20\nWORKDIR /app\nCOPY web/package*.json ./\nRUN npm ci\n", ctx)
    assert context_file(m, m.doc.instructions[-1], "/app/package-lock.json") == "web/package-lock.json"
    m = _model("FROM node:20\nWORKDIR /app\nCOPY web/ .\nRUN rm package-lock.json\nRUN npm ci\n", ctx)
    assert context_file(m, m.doc.instructions[-1], "/app/package-lock.json") is None
    assert context_file(m, m.doc.instructions[-1], "/app/package.json") == "web/package.json"


def _linker(text: str, ctx: Path) -> tuple[str | None, str, int | None, bool]:
    m = _model(text, ctx)
    ins = [i for i in m.doc.instructions if i.keyword == "RUN"][-1]
    facts = m.run(ins)
    assert facts is not None
    a = next(x for x in facts.actions if x.verb == "install")
    ln = yarn_linker(m, ins, a)
    return ln.name, ln.how, ln.where.start_line if ln.where is not None else None, ln.node_modules


_BERRY = {"package.json": {"name": "a", "packageManager": "yarn@4.5.3"}, "yarn.lock": "__metadata:\n  version: 8\n"}
_YARN = "FROM node:20\nWORKDIR /app\nCOPY . .\n{}RUN {}yarn install --immutable\n"


@pytest.mark.parametrize(("rc", "expected"), [
    ("nodeLinker: pnp\n", ("pnp", "file", 3, False)),
    ("nodeLinker: \"node-modules\"  # hoisted\n", ("node-modules", "file", 3, True)),
    ("nodeLinker: pnpm\n", ("pnpm", "file", 3, True)),
    ("nodeLinker: ${LINKER}\n", (None, "file", 3, False)),
    ("enableGlobalCache: true\n", ("pnp", "default", None, False)),  # yarn 2+'s default is Plug'n'Play
    (None, ("pnp", "default", None, False)),
])
def test_yarn_linker_from_yarnrc_or_yarns_default(tmp_path: Path, rc: str | None, expected: tuple[object, ...]) -> None:
    ctx = _write(tmp_path, {**_BERRY, **({".yarnrc.yml": rc} if rc is not None else {})})
    assert _linker(_YARN.format("", ""), ctx) == expected


def test_yarn_linker_variable_and_commands_win_over_the_file(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {**_BERRY, ".yarnrc.yml": "nodeLinker: pnp\n"})
    assert _linker(_YARN.format("ENV YARN_NODE_LINKER=node-modules\n", ""), ctx) == ("node-modules", "env", 4, True)
    assert _linker(_YARN.format("", "YARN_NODE_LINKER=node-modules "), ctx) == ("node-modules", "prefix", 4, True)
    assert _linker(_YARN.format("", "export YARN_NODE_LINKER=node-modules && "), ctx) == ("node-modules", "script", 4, True)
    assert _linker(_YARN.format("", "yarn config set nodeLinker node-modules && "), ctx) == ("node-modules", "command", 4, True)
    assert _linker(_YARN.format("RUN echo 'nodeLinker: node-modules' >> .yarnrc.yml\n", ""), ctx) == (None, "command", 4, False)
    # a .yarnrc.yml above the project folder counts, the nearest one first
    ctx2 = _write(tmp_path / "mono", {"web/package.json": {"name": "w"}, ".yarnrc.yml": "nodeLinker: node-modules\n"})
    text = "FROM node:20\nCOPY .yarnrc.yml /src/\nCOPY web/ /src/web/\nWORKDIR /src/web\nRUN yarn install\n"
    assert _linker(text, ctx2) == ("node-modules", "file", 2, True)


def _pnp(text: str, ctx: Path) -> tuple[str | None, bool | None, str, int | None] | None:
    m = _model(text, ctx)
    ins = [i for i in m.doc.instructions if i.keyword == "RUN"][-1]
    facts = m.run(ins)
    assert facts is not None
    a = next(x for x in facts.actions if x.verb == "install")
    pc = pnp_cache(m, ins, a)
    return None if pc is None else (pc.path, pc.global_cache, pc.how, pc.major)


def _yarn_project(tmp_path: Path, version: str | None, rc: str | None, lock: str = "__metadata:\n  version: 8\n") -> Path:
    pkg: dict[str, object] = {"name": "a", **({"packageManager": f"yarn@{version}"} if version else {})}
    return _write(tmp_path, {"package.json": pkg, "yarn.lock": lock, **({".yarnrc.yml": rc} if rc is not None else {})})


_GLOBAL = "/root/.yarn/berry/cache"


@pytest.mark.parametrize(("version", "rc", "expected"), [
    # yarn 4 turns the global cache on by default: the archives .pnp.cjs loads stay in the installing user's home
    ("4.5.3", "nodeLinker: pnp\n", (_GLOBAL, True, "default", 4)),
    ("4.5.3", None, (_GLOBAL, True, "default", 4)),  # no .yarnrc.yml: Plug'n'Play, classified as yarn 1 until the project says berry
    ("4.5.3", "enableGlobalCache: true\ncacheFolder: ./.yarn/cache\n", (_GLOBAL, True, "file", 4)),  # cacheFolder is ignored then
    ("4.5.3", "enableGlobalCache: false\n", ("/app/.yarn/cache", False, "file", 4)),
    ("4.5.3", "enableGlobalCache: false\ncacheFolder: ../yarn-cache  # shared\n", ("/yarn-cache", False, "file", 4)),
    ("4.5.3", "globalFolder: /opt/yarn\n", ("/opt/yarn/cache", True, "default", 4)),
    # yarn 2 and 3 keep the cache in the project unless the global cache is turned on
    ("3.8.7", "nodeLinker: pnp\n", ("/app/.yarn/cache", False, "default", 3)),
    ("2.4.3", None, ("/app/.yarn/cache", False, "default", 2)),
    ("3.8.7", "enableGlobalCache: true\n", (_GLOBAL, True, "file", 3)),
    ("3.8.7", "enableGlobalCache: ${ON}\n", (_GLOBAL, None, "file", 3)),  # unreadable: maybe the global cache
    # the release yarnPath names tells the version too; a name without one, or none at all, leaves it open
    (None, "yarnPath: .yarn/releases/yarn-3.6.4.cjs\n", ("/app/.yarn/cache", False, "default", 3)),
    (None, "yarnPath: .yarn/releases/yarn-berry.cjs\n", (_GLOBAL, None, "default", None)),
    (None, "nodeLinker: pnp\n", (_GLOBAL, None, "default", None)),
    ("4.5.3", "yarnPath: .yarn/releases/yarn-3.6.4.cjs\n", (_GLOBAL, None, "default", None)),  # they disagree
    # node_modules linkers need no cache at run time
    ("4.5.3", "nodeLinker: node-modules\n", None),
    ("3.8.7", "nodeLinker: pnpm\n", None),
])
def test_pnp_cache_is_the_global_cache_from_yarn_4_and_the_projects_before(
        tmp_path: Path, version: str | None, rc: str | None, expected: tuple[object, ...] | None) -> None:
    assert _pnp(_YARN.format("", ""), _yarn_project(tmp_path, version, rc)) == expected


def test_pnp_cache_follows_variables_the_user_and_is_none_for_yarn_1(tmp_path: Path) -> None:
    ctx = _yarn_project(tmp_path, "4.5.3", "nodeLinker: pnp\n")
    assert _pnp(_YARN.format("ENV YARN_ENABLE_GLOBAL_CACHE=false\n", ""), ctx) == ("/app/.yarn/cache", False, "env", 4)
    assert _pnp(_YARN.format("", "YARN_ENABLE_GLOBAL_CACHE=0 "), ctx) == ("/app/.yarn/cache", False, "prefix", 4)
    assert _pnp(_YARN.format("ENV YARN_GLOBAL_FOLDER=/opt/yarn\n", ""), ctx) == ("/opt/yarn/cache", True, "default", 4)
    assert _pnp(_YARN.format("ENV XDG_DATA_HOME=/opt/data\n", ""), ctx) == ("/opt/data/yarn/berry/cache", True, "default", 4)
    assert _pnp(_YARN.format("USER node\n", ""), ctx) == ("/home/node/.yarn/berry/cache", True, "default", 4)
    assert _pnp(_YARN.format("", "yarn config set enableGlobalCache false && "), ctx) == ("/app/.yarn/cache", False, "command", 4)
    # a RUN that edits .yarnrc.yml may change anything in it: the setting, the global folder, yarnPath
    assert _pnp(_YARN.format("RUN echo 'enableGlobalCache: false' >> .yarnrc.yml\n", ""), ctx) == (None, None, "command", None)
    classic = _yarn_project(tmp_path / "classic", None, None, "# yarn lockfile v1\n")
    assert _pnp(_YARN.format("", ""), classic) is None


@pytest.mark.parametrize(("pkg", "lock", "ok"), [
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1"}}}}, True),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^2"}}}}, False),
    ({"devDependencies": {"a": "^1"}}, {"lockfileVersion": 2, "packages": {"": {"dependencies": {"a": "^1"}}}}, False),
    ({"optionalDependencies": {"a": "^1"}}, {"lockfileVersion": 3, "packages": {"": {}}}, False),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 1, "dependencies": {"a": {"version": "1.0.0"}}}, True),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 1, "dependencies": {}}, False),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 1, "dependencies": {"a": {"dev": True}}}, False),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 4}, False),
    ({"dependencies": {"a": "^1"}}, {"lockfileVersion": 3, "packages": []}, False),
])
def test_lockfile_matches_package_json(pkg: dict, lock: dict, ok: bool) -> None:  # type: ignore[type-arg]
    assert (lock_mismatch(pkg, lock) is None) is ok

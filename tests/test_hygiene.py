"""Unit tests for the package-manager hygiene passes DO105-DO109 and their helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.edits import apply_edits
from dockeropt.model import ImageModel
from dockeropt.model.project import context_file, lock_mismatch, node_major
from dockeropt.rules import PassContext, load_passes
from dockeropt.syntax import parse
from harness import assert_sound, run_fix

MINE = ["DO105", "DO106", "DO107", "DO108", "DO109"]


def _write(root: Path, files: dict[str, object]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def _fix(text: str, rules: list[str], context: Path | None = None) -> str:
    res = run_fix(text, config=Config(select=rules), context=context)
    assert not res.errors, res.errors
    assert_sound(res, config=Config(select=rules), context=context)
    return res.fixed


def _check(rule: str, text: str, enabled: set[str], context: Path | None = None) -> list:  # type: ignore[type-arg]
    """Run one pass directly, pretending ``enabled`` rules run too."""
    cls = load_passes()[rule]
    ctx = PassContext(config=Config(), context=BuildContext(context) if context else None,
                      enabled_rules=frozenset(enabled | {rule}))
    return list(cls().check(parse(text), ctx))


# --------------------------------------------------------------------------- copies into the image


@pytest.mark.parametrize(
    ("dockerfile", "target", "expected"),
    [
        ("FROM node\nWORKDIR /app\nCOPY package*.json ./\nRUN x\n", "/app/package-lock.json", "package-lock.json"),
        ("FROM node\nWORKDIR /app\nCOPY package.json ./\nRUN x\n", "/app/package-lock.json", None),
        ("FROM node\nCOPY . /srv/app\nRUN x\n", "/srv/app/web/package-lock.json", "web/package-lock.json"),
        ("FROM node\nCOPY web/ /w/\nRUN x\n", "/w/package-lock.json", "web/package-lock.json"),
        ("FROM node\nCOPY web/package-lock.json /app/package-lock.json\nRUN x\n", "/app/package-lock.json", "web/package-lock.json"),
        ("FROM node\nCOPY --from=deps /app/package-lock.json /app/\nRUN x\n", "/app/package-lock.json", None),
        ("FROM node\nWORKDIR /app\nCOPY . .\nRUN rm package-lock.json\nRUN x\n", "/app/package-lock.json", None),
        ("FROM node\nWORKDIR /app\nCOPY $SRC .\nRUN x\n", "/app/package-lock.json", None),
    ],
)
def test_context_source_at(tmp_path: Path, dockerfile: str, target: str, expected: str | None) -> None:
    _write(tmp_path, {"package.json": "{}", "package-lock.json": "{}", "web/package.json": "{}", "web/package-lock.json": "{}"})
    m = ImageModel.build(parse(dockerfile), BuildContext(tmp_path))
    assert context_file(m, m.doc.instructions[-1], target) == expected


def test_dockerignored_lockfile_is_not_copied(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": "{}", "package-lock.json": "{}", ".dockerignore": "package-lock.json\n"})
    m = ImageModel.build(parse("FROM node\nWORKDIR /app\nCOPY . .\nRUN x\n"), BuildContext(tmp_path))
    assert context_file(m, m.doc.instructions[-1], "/app/package-lock.json") is None
    assert context_file(m, m.doc.instructions[-1], "/app/package.json") == "package.json"


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ("FROM node:20-alpine\n", 20),
        ("FROM node:14.21\n", 14),
        ("FROM node\n", 99),
        ("FROM node:lts-slim\n", 99),
        ("ARG V=18\nFROM node:${V}-bullseye\n", 18),
        ("ARG V\nFROM node:${V}\n", None),
        ("FROM node:16 AS base\nFROM base\n", 16),
        ("FROM ubuntu:22.04\n", None),
        ("FROM cimg/base:2024.01\n", None),
    ],
)
def test_node_major(text: str, major: int | None) -> None:
    m = ImageModel.build(parse(text))
    assert node_major(m.graph.nodes[-1].image) == major


def test_lock_mismatch() -> None:
    pkg = {"dependencies": {"a": "^1.0.0"}, "devDependencies": {"b": "^2.0.0"}}
    v3 = {"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1.0.0"}, "devDependencies": {"b": "^2.0.0"}}}}
    assert lock_mismatch(pkg, v3) is None
    stale = {"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^0.9.0"}, "devDependencies": {"b": "^2.0.0"}}}}
    assert lock_mismatch(pkg, stale) is not None
    assert lock_mismatch(pkg, {"lockfileVersion": 1, "dependencies": {"a": {}, "b": {}}}) is None
    assert lock_mismatch(pkg, {"lockfileVersion": 1, "dependencies": {"a": {}}}) is not None
    assert lock_mismatch(pkg, {"name": "x"}) is not None
    # a dependency the lockfile records as a devDependency: npm ci --omit=dev would leave it out
    assert lock_mismatch(pkg, {"lockfileVersion": 1, "dependencies": {"a": {"dev": True}, "b": {"dev": True}}}) is not None
    # optionalDependencies are compared too
    opt = {**pkg, "optionalDependencies": {"c": "^1"}}
    assert lock_mismatch(opt, v3) == "its optionalDependencies differ from package.json's"
    assert lock_mismatch(pkg, [1, 2]) is not None


# --------------------------------------------------------------------------- the bars from the issue

PKG = {"name": "svc", "version": "1.0.0", "scripts": {"build": "tsc -p ."},
       "dependencies": {"fastify": "^4.0.0"}, "devDependencies": {"typescript": "^5.4.5"}}
LOCK = {"lockfileVersion": 3, "packages": {"": {"dependencies": {"fastify": "^4.0.0"}, "devDependencies": {"typescript": "^5.4.5"}}}}


def test_npm_ci_only_with_a_lockfile_in_the_context(tmp_path: Path) -> None:
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install\n"
    no_lock = _write(tmp_path / "a", {"package.json": PKG})
    assert _fix(text, ["DO107"], no_lock) == text
    assert _fix(text, ["DO107"], None) == text
    with_lock = _write(tmp_path / "b", {"package.json": PKG, "package-lock.json": LOCK})
    assert _fix(text, ["DO107"], with_lock).endswith("RUN npm ci\n")


def test_npm_ci_not_after_an_install_of_named_packages(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"package.json": PKG, "package-lock.json": LOCK})
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install left-pad && npm install\n"
    assert _fix(text, ["DO107"], ctx) == text  # npm ci would delete left-pad again
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install -g pm2 && npm install\n"
    assert _fix(text, ["DO107"], ctx).endswith("npm ci\n")


def test_node_env_production_before_build_gets_dev_dependencies(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"package.json": PKG, "package-lock.json": LOCK})
    text = "FROM node:20\nENV NODE_ENV=production\nWORKDIR /app\nCOPY . .\nRUN npm ci\nRUN npm run build\n"
    fixed = _fix(text, MINE, ctx)
    # the ENV stays where it was (the build keeps NODE_ENV=production); the install brings the build tools
    assert fixed == text.replace("RUN npm ci\n", "RUN npm ci --include=dev\n")


def test_no_pass_adds_node_env_or_reorders_it(tmp_path: Path) -> None:
    ctx = _write(tmp_path, {"package.json": PKG, "package-lock.json": LOCK})
    text = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm install && npm run build\nENV NODE_ENV=production\nCMD [\"node\", \"dist\"]\n"
    fixed = _fix(text, MINE, ctx)
    assert fixed.count("NODE_ENV") == 1
    assert fixed.index("npm run build") < fixed.index("ENV NODE_ENV=production")


UNPARSEABLE = [
    "apk add curl && echo $((",
    "apt-get install -y curl && if then fi",
    "dnf install -y git && [[ -f x",
    "pip install flask && echo ${",
    "npm install && case x in",
    "yarn install )",
]


@pytest.mark.parametrize("script", UNPARSEABLE)
def test_no_pass_touches_an_unparseable_run(tmp_path: Path, script: str) -> None:
    ctx = _write(tmp_path, {"package.json": PKG, "package-lock.json": LOCK, "yarn.lock": "# yarn lockfile v1\n"})
    text = f"FROM node:20\nWORKDIR /app\nCOPY . .\nRUN {script}\nRUN apt-get install -y make\n"
    assert _fix(text, MINE, ctx) == text


def test_no_pass_touches_heredoc_or_exec_runs() -> None:
    text = "FROM alpine\nRUN <<EOF\napk add curl\npip install x\nEOF\nRUN [\"apk\", \"add\", \"git\"]\nRUN [\"pip\", \"install\", \"y\"]\n"
    assert _fix(text, MINE) == text


def test_edits_leave_the_rest_of_the_script_byte_identical() -> None:
    text = "FROM python:3.12-alpine\nRUN apk add  gcc \\\n\t  musl-dev&&pip install 'a==1'  -r r.txt # note\n"
    fixed = _fix(text, ["DO105", "DO106"])
    assert fixed.replace(" --no-cache-dir", "").replace(" --no-cache", "") == text


# --------------------------------------------------------------------------- passes deferring to each other


def test_pip_no_cache_waits_for_cache_mounts() -> None:
    """DO106 runs after DO102: where DO102 mounts pip's cache, no --no-cache-dir; where it cannot, DO106 still acts."""
    text = "FROM python:3.12\nRUN pip install flask\n"
    assert _fix(text, ["DO106"]) == "FROM python:3.12\nRUN pip install --no-cache-dir flask\n"
    assert _fix(text, ["DO102", "DO106"]) == "FROM python:3.12\nRUN --mount=type=cache,target=/root/.cache/pip pip install flask\n"
    unknown = "FROM python:3.12\nUSER app\nRUN pip install --user flask\n"
    assert "--no-cache-dir" in _fix(unknown, ["DO102", "DO106"])
    # the mount DO102 would add is not there (DO102 is not selected): DO106 acts
    assert "--no-cache-dir" in _fix(text, ["DO106", "DO104"])


def test_pip_no_cache_declares_its_order() -> None:
    passes = load_passes()
    assert "DO102" in passes["DO106"].after and "DO102" in passes["DO104"].after
    assert "DO109" in passes["DO105"].after and "DO103" in passes["DO109"].after


def test_apk_and_dnf_clean_where_no_mount_covers_their_cache() -> None:
    text = "FROM alpine\nRUN apk add curl\nFROM fedora\nRUN dnf install -y git\n"
    fixed = _fix(text, ["DO102", "DO105"])
    assert "apk add --no-cache curl" in fixed and "dnf install -y git && dnf clean all" in fixed
    mounted = "FROM fedora\nRUN --mount=type=cache,target=/var/cache/dnf dnf install -y git\n"
    assert _fix(mounted, ["DO102", "DO105"]) == mounted


def test_merge_leaves_a_lone_apt_update_to_do103() -> None:
    text = "FROM debian\nRUN apt-get update\nRUN apt-get install -y curl\n"
    assert _fix(text, ["DO109"]) != text
    assert _fix(text, ["DO103", "DO109"]) == "FROM debian\nRUN apt-get update && apt-get install -y curl\n"


def test_dnf_clean_goes_once_at_the_end_of_the_merged_run() -> None:
    text = "FROM rockylinux:9\nRUN dnf -y update\nRUN dnf -y install git\nRUN yum install -y make\n"
    fixed = _fix(text, ["DO105", "DO109"])
    run = fixed.split("\n", 1)[1]
    assert run.count("clean all") == 1
    assert run.rstrip().endswith("yum clean all && rm -rf /var/cache/yum")


def test_merged_run_joins_with_the_files_escape_character() -> None:
    text = "# escape=`\nFROM debian\nRUN apt-get update && apt-get install -y curl\nRUN apt-get install -y git\n"
    fixed = _fix(text, ["DO109"])
    assert "apt-get install -y curl && `\n    apt-get install -y git\n" in fixed


def test_merge_edit_applies_to_crlf_files() -> None:
    text = "FROM debian\r\nRUN apt-get install -y a\r\nRUN apt-get install -y b\r\n"
    changes = _check("DO109", text, set())
    assert len(changes) == 1 and changes[0].fix is not None
    out = apply_edits(text, changes[0].fix.edits)
    assert out == "FROM debian\r\nRUN apt-get install -y a && \\\r\n    apt-get install -y b\r\n"

"""Workspace globs resolved against the build context (dockeropt.model.workspaces, used by DO101)."""

from __future__ import annotations

import json
from pathlib import Path

from dockeropt.context import BuildContext
from dockeropt.model.deps import ContextView
from dockeropt.model.workspaces import Workspaces, resolve_workspaces, workspace_patterns


def _ctx(tmp_path: Path, dirs: list[str], ignore: str = "") -> ContextView:
    for d in dirs:
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
        (tmp_path / d / "package.json").write_text(json.dumps({"name": d}))
    if ignore:
        (tmp_path / ".dockerignore").write_text(ignore)
    return ContextView(BuildContext(tmp_path))


def test_globs_negation_and_dockerignore(tmp_path: Path) -> None:
    view = _ctx(tmp_path, ["packages/a", "packages/test-x", "packages/skip", "apps/deep/web", ".hidden/p"], "packages/skip\n")
    (tmp_path / "packages" / "empty").mkdir()
    ws = resolve_workspaces(["packages/*", "!packages/test-*", "apps/**", ".hidden/*"], view, "package.json")
    assert ws.blocker is None
    assert ws.dirs == (".hidden/p", "apps/deep/web", "packages/a")  # a dot folder the glob names is read


def test_unresolvable_glob_and_cap(tmp_path: Path) -> None:
    view = _ctx(tmp_path, [f"p/{i}" for i in range(3)])
    assert "does not resolve" in (resolve_workspaces(["p/{a,b}"], view, "package.json").blocker or "")
    assert "does not resolve" in (resolve_workspaces(["../x/*"], view, "package.json").blocker or "")
    assert resolve_workspaces(["p/*"], view, "package.json").dirs == ("p/0", "p/1", "p/2")


def _yaml(tmp_path: Path, name: str, text: str) -> object:
    (tmp_path / name).mkdir()
    (tmp_path / name / "pnpm-workspace.yaml").write_text(text)
    return workspace_patterns({}, ContextView(BuildContext(tmp_path / name)), "pnpm-workspace.yaml")


def test_pnpm_workspace_yaml_forms(tmp_path: Path) -> None:
    assert _yaml(tmp_path, "block", "catalog:\n  x: ^1\npackages:\n  - 'a/*' # comment\n  - \"!a/b\"\n") == ["a/*", "!a/b"]
    assert _yaml(tmp_path, "flow", "packages: [a/*, 'b']\n") == ["a/*", "b"]
    got = _yaml(tmp_path, "map", "packages:\n  key: value\n")
    assert isinstance(got, Workspaces) and got.blocker


def test_package_json_forms(tmp_path: Path) -> None:
    view = _ctx(tmp_path, [])
    assert workspace_patterns({"workspaces": ["a/*"]}, view, None) == ["a/*"]
    assert workspace_patterns({"workspaces": {"packages": ["a/*"], "nohoist": ["x"]}}, view, None) == ["a/*"]
    assert workspace_patterns({"name": "x"}, view, None) is None
    got = workspace_patterns({"workspaces": "a/*"}, view, None)
    assert isinstance(got, Workspaces) and got.blocker

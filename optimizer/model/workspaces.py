"""Node workspaces: which package folders an npm, yarn or pnpm install reads, resolved against the build context.

:func:`workspace_patterns` reads the globs a project declares (package.json ``workspaces`` as a list or as
``{"packages": [...]}``, or the ``packages`` list of pnpm-workspace.yaml); :func:`resolve_workspaces`
resolves them (``*``, ``**``, ``!negations``) against a :class:`~dockeropt.model.deps.ContextView`, so
.dockerignore is respected, and says which package folders hold a package.json the install reads, or why
they cannot all be known. The limits and the fields that block are data (``catalog/installs.json``,
``package_json.workspaces``).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockeropt.model.deps import ContextView


@dataclass(frozen=True)
class Workspaces:
    """The package folders of a workspace (relative to the install's folder, sorted), or why they are not known."""

    source: str  # where the globs come from: "package.json" or "pnpm-workspace.yaml"
    dirs: tuple[str, ...] = ()
    blocker: str | None = None


class _Unreadable(ValueError):
    pass


def _yaml_packages(text: str) -> list[str]:
    """The ``packages:`` list of a pnpm-workspace.yaml (block or flow style); other keys are skipped."""
    out: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace() and not line.startswith("-"):
            key, _, rest = line.partition(":")
            inside = key.strip().strip("'\"") == "packages"
            rest = rest.strip()
            if inside and rest:
                if not (rest.startswith("[") and rest.endswith("]")):
                    raise _Unreadable("packages is not a list")
                out += [_unquote(x) for x in rest[1:-1].split(",") if x.strip()]
                inside = False
            continue
        if inside:
            item = line.strip()
            if not item.startswith("-"):
                raise _Unreadable(f"cannot read '{item}'")
            out.append(_unquote(item[1:]))
    return out


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def workspace_patterns(pkg: dict[str, Any] | None, view: ContextView, workspace_file: str | None) -> Workspaces | list[str] | None:
    """The workspace globs (a list), a :class:`Workspaces` with a blocker when they cannot be read, or None
    when the project declares no workspaces."""
    if workspace_file is not None and view.exists(workspace_file):
        text = view.read(workspace_file)
        if text is None:
            return Workspaces(workspace_file, blocker=f"{workspace_file} could not be read")
        try:
            return _yaml_packages(text)
        except _Unreadable as e:
            return Workspaces(workspace_file, blocker=f"{workspace_file} could not be read ({e})")
    ws = (pkg or {}).get("workspaces")
    if not ws:
        return None
    if isinstance(ws, dict):
        ws = ws.get("packages")
    if not isinstance(ws, list) or not all(isinstance(x, str) for x in ws):
        return Workspaces("package.json", blocker="package.json's workspaces is not a list of globs")
    return list(ws)


_GLOB_OK = re.compile(r"^[A-Za-z0-9_.@*?/!+-]+$")


def _walk(view: ContextView, base: str, parts: list[str], skip: str) -> list[str]:
    """Folders under ``base`` (relative to the view) matching the glob segments ``parts``."""
    if not parts:
        return [base]
    head, rest = parts[0], parts[1:]
    here = base or "."

    def children() -> list[str]:
        return [n for n in (view.context.listdir(view.path(here)) if view.context is not None else [])
                if n != skip and not n.startswith(".") and view.is_dir(posixpath.join(base, n) if base else n)]

    def join(n: str) -> str:
        return posixpath.join(base, n) if base else n

    if head == "**":
        out = _walk(view, base, rest, skip)
        for n in children():
            out += _walk(view, join(n), parts, skip)
        return out
    if any(ch in head for ch in "*?"):
        return [x for n in children() if fnmatch.fnmatchcase(n, head) for x in _walk(view, join(n), rest, skip)]
    return _walk(view, join(head), rest, skip) if view.is_dir(join(head)) else []


def resolve_workspaces(patterns: list[str], view: ContextView, source: str) -> Workspaces:
    """The folders the globs name that hold a package.json in the context (.dockerignore respected)."""
    spec = _spec()
    skip = str(spec["nested_guard"])
    keep: set[str] = set()
    drop: set[str] = set()
    for raw in patterns:
        neg = raw.startswith("!")
        pat = posixpath.normpath(raw[1:] if neg else raw).removeprefix("./")
        if not _GLOB_OK.match(pat) or pat.startswith(("/", "..")) or "!" in pat or pat == ".":
            return Workspaces(source, blocker=f"{source} names the workspace glob '{raw}', which dockeropt does not resolve")
        parts = [p for p in pat.split("/") if p]
        found = {d for d in _walk(view, "", parts, skip) if view.exists(posixpath.join(d, "package.json"))}
        (drop if neg else keep).update(found)
    dirs = tuple(sorted(keep - drop))
    cap = int(spec["max_packages"])
    if len(dirs) > cap:
        return Workspaces(source, dirs, blocker=f"{source} declares {len(dirs)} workspace packages, more than the {cap} "
                                                "dockeropt copies one by one")
    return Workspaces(source, dirs)


def _spec() -> dict[str, Any]:
    from dockeropt.model.deps import _data

    return dict(_data()["package_json"]["workspaces"])


def package_reason(rel: str, view: ContextView, reason_of: Any) -> str | None:
    """Why a workspace package's own package.json makes the install read its source (``reason_of`` reads the
    scripts and dependencies the way the root's are read); None when it does not."""
    spec = _spec()
    path = view.path(posixpath.join(rel, "package.json"))
    text = view.read(posixpath.join(rel, "package.json"))
    try:
        data = json.loads(text) if text is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return f"{path} could not be read as a JSON object"
    for field in spec["blocking_fields"]:
        if data.get(field):
            return (f"workspace package {path} has a '{field}', which the install links to a file of the package's "
                    "source (remove it, or copy that package whole before the install)")
    why = reason_of(data, workspace=True)
    return f"workspace package {path}: {why} (move it out of the install, or copy that package whole before it)" if why else None


def nested_guard(dirs: tuple[str, ...], view: ContextView) -> str | None:
    """A package folder whose ``node_modules`` the context holds (not excluded by .dockerignore): the full copy
    after the install would overwrite what the install put there."""
    name = str(_spec()["nested_guard"])
    for d in ("", *dirs):
        rel = posixpath.join(d, name) if d else name
        if view.exists(rel):
            return (f"the build context has {view.path(rel)} (not excluded by .dockerignore), which the full copy would "
                    f"put over the installed one (add `**/{name}` to .dockerignore)")
    return None


__all__ = ["Workspaces", "nested_guard", "package_reason", "resolve_workspaces", "workspace_dir", "workspace_patterns"]


def workspace_dir(view: ContextView, value: str, workspace_file: str | None = None,
                  match: tuple[str, ...] = ("path", "name")) -> str | None:
    """The one workspace folder (relative to the view) that ``value`` of a launcher's workspace option names
    (``npm start -w packages/api``, ``pnpm --filter web start``). ``match`` says what the value may be, as
    the launcher reads it: ``path``, a workspace folder; ``dot-path``, a folder written ``./x``; ``name``,
    the name in a workspace's package.json. None when the project declares no workspaces dockeropt resolves
    (``workspace_file``: where the globs are when not in package.json), or ``value`` names none or more than
    one (a parent folder, a glob)."""
    ctx = view.context
    if ctx is None:
        return None
    got = workspace_patterns(ctx.read_json_object(view.path("package.json")), view, workspace_file)
    if not isinstance(got, list):
        return None
    ws = resolve_workspaces(got, view, workspace_file if workspace_file is not None and view.exists(workspace_file) else "package.json")
    if ws.blocker:
        return None
    path = posixpath.normpath(value).removeprefix("./")
    if ("path" in match or ("dot-path" in match and value.startswith("./"))) and path in ws.dirs:
        return path
    if "name" not in match:
        return None
    named = [d for d in ws.dirs if (ctx.read_json_object(view.path(posixpath.join(d, "package.json"))) or {}).get("name") == value]
    return named[0] if len(named) == 1 else None

"""Dependency installs: what an install reads from the build context, and which commands never read it.

For a classified RUN command (:class:`~dockeropt.model.runs.Action`),
:func:`read_install` says whether it installs dependencies from manifests
(``npm ci``, ``pip install -r``, ``poetry install``, ``go build`` with a
``go mod download`` ahead of it, ...), which manifest files it reads
(relative to its folder in the build context), whether it needs the source
itself (lifecycle scripts, path dependencies, ``-e .``: ``blocker``), and
what moving it before the source copy takes (flags, commands after the copy,
a download step). :func:`source_free` tells whether a command can run before
the source is copied at all, and :func:`tool_install` whether it installs a
package-manager tool (``pip install uv==0.4``, ``npm i -g pnpm``,
``corepack enable``), which belongs in its own layer before the manifests.

The knowledge is data (``catalog/installs.json``); this module interprets it.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from dockeropt.catalog import catalog
from dockeropt.context import BuildContext
from dockeropt.model.runs import Action


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files("dockeropt.catalog").joinpath("installs.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ContextView:
    """The build context as an install in ``subdir`` (relative to the context root; "" = the root) sees it."""

    context: BuildContext | None
    subdir: str = ""

    def path(self, rel: str) -> str:
        return posixpath.normpath(posixpath.join(self.subdir, rel)) if self.subdir else rel

    def exists(self, rel: str) -> bool:
        return self.context is not None and self.context.exists(self.path(rel))

    def is_dir(self, rel: str) -> bool:
        return self.context is not None and self.context.is_dir(self.path(rel))

    def read(self, rel: str) -> str | None:
        return self.context.read_text(self.path(rel)) if self.context is not None else None


@dataclass(frozen=True)
class DepInstall:
    """A dependency install (or a build that downloads dependencies) and what moving it ahead of the source takes."""

    action: Action
    label: str  # how messages name it: npm, yarn, pip, poetry, go, maven, ...
    mode: str  # "move": the command only needs its manifests; "prefetch": insert a download step before the source
    manifests: tuple[str, ...] = ()  # relative to the install's folder in the context; patterns only without a context
    optional: tuple[str, ...] = ()  # copied when the context has them
    optional_dirs: tuple[str, ...] = ()
    add_flags: tuple[str, ...] = ()  # appended to the moved command
    after_copy: tuple[str, ...] = ()  # commands to run after the source copy
    prefetch: str | None = None  # the download command (mode prefetch)
    blocker: str | None = None  # why the install needs the source
    missing: str | None = None  # a required manifest the context lacks
    review: bool = False
    detail: str = ""
    bind_ok: bool = False  # never writes its manifests: they may be read-only bind mounts


# --------------------------------------------------------------------------- reading the command


def _words(a: Action) -> list[str | None]:
    return [w.value for w in a.command.effective()]


def _rest(a: Action) -> list[str | None]:
    """Words after the program (and its fixed words such as ``-m pip``)."""
    n = a.invocation.program_words if a.invocation is not None else 1
    return _words(a)[n:]


def _positionals(a: Action) -> list[str | None]:
    """Non-option words after the program (values of options that take one are skipped)."""
    m = a.manager
    with_value = m.flags_with_value if m is not None else frozenset()
    out: list[str | None] = []
    skip = False
    for w in _rest(a):
        if skip:
            skip = False
            continue
        if w is not None and w.startswith("-") and w != "-":
            skip = w in with_value and "=" not in w
            continue
        out.append(w)
    return out


def command_text(a: Action) -> str:
    """The command as written (prefix assignments and wrappers included)."""
    return " ".join(w.text for w in (*a.command.assignments, *a.command.argv))


def _matches(rule: Mapping[str, Any], a: Action) -> bool:
    if a.tool not in rule["managers"] or a.verb not in rule.get("verbs", (a.verb,)):
        return False
    inv = a.invocation
    if "subcommands" in rule and (inv is None or inv.subcommand not in rule["subcommands"]):
        return False
    if a.project != a.cwd:
        return False  # npm --prefix web / yarn --cwd: another folder than the RUN's
    if rule.get("no_packages") and a.packages:
        return False
    if any(a.has_flag(f) for f in rule.get("skip_flags", ())):
        return False
    pos = _positionals(a)
    if "goals" in rule and not any(p in rule["goals"] for p in pos):
        return False
    if rule.get("no_positionals") and len(pos) > 1:
        return False
    return True


_UNSET = object()


def install_rule(a: Action) -> Mapping[str, Any] | None:
    """The installs.json entry ``a`` matches (the build context not consulted), or None."""
    got = a.derived.get("install_rule", _UNSET)  # it reads the command, never the env or the user
    if got is _UNSET:
        got = a.derived["install_rule"] = _install_rule(a)
    return got  # type: ignore[return-value]


def _install_rule(a: Action) -> Mapping[str, Any] | None:
    if a.manager is None:
        return None
    for rule in _installs_for(a.tool):
        if _matches(rule, a):
            return rule
    return None


@cache
def _installs_for(tool: str) -> tuple[Mapping[str, Any], ...]:
    """The installs.json entries that name ``tool``, in file order (the first match wins)."""
    return tuple(rule for rule in _data()["installs"] if tool in rule["managers"])


def is_prefetch(a: Action) -> str | None:
    """The label of a dependency download that already runs on its own (``go mod download``, ``mvn dependency:go-offline``)."""
    for rule in _data()["prefetched_by"]:
        if a.tool not in rule["managers"]:
            continue
        inv = a.invocation
        words = [w for w in _rest(a) if w is not None]
        if "subcommands" in rule and inv is not None and inv.subcommand in rule["subcommands"]:
            return str(rule["label"])
        if any(w.startswith(p) for p in rule.get("word_prefixes", ()) for w in words):
            return str(rule["label"])
        if any(w in rule.get("words", ()) for w in words):
            return str(rule["label"])
    return None


# --------------------------------------------------------------------------- reading the context


def _check(check: Any, a: Action, files: ContextView, pkg: dict[str, Any] | None) -> str | None:
    """Why the install needs the source, per one check of the catalog; None when it does not."""
    if check == "package_json":
        return _package_json_reason(pkg) if pkg is not None else None
    if "exists" in check:
        return str(check["reason"]) if files.exists(check["exists"]) else None
    if "flags" in check:
        return str(check["reason"]) if any(w in check["flags"] for w in _rest(a)) else None
    if "regex" in check:
        names = check["file"] if isinstance(check["file"], list) else [check["file"]]
        text = next((t for t in (files.read(n) for n in names) if t), None)
        if text is not None and re.search(check["regex"], text):
            return str(check["reason"])
        return None
    raise ValueError(f"unknown install check {check!r}")


def _package_json_reason(pkg: dict[str, Any], workspace: bool = False) -> str | None:
    """Why installing from this package.json reads the source; ``workspace``: it is (in) a workspace whose
    package.json files are all copied, so ``workspace:`` specs need no source."""
    spec = _data()["package_json"]
    scripts = pkg.get("scripts") or {}
    hooks = [h for h in spec["lifecycle_scripts"] if isinstance(scripts, dict) and h in scripts]
    if hooks:
        return f"package.json runs the '{hooks[0]}' lifecycle script during install, which may read source files"
    local = [p for p in spec["local_prefixes"] if not (workspace and p in spec["workspaces"]["workspace_prefixes"])]
    for section in spec["dependency_sections"]:
        deps = pkg.get(section) or {}
        if isinstance(deps, dict):
            for dep, value in deps.items():
                if isinstance(value, str) and value.startswith(tuple(local)):
                    return f"dependency '{dep}' comes from a local path ({value}), which the install reads"
    return None


def _workspace_manifests(pkg: dict[str, Any], files: ContextView, workspace_file: str | None) -> list[str] | str | None:
    """The package.json files of the workspace's packages (relative to the install's folder), why they cannot
    all be copied ahead of the source, or None when the project has no workspaces."""
    from dockeropt.model.workspaces import (
        Workspaces,
        nested_guard,
        package_reason,
        resolve_workspaces,
        workspace_patterns,
    )

    got = workspace_patterns(pkg, files, workspace_file)
    if got is None:
        return None
    source = workspace_file if workspace_file is not None and files.exists(workspace_file) else "package.json"
    ws = got if isinstance(got, Workspaces) else resolve_workspaces(got, files, source)
    if ws.blocker:
        return ws.blocker
    for d in ws.dirs:
        why = package_reason(d, files, _package_json_reason)
        if why:
            return why
    guard = nested_guard(ws.dirs, files)
    if guard:
        return guard
    return [posixpath.join(d, "package.json") for d in ws.dirs]


def read_install(a: Action, files: ContextView) -> DepInstall | None:
    """The dependency install ``a`` is, read against the build context; None when it is not one."""
    rule = install_rule(a)
    if rule is None:
        return None
    label = str(rule["label"])
    if rule.get("requirements"):
        return _requirements(a, files, label)
    if rule.get("needs_context") and files.context is None:
        return None
    if any(not files.exists(f) for f in rule.get("needs_files", ())):
        return None
    manifests = list(rule.get("manifests", ()))
    optional = list(rule.get("optional", ()))
    optional_dirs = list(rule.get("optional_dirs", ()))
    locked_spec = rule.get("locked", {})
    locked = bool(locked_spec.get("always")) or a.verb in locked_spec.get("verbs", ()) or any(
        a.has_flag(f) for f in locked_spec.get("flags", ()))
    if locked:
        for f in rule.get("locked_manifests", ()):
            manifests.append(f)
            if f in optional:
                optional.remove(f)
    wc = rule.get("without_context")
    if wc is not None and files.context is None and (locked or not wc.get("locked_only")):
        manifests, optional = list(wc["manifests"]), list(wc["optional"])
    program = a.command.effective()[0].text
    wrapper = rule.get("wrapper")
    if wrapper is not None and program.endswith(wrapper["program"]):
        manifests += wrapper.get("manifests", [])
        optional_dirs += wrapper.get("optional_dirs", [])
    out = dict(action=a, label=label, mode=str(rule["mode"]), review=bool(rule.get("review")), bind_ok=locked,
               detail=str(rule.get("detail", "")) if rule.get("review") else "")
    # the manifest whose content decides (package.json): missing, unreadable, or read
    pkg: dict[str, Any] | None = None
    blocker: str | None = None
    missing: str | None = None
    checks = list(rule.get("checks", ()))
    read = rule.get("read_manifest")
    # checks before the manifest is read (pnpm-workspace.yaml) come first
    first = [c for c in checks if c != "package_json"]
    for c in first if read else checks:
        blocker = _check(c, a, files, None)
        if blocker:
            break
    if blocker is None and read:
        text = files.read(read)
        if text is None:
            if files.context is not None:
                missing = read
            else:
                out["review"] = True
                out["detail"] = str(rule.get("no_context_detail", ""))
        else:
            try:
                data = json.loads(text)
            except ValueError:
                data = None
                blocker = f"{read} is not valid JSON"
            if blocker is None and not isinstance(data, dict):
                blocker = f"{read} is not a JSON object"
            elif blocker is None:
                pkg = data
                ws = _workspace_manifests(pkg, files, rule.get("workspace_file")) if files.context is not None else None
                if isinstance(ws, str):
                    blocker = ws
                else:
                    blocker = _package_json_reason(pkg, workspace=ws is not None)
                    manifests += ws or []
    if blocker is None and "manifests_present" in rule:
        present = [f for f in rule["manifests_present"] if files.exists(f)]
        if not present:
            return None
        manifests = present + manifests
    if blocker is not None:
        return DepInstall(a, label, str(rule["mode"]), blocker=blocker)
    add = [f for f in rule.get("add_flags", ()) if not a.has_flag(f)]
    if any(a.has_flag(f) for f in rule.get("add_unless_flags", ())):
        add = []
    after: list[str] = []
    if add or rule.get("after_copy_always"):
        for step in rule.get("after_copy", ()):
            if any(a.has_flag(f) for f in step.get("unless_flags", ())):
                continue
            cond = step.get("if_file_contains")
            if cond is not None and cond[1] not in (files.read(cond[0]) or ""):
                continue
            if step["command"] == "{command}":
                after.append(command_text(a))
                continue
            keep = [f for f in step.get("keep_flags", ()) if a.has_flag(f)]
            after.append(" ".join([step["command"], *keep]))
    if add:
        out["review"] = True
        out["detail"] = str(rule.get("detail", ""))
    prefetch = None
    if "prefetch" in rule:
        p = rule["prefetch"]
        keep = [w for w in _rest(a) if w is not None and w in p.get("keep_flags", ())]
        prefetch = p["command"].replace("{program}", " ".join([program, *keep]))
    return DepInstall(
        a, label, str(out["mode"]), tuple(manifests), tuple(optional), tuple(optional_dirs), tuple(add), tuple(after),
        prefetch, None, missing, bool(out["review"]), str(out["detail"]), bool(out["bind_ok"]),
    )


# --------------------------------------------------------------------------- pip requirement files


def local_spec(spec: str) -> bool:
    """A requirement that names a path in the build context (``.``, ``./pkg``, ``file:``, ``libs/x``)."""
    return spec in (".", "..") or spec.startswith(("./", "../", "/", "file:")) or (
        "/" in spec and not re.match(r"^[A-Za-z][\w.+-]*://", spec) and "@" not in spec
    )




def requirement_files(a: Action) -> tuple[list[str], str | None] | None:
    """The requirement and constraint files a ``pip install`` names (``-r X``, ``-cX``, ``--requirement=X``) as written,
    and why the install needs the source besides (``-e``, a local path), or None when a word is an expansion."""
    got = a.derived.get("requirement_files", _UNSET)  # it reads the command, never the env or the user
    if got is _UNSET:
        got = a.derived["requirement_files"] = _requirement_files(a)
    if got is None:
        return None
    found, why = got  # type: ignore[misc]
    return list(found), why  # a list of the caller's own


def _requirement_files(a: Action) -> tuple[list[str], str | None] | None:
    m = a.manager
    assert m is not None
    rest = _rest(a)
    found: list[str] = []
    words = rest[rest.index("install") + 1 :] if "install" in rest else []
    i = 0
    while i < len(words):
        w = words[i]
        if w is None:
            return None  # an expansion: what is installed is not known
        if w in m.manifest_flags:
            if i + 1 >= len(words) or words[i + 1] is None:
                return None
            found.append(words[i + 1] or "")
            i += 2
            continue
        attached = m.manifest_flag_value(w)
        if attached is not None:
            found.append(attached)
            i += 1
            continue
        if w in m.editable_flags:
            return found, "pip installs the project itself in editable mode (-e), which needs the source"
        if w in m.flags_with_value:
            i += 2
            continue
        if w.startswith("-"):
            i += 1
            continue
        if local_spec(w):
            return found, f"pip installs '{w}' from the build context, which needs the source"
        i += 1
    return found, None


def _requirements(a: Action, files: ContextView, label: str) -> DepInstall | None:
    scanned = requirement_files(a)
    if scanned is None:
        return None
    found, needs_source = scanned
    if needs_source is not None:
        return DepInstall(a, label, "move", blocker=needs_source)
    if not found:
        return None
    seen: list[str] = []
    queue = [posixpath.normpath(f) for f in found]
    review = False
    detail = ""
    while queue:
        f = queue.pop(0)
        if f in seen:
            continue
        if f.startswith("../") or f.startswith("/") or "$" in f:
            return DepInstall(a, label, "move", blocker=f"requirement file '{f}' lies outside the copied context")
        seen.append(f)
        text = files.read(f)
        if text is None:
            if files.context is not None:
                return DepInstall(a, label, "move", blocker=f"requirement file '{f}' is not in the build context")
            review = True
            detail = "No build context was given, so nested requirement files could not be checked."
            continue
        base = posixpath.dirname(f)
        for raw in text.splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            included = a.manager.manifest_line(line)  # type: ignore[union-attr]
            if included is not None:
                queue.append(posixpath.normpath(posixpath.join(base, included)))
                continue
            if a.manager.editable_line(line):  # type: ignore[union-attr]
                return DepInstall(a, label, "move", blocker=f"'{f}' installs a local project in editable mode, which needs the source")
            spec = line.split(";", 1)[0].strip()
            if local_spec(spec) or " @ file:" in line:
                return DepInstall(a, label, "move", blocker=f"'{f}' installs '{spec}' from the build context, which needs the source")
    return DepInstall(a, label, "move", tuple(seen), review=review, detail=detail, bind_ok=True)


# --------------------------------------------------------------------------- layers


def source_free(a: Action, copied: str | None, home: str | None = None) -> bool:
    """``a`` cannot read the application source, so it may run before the copy into ``copied`` (absolute; None: unknown)."""
    key = ("source_free", copied, home)  # it reads the command and these two, never the env or the user
    got = a.derived.get(key)
    if got is None:
        got = a.derived[key] = _source_free(a, copied, home)
    return got


def _source_free(a: Action, copied: str | None, home: str | None) -> bool:
    spec = _data()["source_free"]
    name = a.command.name
    words = [w.value for w in a.command.effective()[1:]]
    if name in spec["tools"]:
        return True
    if words[:1] == ["config"]:
        return True  # "<tool> config ..." only writes the tool's own settings
    if name in spec["fs_outside"]:
        for w in a.command.effective()[1:]:
            v = w.pattern
            if v is None:
                return False
            if v.startswith("-"):
                continue
            if v.startswith("~"):
                if home is None:
                    return False
                v = home + v[1:]
            p = v if v.startswith("/") else (posixpath.join(a.cwd, v) if a.cwd else None)
            if p is None or copied is None:
                return False
            p = posixpath.normpath(p)
            c = copied.rstrip("/") or "/"
            if c == "/" or p == c or p.startswith(c + "/") or c.startswith(p.rstrip("/") + "/"):
                return False
        return True
    m = a.manager
    if m is None:
        return False
    if m.ecosystem in spec["system_ecosystems"]:
        return True
    if catalog().is_cache_clean(a.command, m):
        return True
    if a.verb in spec["manager_verbs"]:
        return True
    if a.verb in spec["named_install_verbs"] and a.packages and not a.manifests:
        return not any(local_spec(p) for p in a.packages)
    return False


def _package_name(spec: str) -> str:
    """``uv==0.4.0`` -> ``uv``; ``pnpm@9.1.0`` -> ``pnpm``; ``@scope/x@1`` -> ``@scope/x``."""
    if spec.startswith("@"):
        head, _, _ = spec[1:].partition("@")
        return "@" + head
    return re.split(r"[=<>!~\[@;\s]", spec, maxsplit=1)[0].lower()


def pinned(spec: str) -> bool:
    return bool(re.search(r"==|@\d|@v\d|===", spec))


@dataclass(frozen=True)
class ToolInstall:
    action: Action
    names: tuple[str, ...]  # the tools, as written (``uv==0.4.0``)
    pinned: bool  # every tool names an exact version


def tool_install(a: Action) -> ToolInstall | None:
    """``a`` installs package-manager tools (``pip install uv==0.4``, ``npm i -g pnpm@9``, ``corepack enable``)."""
    spec = _data()["tools_layer"]
    if a.tool in spec["tools"]:
        words = [w for w in (w.value for w in a.command.effective()[1:]) if w and not w.startswith("-")]
        named = tuple(words[1:])
        return ToolInstall(a, (a.tool, *named), all(pinned(w) or "@" in w for w in named) if named else True)
    m = a.manager
    if m is None or not a.packages:
        return None
    wanted = set(spec["packages"].get(a.ecosystem, ()))
    if a.verb == "global" or (a.verb in ("install", "add") and not a.manifests):
        names = [_package_name(p) for p in a.packages]
        if all(n in wanted for n in names):
            return ToolInstall(a, a.packages, all(pinned(p) for p in a.packages))
    return None


__all__ = ["ContextView", "DepInstall", "ToolInstall", "install_rule", "is_prefetch", "local_spec",
           "read_install", "source_free", "tool_install"]


def keeps_shell_state(a: Action) -> bool:
    """``cd``, ``export``, ``set``...: the command changes what later commands of its script see."""
    return a.command.name in _data()["source_free"]["shell_state"] or (not a.command.argv and bool(a.command.assignments))

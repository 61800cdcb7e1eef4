"""What each RUN does: one catalog-driven classifier for every pass.

A RUN's script (shell form, ``RUN <<EOF`` sh/bash bodies, exec form) becomes a
tuple of :class:`Action`, one per simple command: the tool (a package manager
of ``package_managers.json`` or a command of ``tools.json``), the verb
(install, ci, sync, add, build, publish, global, run, fs, ...), the folder it
runs in, the project folder it works on, the packages it names, the manifests
it reads, where it writes (:class:`Write`), whether it needs the network or a
C toolchain, the variables and the user in effect.

Nothing here knows a package manager by name: verbs, write locations,
manifests and flags are data in the catalogs.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from dockeropt.catalog import Invocation, catalog
from dockeropt.catalog.packages import INSTALL_VERBS, Manager, WriteRule, kept
from dockeropt.model.mounts import Mount, mounts_of
from dockeropt.model.users import ROOT, User
from dockeropt.model.values import Env, Var, expand, join_path
from dockeropt.shell import Command, RunScript, Script, analysis_script, run_script
from dockeropt.syntax import Instruction

_USER_SWITCH = "runs.user_switch"  # Action.derived: _user_switch of its command




@dataclass(frozen=True, slots=True)
class Write:
    """Where a command puts its output."""

    kind: str  # project | system | prefix | home | venv | path | fs
    path: str | None  # absolute and normalised when known
    what: str


@dataclass(frozen=True)
class Action:
    """One command of a RUN, classified."""

    index: int  # index into the script's commands
    command: Command
    tool: str  # catalog id: a manager ("npm", "pip", "apt") or a tool ("mkdir", "corepack", "useradd")
    ecosystem: str  # "node", "python", "deb", "go", ... ; "system" for tools
    verb: str  # install | ci | sync | add | upgrade | remove | global | build | publish | run | fetch | update-index | ... | unknown
    cwd: str | None  # the folder it runs in (absolute; None: unknown)
    project: str | None  # the project folder it works on (cwd, or a --prefix/--cwd flag)
    packages: tuple[str, ...]  # packages named on the command line
    manifests: tuple[str, ...]  # manifest and lock files it reads (absolute; patterns kept)
    writes: tuple[Write, ...]
    network: bool
    compiles: bool | None  # needs a C/C++ toolchain: True, False, or None (depends on the packages)
    invocation: Invocation | None
    env: Env  # variables in effect for this command
    user: User  # who runs it (sudo: root)
    flags: tuple[str, ...] = ()  # literal option words as written
    local_env: tuple[tuple[str, str | None], ...] = ()  # what the script itself set before it (exports, A=b prefixes)
    # facts derived from the content only (not env or user), computed on first use; the copies ``rebased``
    # makes share it, so a classification reused across rounds keeps them (see dockeropt.model.deps)
    derived: dict[object, Any] = field(default_factory=dict, compare=False, repr=False)

    def rebased(self, env: Env, user: User, instruction: int) -> Action:
        """The same action in another state with the same content (the model reuses classifications across
        rounds; instruction indexes in ``env`` must be the current ones)."""
        if self.local_env:
            local = dict(self.local_env)
            cmd_env = env.with_vars({k: Var(v, "script") for k, v in local.items() if k != "?"},
                                    unreadable=instruction if "?" in local else None)
        else:
            cmd_env = env
        switch = self.derived.get(_USER_SWITCH)
        if switch is None:
            switch = self.derived[_USER_SWITCH] = _user_switch(self.command)
        # dataclasses.replace re-runs __init__ over every field; this is a hot path (every RUN, every round)
        new = object.__new__(Action)
        d = new.__dict__
        d.update(self.__dict__)
        d["env"] = cmd_env
        d["user"] = _switched_user(switch, user)
        return new

    @property
    def installs(self) -> bool:
        return self.verb in INSTALL_VERBS

    @kept
    def manager(self) -> Manager | None:  # read by every pass, for every action: kept after the first time
        return self.invocation.manager if self.invocation is not None else None

    def has_flag(self, *names: str) -> bool:
        return any(f == n or f.startswith(n + "=") for f in self.flags for n in names)

    def flag_value(self, *names: str) -> str | None:
        return _flag_value(self.command, names)


@dataclass(frozen=True)
class RunFacts:
    """Everything dockeropt knows about one RUN."""

    instruction: Instruction
    script: Script | None  # what it executes (read only; None: not understood)
    editable: RunScript | None  # shell-form script without heredocs that passes may edit
    mounts: tuple[Mount, ...]
    actions: tuple[Action, ...]
    unknown: tuple[Command, ...] = ()  # commands neither catalog knows
    exec_form: bool = False

    @property
    def understood(self) -> bool:
        """The script was read and every command in it is known."""
        return self.script is not None and self.script.ok and not self.unknown

    def by_tool(self, *tools: str) -> list[Action]:
        return [a for a in self.actions if a.tool in tools]

    def by_verb(self, *verbs: str) -> list[Action]:
        return [a for a in self.actions if a.verb in verbs]

    def by_ecosystem(self, *ecosystems: str) -> list[Action]:
        return [a for a in self.actions if a.ecosystem in ecosystems]

    @property
    def installs(self) -> list[Action]:
        return [a for a in self.actions if a.installs]

    def cache_mounts(self) -> list[Mount]:
        return [m for m in self.mounts if m.type == "cache"]


# --------------------------------------------------------------------------- tools catalog


@dataclass(frozen=True)
class Tool:
    id: str
    names: frozenset[str]
    then: tuple[str, ...]
    verb: str
    network: bool
    compiles: bool
    subcommands: Mapping[str, str]
    writes: Mapping[str, Mapping[str, str]]
    network_verbs: frozenset[str]
    changes_with: frozenset[str] = frozenset()  # words that make it change the folders it works on (find -delete)


@cache
def _tools_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("dockeropt.catalog").joinpath("tools.json").read_text(encoding="utf-8"))
    return data


@cache
def _user_switchers() -> tuple[frozenset[str], frozenset[str]]:
    """(commands that run the rest as root unless told otherwise, commands that run it as a named user): tools.json."""
    d = _tools_data()["user_switchers"]
    return frozenset(d["to_root"]), frozenset(d["to_named"])


@cache
def _tools() -> tuple[Tool, ...]:
    data = _tools_data()
    out = []
    for t in data["tools"]:
        names = frozenset(t["names"])
        out.append(Tool(
            id=t.get("id", ""),
            names=names, then=tuple(t.get("then", ())), verb=t["verb"], network=bool(t.get("network")),
            compiles=bool(t.get("compiles")), subcommands=dict(t.get("subcommands", {})),
            writes={k: dict(v) for k, v in t.get("writes", {}).items()}, network_verbs=frozenset(t.get("network_verbs", ())),
            changes_with=frozenset(t.get("changes_with", ())),
        ))
    # tools with "then" words first: python -m venv before a plain python entry
    return tuple(sorted(out, key=lambda t: -len(t.then)))


def match_tool(cmd: Command) -> Tool | None:
    eff = cmd.effective()
    if not eff or eff[0].value is None:
        return None
    name = cmd.name  # posixpath.basename(eff[0].value)
    full = eff[0].value
    by_name = _tools_by_name()
    found = by_name.get(name, ())  # type: ignore[arg-type]
    if full != name:
        found = tuple(sorted(set(found) | set(by_name.get(full, ()))))
    tools = _tools()
    for i in found:  # the tools called that, in catalog order
        t = tools[i]
        if t.then and [w.value for w in eff[1 : 1 + len(t.then)]] != list(t.then):
            continue
        return t
    return None


@cache
def _tools_by_name() -> dict[str, tuple[int, ...]]:
    """Each name a tool is called by -> the positions in ``_tools()`` of the tools called that."""
    out: dict[str, list[int]] = {}
    for i, t in enumerate(_tools()):
        for n in t.names:
            out.setdefault(n, []).append(i)
    return {k: tuple(v) for k, v in out.items()}


# --------------------------------------------------------------------------- classification


def command_user(cmd: Command, user: User) -> User:
    """Who ``cmd`` runs as: ``sudo cmd`` is root unless ``-u`` names someone else."""
    return _switched_user(_user_switch(cmd), user)


def _user_switch(cmd: Command) -> int:
    """How ``cmd`` changes the user it runs as (a fact of its words alone): 0 not at all, 1 to a named user
    (not known), 2 to root."""
    first = cmd.argv[0].value if cmd.argv else None
    to_root, to_named = _user_switchers()
    name = first[first.rfind("/") + 1 :] if first is not None else None  # posixpath.basename
    if name is None or (name not in to_root and name not in to_named):
        return 0
    words = [w.value for w in cmd.argv]
    if "-u" in words or "--user" in words or name in to_named:
        return 1
    return 2


def _switched_user(switch: int, user: User) -> User:
    if switch == 0:
        return user
    if switch == 1:
        return User(None, None, None, None, None)
    return ROOT


def _positionals(m: Manager, rest: tuple[Any, ...]) -> list[str | None]:
    out: list[str | None] = []
    skip = False
    for w in rest:
        v = w.value
        if skip:
            skip = False
            continue
        if v is None:
            out.append(None)
            continue
        if v.startswith("-") and v != "-":
            if v in m.flags_with_value and "=" not in v:
                skip = True
            continue
        out.append(v)
    return out


def _manifests(inv: Invocation, project: str | None, cwd: str | None) -> tuple[str, ...]:
    m = inv.manager
    out: list[str] = []
    if m.manifest_flags:  # pip, uv pip: the files named on the command line, and a local project's manifests
        words = [w.value for w in inv.command.effective()]
        dashed = _all_dashed(m.manifest_flags)
        for i, w in enumerate(words):
            if w is None or (dashed and not w.startswith("-")):
                continue  # (a word without a dash is neither a manifest flag nor one with its value attached)
            val = None
            if w in m.manifest_flags and i + 1 < len(words):
                val = words[i + 1]
            else:
                val = m.manifest_flag_value(w)
            if val:
                p = join_path(cwd, val)
                if p:
                    out.append(p)
        pos = _positionals(m, inv.rest)
        for p in pos:
            if p is not None and (p in (".", "./") or p.startswith(("./", "/"))):
                q = join_path(cwd, p)
                if q:
                    out.extend(posixpath.join(q, f) for f in m.manifests if f != "requirements.txt")
        return tuple(dict.fromkeys(out))
    if project is None:
        return ()
    return _project_files(m.manifests, m.lockfiles, project)


@lru_cache(maxsize=256)
def _all_dashed(flags: tuple[str, ...]) -> bool:
    return all(f.startswith("-") for f in flags)


@lru_cache(maxsize=4096)
def _project_files(manifests: tuple[str, ...], lockfiles: tuple[str, ...], project: str) -> tuple[str, ...]:
    """A manager's manifests and lockfiles in ``project`` (memoised: the same few folders, every command)."""
    return tuple(dict.fromkeys(posixpath.normpath(posixpath.join(project, f)) for f in (*manifests, *lockfiles)))


def _rule_applies(rule: WriteRule, inv: Invocation, verb: str, env: Env, venv: str | None) -> bool | None:
    """True/False; None when an env condition depends on an unknown value."""
    if verb not in rule.verbs:
        return False
    if rule.flags and not inv.has_flag(*rule.flags):
        return False
    if rule.flag_path and not inv.has_flag(*rule.flag_path):
        return False
    if rule.venv and venv is None:
        return False
    for name, rx in rule.env:
        v = env.value(name)
        if v is None:
            return None
        if not re.match(rx, v):
            return False
    return True


def _writes(
    inv: Invocation, verb: str, project: str | None, env: Env, home: str | None, venv: str | None,
    go_binary: Callable[[str | None], str | None],
) -> tuple[str, tuple[Write, ...]]:
    out: list[Write] = []
    new_verb = verb
    for rule in inv.manager.writes:
        ok = _rule_applies(rule, inv, verb, env, venv)
        if ok is False:
            continue
        if rule.as_verb:
            new_verb = rule.as_verb
        path: str | None
        if ok is None:
            path = None
        elif rule.flag_path:
            val = _flag_value(inv.command, rule.flag_path)
            path = join_path(project, val) if val else None
        elif rule.positional is not None:
            pos = _positionals(inv.manager, inv.rest)
            val = pos[rule.positional] if pos and -len(pos) <= rule.positional < len(pos) else None
            path = join_path(project, val) if val else None
        elif rule.path == "{venv}":
            path = venv
        elif rule.path == "{site}":
            path = None
        elif rule.path == "{go_binary}":
            name = go_binary(project)
            path = join_path(project, name) if name and project else None
        elif rule.path is not None:
            p = expand(rule.path, env, home, tilde=True)
            path = None if not p else (join_path(project, p) if rule.kind == "project" else (posixpath.normpath(p) if p.startswith("/") else None))
        else:
            path = None
        out.append(Write(rule.kind, path, rule.what))
        if not rule.go_on:
            break
    return new_verb, tuple(out)


def _flag_value(command: Command, names: tuple[str, ...]) -> str | None:
    """The value of the first of ``names`` on ``command``: ``-r x``, ``--flag x``, ``--flag=x`` (and
    ``-name=x`` for single-dash names longer than one letter)."""
    words = [w.value for w in command.effective()]
    for i, w in enumerate(words):
        if w is None:
            continue
        for n in names:
            if w == n and i + 1 < len(words):
                return words[i + 1]
            if w.startswith(n + "=") and (n.startswith("--") or len(n) > 2):
                return w[len(n) + 1 :]
    return None


def _offline(inv: Invocation, env: Env) -> bool:
    m = inv.manager
    if m.offline_flags and inv.has_flag(*m.offline_flags):
        return True
    for k, v in m.offline_env.items():
        val = env.value(k)
        if val and v in val:
            return True
    return False


def _redirect_writes(cmd: Command, cwd: str | None) -> tuple[Write, ...]:
    """The files ``cmd``'s output redirections write (``Command.writes_to``), resolved against ``cwd``."""
    return tuple(Write("fs", join_path(cwd, t) if t is not None else None, "a file a redirect writes") for t in cmd.writes_to)


def _searched_folders(cmd: Command, cwd: str | None) -> tuple[Write, ...]:
    """The folders ``find … -delete`` / ``-exec`` changes: the operands before its first expression word (``-name``,
    ``(``, ``!``), or the working folder when there is none."""
    out: list[Write] = []
    for w in cmd.effective()[1:]:
        v = w.value if w.value is not None else w.pattern
        if v is not None and (v.startswith("-") or v in ("(", "!", ")")):
            break
        out.append(Write("fs", join_path(cwd, v) if v is not None else None, "a folder find changes files in"))
    return tuple(out) or (Write("fs", cwd, "a folder find changes files in"),)


def _fs_writes(cmd: Command, cwd: str | None, verb: str) -> tuple[Write, ...]:
    out: list[Write] = []
    args = cmd.effective()[1:]
    skip_first = verb in ("chown", "chmod")
    for w in args:
        v = w.value if w.value is not None else w.pattern
        if v is None:
            out.append(Write("fs", None, "a path dockeropt cannot read"))
            continue
        if v.startswith("-"):
            continue
        if skip_first:
            skip_first = False
            continue
        p = join_path(cwd, v)
        out.append(Write("fs", p, "named on the command line"))
    return tuple(out)


@dataclass
class _Context:
    """What the classifier needs from outside the RUN."""

    has_file: Callable[[str], bool | None] | None = None
    go_binary: Callable[[str | None], str | None] = lambda project: None
    venvs: set[str] = field(default_factory=set)  # virtualenvs created so far in the stage chain


def active_venv(env: Env, venvs: set[str]) -> str | None:
    """The virtualenv a ``pip`` of this env installs into: ``$VIRTUAL_ENV``, or a created venv whose bin/ leads PATH."""
    v = env.value("VIRTUAL_ENV")
    if v:
        return posixpath.normpath(v)
    path = env.value("PATH")
    if not path:
        return None
    for entry in path.split(":"):
        entry = posixpath.normpath(entry) if entry else entry
        if entry.endswith("/bin") and posixpath.dirname(entry) in venvs:
            return posixpath.dirname(entry)
        if entry in ("/usr/local/bin", "/usr/bin", "/bin"):
            return None  # the system interpreter comes first
    return None


class _Words:
    """What ``classify_run`` reads of a command that depends on its words alone, kept in ``Command.facts`` (plain
    commands repeated across RUN lines are one object, see dockeropt.shell._PLAIN_GROUPS)."""

    __slots__ = ("user_switch", "flags", "found", "pick", "tool")

    def __init__(self, cmd: Command) -> None:
        self.user_switch = _user_switch(cmd)
        self.flags = tuple([w.value for w in cmd.effective()[1:] if w.value is not None and w.value.startswith("-")])
        # Catalog.match without its last step, which may ask the build context (yarn classic or berry): needed
        # only when two variants of one manager match
        found = catalog().match_candidates(cmd)
        self.found: list[Invocation] = found
        self.pick = len(found) > 1 and len({i.manager.variant_of or i.manager.id for i in found}) != len(found)
        self.tool = match_tool(cmd) if not found else None


def _words(cmd: Command) -> _Words:
    got = cmd.facts
    if not isinstance(got, _Words):
        got = _Words(cmd)
        object.__setattr__(cmd, "facts", got)
    return got


class _Shape:
    """What ``classify_run`` reads of one command of a script that depends on the script alone (not on the state
    or the build context), kept in ``Script.derived``."""

    __slots__ = ("lenv", "script_vars", "unreadable", "user_switch", "flags", "found", "pick", "tool")

    def __init__(self, script: Script, idx: int, cmd: Command) -> None:
        local = script.env_before(idx)
        self.lenv: tuple[tuple[str, str | None], ...] = tuple(local.items())
        self.script_vars = {k: Var(v, "script") for k, v in local.items() if k != "?"}
        self.unreadable = "?" in local
        w = _words(cmd)
        self.user_switch = w.user_switch
        self.flags = w.flags
        self.found = w.found
        self.pick = w.pick
        self.tool = w.tool


def _shapes(script: Script) -> tuple[_Shape, ...]:
    got = script.derived.get(_SHAPES)
    if got is None:
        got = script.derived[_SHAPES] = tuple(_Shape(script, i, c) for i, c in enumerate(script.commands))
    return got  # type: ignore[no-any-return]


_SHAPES = "runs.shapes"


def _action(
    index: int, command: Command, tool: str, ecosystem: str, verb: str, cwd: str | None, project: str | None,
    packages: tuple[str, ...], manifests: tuple[str, ...], writes: tuple[Write, ...], network: bool,
    compiles: bool | None, invocation: Invocation | None, env: Env, user: User, flags: tuple[str, ...],
    local_env: tuple[tuple[str, str | None], ...], derived: dict[object, Any],
) -> Action:
    """``Action(...)`` with every field given, without its frozen __init__ (one object.__setattr__ per field:
    2.9 against 1.0 us); the same object, field for field."""
    a = _new_object(Action)
    a.__dict__.update(
        index=index, command=command, tool=tool, ecosystem=ecosystem, verb=verb, cwd=cwd, project=project,
        packages=packages, manifests=manifests, writes=writes, network=network, compiles=compiles,
        invocation=invocation, env=env, user=user, flags=flags, local_env=local_env, derived=derived,
    )
    return a


_new_object = object.__new__


def classify_run(ins: Instruction, doc_text: str, env: Env, user: User, workdir: str | None, cx: _Context) -> RunFacts:
    """The facts of one RUN given the state it runs in."""
    script = analysis_script(ins, doc_text)
    rs = run_script(ins)
    editable = rs if rs is not None and rs.script.ok and not ins.heredocs else None
    mounts = mounts_of(ins)
    if script is None or not script.ok:
        return RunFacts(ins, script, editable, mounts, (), (), ins.json)
    actions: list[Action] = []
    unknown: list[Command] = []
    for idx, (cmd, sh) in enumerate(zip(script.commands, _shapes(script))):
        lenv = sh.lenv
        cmd_env = env.with_vars(sh.script_vars, unreadable=ins.index if sh.unreadable else None) if lenv else env
        cwd = workdir if cmd.cwd is None else (None if cmd.cwd == "?" else join_path(workdir, cmd.cwd))
        who = _switched_user(sh.user_switch, user)
        home = cmd_env.value("HOME") if "HOME" in cmd_env else who.home
        flags = sh.flags
        found = sh.found
        invs = catalog().pick_variants(found, cx.has_file) if sh.pick else found
        if invs:
            inv = invs[0]
            m = inv.manager
            verb = m.verb(inv.subcommand) or ("unknown" if inv.subcommand is None else "other")
            project = cwd
            if m.project_flags:
                pv = _flag_value(inv.command, m.project_flags)
                if pv:
                    project = join_path(cwd, pv)
            venv = active_venv(cmd_env, cx.venvs)
            verb, writes = _writes(inv, verb, project, cmd_env, home, venv, cx.go_binary)
            writes += _redirect_writes(cmd, cwd)
            pkgs = tuple(p for p in _positionals(m, inv.rest) if p is not None) if verb in ("install", "add", "global", "upgrade", "remove") else ()
            if m.installs_paths:  # pip install . installs the project there, not a package by name
                pkgs = tuple(p for p in pkgs if not p.startswith((".", "/")))
            network = inv.downloads and not _offline(inv, cmd_env)
            compiles: bool | None = None if inv.installs else False
            if m.source_build_flags and inv.has_flag(*m.source_build_flags):
                compiles = True
            actions.append(_action(idx, cmd, m.id, m.ecosystem, verb, cwd, project, pkgs, _manifests(inv, project, cwd),
                                  writes, network, compiles, inv, cmd_env, who, flags, lenv, {_USER_SWITCH: sh.user_switch}))
            if verb == "venv":
                for w in writes:
                    if w.path:
                        cx.venvs.add(w.path)
            continue
        tool = sh.tool
        if tool is None:
            unknown.append(cmd)
            actions.append(_action(idx, cmd, cmd.name or "?", "unknown", "unknown", cwd, cwd, (), (), (), False, None, None, cmd_env, who, flags, lenv, {_USER_SWITCH: sh.user_switch}))
            continue
        verb = tool.verb
        writes: tuple[Write, ...] = ()
        if tool.changes_with and any(w.value in tool.changes_with for w in cmd.effective()[1:]):
            verb, writes = "fs", _searched_folders(cmd, cwd)
        elif tool.subcommands or tool.writes.get(tool.verb):
            if tool.subcommands:
                sub = next((w.value for w in cmd.effective()[1 + len(tool.then):]
                            if w.value and not w.value.startswith("-")), None)
                verb = tool.subcommands.get(sub or "", tool.verb)
            spec = tool.writes.get(verb)
            if spec:
                named = _flag_value(cmd, tuple(spec.get("flag_path", ())))
                if named:
                    p = join_path(cwd, named)
                    writes = (Write("path", p, spec["what"]),)
                else:
                    p = expand(spec["path"], cmd_env, home, tilde=True)
                    writes = (Write(spec["kind"], posixpath.normpath(p) if p and p.startswith("/") else None, spec["what"]),)
        elif verb in ("fs", "chown", "chmod"):
            writes = _fs_writes(cmd, cwd, verb)
        elif verb == "venv":
            pos = [w.value for w in cmd.effective()[1 + len(tool.then):] if w.value is None or not w.value.startswith("-")]
            target = pos[-1] if pos else None
            p = join_path(cwd, target) if target else None
            writes = (Write("venv", p, "a virtualenv"),)
            if p:
                cx.venvs.add(p)
        network = tool.network or verb in tool.network_verbs
        redirected = _redirect_writes(cmd, cwd)
        if redirected:
            writes += redirected
            if verb == "noop":
                verb = "fs"  # ``echo x > config.json`` creates the file it redirects to
        actions.append(_action(idx, cmd, tool.id or (cmd.name or "?"), "system", verb, cwd, cwd, (), (), writes, network,
                              True if tool.compiles else False, None, cmd_env, who, flags, lenv, {_USER_SWITCH: sh.user_switch}))
    return RunFacts(ins, script, editable, mounts, tuple(actions), tuple(unknown), ins.json)

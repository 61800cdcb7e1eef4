"""Typed loader for ``package_managers.json``: how to recognise package-manager
commands, which of them download, where their caches live for the HOME and
environment in effect, what disables or cleans those caches, and their lockfiles.

The knowledge lives in the JSON file; this module only interprets it.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

from dockeropt.shell import Command, Word

_DATA = Path(__file__).resolve().parent / "package_managers.json"

# env value None = set, but to something dockeropt cannot know (an expansion)
Env = Mapping[str, "str | None"]


_T = TypeVar("_T")


class kept(Generic[_T]):  # noqa: N801 - used as a decorator, like functools.cached_property
    """``functools.cached_property`` without the lock Python 3.11 takes on every first read (a race only computes
    the same value twice). For facts of frozen catalog objects read on hot paths."""

    def __init__(self, f: Callable[[Any], _T]) -> None:
        self.f = f
        self.name = f.__name__
        self.__doc__ = f.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, cls: type | None = None) -> kept[_T]: ...
    @overload
    def __get__(self, obj: object, cls: type | None = None) -> _T: ...

    def __get__(self, obj: object | None, cls: type | None = None) -> _T | kept[_T]:
        if obj is None:
            return self
        v = obj.__dict__[self.name] = self.f(obj)
        return v


@dataclass(frozen=True)
class CacheDir:
    template: str
    sharing: str  # "shared" | "locked" | "private"
    what: str
    fallback: str | None = None  # template used when ``template`` expands to ""
    root_path: str | None = None  # template used instead when the command runs as root

    def resolve(self, env: Env, home: str | None, root: bool | None = None) -> str | None:
        """The absolute cache folder, or None when it depends on something unknown.

        ``root``: the command runs as root (None: decide from ``home == "/root"``).
        """
        if root is None:
            root = home == "/root"
        path = expand_path(self.root_path if (root and self.root_path) else self.template, env, home)
        if path == "" and self.fallback is not None:
            path = expand_path(self.fallback, env, home)
        if not path or not path.startswith("/"):
            return None
        return posixpath.normpath(path)


@dataclass(frozen=True)
class Program:
    name: str | None
    name_regex: str | None
    then: tuple[str, ...]

    def matches_name(self, name: str) -> bool:
        if self.name is not None:
            return name == self.name
        return self.name_regex is not None and re.match(self.name_regex, name) is not None


@cache
def _manifest_line_regex(flags: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"^(" + "|".join(re.escape(f) for f in flags) + r")[\s=]*(\S+)")


INSTALL_VERBS = frozenset({"install", "ci", "sync", "add", "upgrade", "global"})


@dataclass(frozen=True)
class WriteRule:
    """Where one verb of a manager puts its output (see the catalog's notes on ``writes``)."""

    verbs: frozenset[str]
    kind: str  # project | system | prefix | home | venv | path
    path: str | None  # template; None with flag_path/positional
    what: str
    flags: tuple[str, ...] = ()  # the rule applies when one of these flags is present
    flag_path: tuple[str, ...] = ()  # the path is the value of one of these flags (which must be present)
    positional: int | None = None  # the path is this positional argument (after the subcommand)
    env: tuple[tuple[str, str], ...] = ()  # (variable, regex) that must all match
    venv: bool = False  # the rule applies only when a virtualenv is active
    as_verb: str | None = None  # the verb is reported as this instead (npm install -g -> global)
    go_on: bool = False  # also try the next rule

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WriteRule:
        return cls(
            verbs=frozenset(d.get("verbs", ())), kind=d["kind"], path=d.get("path"), what=d.get("what", ""),
            flags=tuple(d.get("flags", ())), flag_path=tuple(d.get("flag_path", ())), positional=d.get("positional"),
            env=tuple(sorted(d.get("env", {}).items())), venv=bool(d.get("venv", False)), as_verb=d.get("as_verb"),
            go_on=bool(d.get("continue", False)),
        )


@dataclass(frozen=True)
class Manager:
    id: str
    label: str
    ecosystem: str
    programs: tuple[Program, ...]
    flags_with_value: frozenset[str]
    downloads: frozenset[str]  # "*" = every invocation, "" = the bare command
    installs: frozenset[str]  # subcommands whose verb installs packages (derived from ``verbs``)
    verbs: Mapping[str, str]  # subcommand -> verb kind ("*": any other subcommand)
    writes: tuple[WriteRule, ...]
    project_flags: tuple[str, ...]  # flags whose value is the project folder (npm --prefix, yarn --cwd)
    index_update: frozenset[str]
    subcommand_words: Mapping[str, int]
    caches: tuple[CacheDir, ...]
    cache_env: tuple[str, ...]
    cache_disable_env: tuple[str, ...]
    cache_override_flags: tuple[str, ...]
    no_cache_flags: tuple[str, ...]
    cache_clean_commands: tuple[tuple[str, ...], ...]
    cache_clean_paths: tuple[str, ...]
    lockfiles: tuple[str, ...]
    manifests: tuple[str, ...]
    frozen_flags: tuple[str, ...]
    offline_flags: tuple[str, ...]
    offline_env: Mapping[str, str]
    mount: bool
    mount_note: str | None
    mount_note_always: str | None
    mount_setup: tuple[str, ...]
    shared_state: bool
    needs_root: bool
    variant_of: str | None
    variant_files: tuple[str, ...]
    variant_unless_files: tuple[str, ...]
    cache_ids: tuple[str, ...] = ()  # names an existing cache mount of this tool uses (id or a folder of its target)
    mount_env: tuple[tuple[str, str], ...] = ()  # variables the command gets with a cache mount (UV_LINK_MODE=copy)
    mount_env_note: str | None = None  # why (for the explanation)
    cache_moved_by_env: tuple[str, ...] = ()  # variables that move the cache somewhere dockeropt cannot tell
    mount_requires: tuple[tuple[str, str], ...] = ()  # (project file, regex) that must match before mounting
    https_packages: tuple[str, ...] = ()  # packages that reach https servers and get CA certificates only as a recommendation
    ca_package: str | None = None  # the package with the CA certificates
    hygiene: Mapping[str, Any] | None = None  # how the hygiene passes clean this manager's cache (clean command, folders)
    config_moves_cache: bool = False  # an earlier `<tool> config` may move the cache (bundle config set path)
    manifest_flags: tuple[str, ...] = ()  # flags whose value names a file of packages to install (pip -r, -c)
    requirement_flags: tuple[str, ...] = ()  # those of them that name the packages themselves (pip -r), not constraints
    install_line: str | None = None  # the command a new stage installs packages with ({packages}: the names)
    installs_paths: bool = False  # a positional path installs a local project (pip install .)
    editable_flags: tuple[str, ...] = ()  # flags that install a local project in editable mode (pip -e)
    source_build_flags: tuple[str, ...] = ()  # flags that build packages from source (pip --no-binary)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Manager:
        def t(key: str) -> tuple[str, ...]:
            return tuple(d.get(key, ()))

        return cls(
            id=d["id"],
            label=d.get("label", d["id"]),
            ecosystem=d.get("ecosystem", ""),
            programs=tuple(Program(p.get("name"), p.get("name_regex"), tuple(p.get("then", ()))) for p in d["programs"]),
            flags_with_value=frozenset(d.get("flags_with_value", ())),
            downloads=frozenset(d.get("downloads", ())),
            installs=frozenset(sub for kind, subs in d.get("verbs", {}).items() if kind in INSTALL_VERBS for sub in subs),
            verbs={sub: kind for kind, subs in d.get("verbs", {}).items() for sub in subs},
            writes=tuple(WriteRule.from_json(w) for w in d.get("writes", ())),
            project_flags=t("project_flags"),
            index_update=frozenset(d.get("index_update", ())),
            subcommand_words=dict(d.get("subcommand_words", {})),
            caches=tuple(
                CacheDir(c["path"], c.get("sharing", "shared"), c.get("what", ""), c.get("fallback"), c.get("root_path")) for c in d.get("caches", ())
            ),
            cache_env=t("cache_env"),
            cache_disable_env=t("cache_disable_env"),
            cache_override_flags=t("cache_override_flags"),
            no_cache_flags=t("no_cache_flags"),
            cache_clean_commands=tuple(tuple(c) for c in d.get("cache_clean_commands", ())),
            cache_clean_paths=t("cache_clean_paths"),
            lockfiles=t("lockfiles"),
            manifests=t("manifests"),
            frozen_flags=t("frozen_flags"),
            offline_flags=t("offline_flags"),
            offline_env=dict(d.get("offline_env", {})),
            mount=bool(d.get("mount", False)),
            mount_note=d.get("mount_note"),
            mount_note_always=d.get("mount_note_always"),
            mount_setup=t("mount_setup"),
            shared_state=bool(d.get("shared_state", False)),
            needs_root=bool(d.get("needs_root", False)),
            variant_of=d.get("variant_of"),
            variant_files=t("variant_files"),
            variant_unless_files=t("variant_unless_files"),
            cache_ids=t("cache_ids"),
            mount_env=tuple(sorted(d.get("mount_env", {}).items())),
            mount_env_note=d.get("mount_env_note"),
            cache_moved_by_env=t("cache_moved_by_env"),
            mount_requires=tuple(sorted(d.get("mount_requires", {}).items())),
            config_moves_cache=bool(d.get("config_moves_cache", False)),
            https_packages=t("https_packages"),
            ca_package=d.get("ca_package"),
            hygiene=d.get("hygiene"),
            manifest_flags=tuple(f for kind in ("requirements", "constraints") for f in d.get("manifest_flags", {}).get(kind, ())),
            requirement_flags=tuple(d.get("manifest_flags", {}).get("requirements", ())),
            install_line=d.get("install_line"),
            installs_paths=bool(d.get("installs_paths", False)),
            editable_flags=t("editable_flags"),
            source_build_flags=t("source_build_flags"),
        )

    def install_command(self, packages: Sequence[str]) -> str:
        """The command that installs ``packages`` in a new stage (``install_line``); ValueError when there is none."""
        if self.install_line is None:
            raise ValueError(f"{self.id} has no install_line in package_managers.json")
        return self.install_line.format(packages=" ".join(packages))

    def manifest_flag_value(self, word: str) -> str | None:
        """The file named by ``word`` when it is a manifest flag with its value attached (``-rX``, ``--requirement=X``)."""
        for f in self.manifest_flags:
            if f.startswith("--"):
                if word.startswith(f + "=") and len(word) > len(f) + 1:
                    return word[len(f) + 1 :]
            elif len(f) == 2 and word.startswith(f) and len(word) > 2:
                return word[2:]
        return None

    def source_build_value(self, line: str) -> str | None:
        """The value of a source-build option on a line of a requirements file (``--no-binary pkg,other``), or None."""
        for f in self.source_build_flags:
            mt = re.match(rf"^{re.escape(f)}[\s=]+(\S+)", line)
            if mt:
                return mt.group(1)
        return None

    def editable_line(self, line: str) -> bool:
        """Does a line of a requirements file install a local project in editable mode (``-e .``)?"""
        return bool(self.editable_flags) and line.startswith(self.editable_flags)

    def manifest_line(self, line: str) -> str | None:
        """The file a line of a requirements file includes (``-r base.txt``, ``--constraint=c.txt``), or None."""
        mt = _manifest_line_regex(self.manifest_flags).match(line) if self.manifest_flags else None
        return mt.group(2) if mt else None

    def verb(self, subcommand: str | None) -> str | None:
        """The verb kind of ``subcommand`` ("" = the bare command); None when not known."""
        if subcommand is None:
            return None
        return self.verbs.get(subcommand, self.verbs.get("*"))

    def cache_dirs(self, env: Env, home: str | None) -> list[tuple[CacheDir, str | None]]:
        """Each cache folder with its absolute path for ``env``/``home`` (None: unknown)."""
        return [(c, c.resolve(env, home)) for c in self.caches]

    def cache_disabled_by_env(self, env: Env) -> str | None:
        for name in self.cache_disable_env:
            if name in env:
                return name
        return None


@dataclass(frozen=True)
class Invocation:
    """One command recognised as a package-manager call."""

    manager: Manager
    command: Command
    subcommand: str | None  # "" = bare command; None = not literal (an expansion)
    rest: tuple[Word, ...]  # words after the subcommand
    program_words: int  # how many words of the effective argv name the program

    @property
    def downloads(self) -> bool:
        if "*" in self.manager.downloads:
            return True
        return self.subcommand is not None and self.subcommand in self.manager.downloads

    @property
    def installs(self) -> bool:
        if "*" in self.manager.installs:
            return True
        return self.subcommand is not None and self.subcommand in self.manager.installs

    @property
    def verb(self) -> str | None:
        """What this call does (a verb kind of the catalog: install, ci, sync, build, run, ...); None: unknown."""
        return self.manager.verb(self.subcommand)

    @property
    def updates_index(self) -> bool:
        return self.subcommand is not None and self.subcommand in self.manager.index_update

    def has_flag(self, *flags: str) -> bool:
        """Does the command carry one of ``flags`` (``--flag`` or ``--flag=value``)?"""
        values, dashed = self._words
        for f in flags:
            if f in values:
                return True
            if f.startswith("--"):
                with_value = f + "="
                for v in dashed:
                    if v.startswith(with_value):
                        return True
            if f.startswith("-D"):
                for v in dashed:
                    if v.startswith(f):
                        return True
        return False

    @kept
    def _words(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The literal words of the command, and those of them that start with a dash (what has_flag reads)."""
        values = tuple(w.value for w in self.command.effective() if w.value is not None)
        return values, tuple(v for v in values if v.startswith("-"))

    def flag_words(self, *flags: str) -> list[Word]:
        out = []
        for w in self.command.effective():
            if w.value is not None and any(w.value == f or (f.startswith("--") and w.value.startswith(f + "=")) for f in flags):
                out.append(w)
        return out

    @property
    def subcommand_end(self) -> Word:
        """The last word of program + subcommand (insert flags after it)."""
        eff = self.command.effective()
        return eff[len(eff) - len(self.rest) - 1]


class Catalog:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.managers: tuple[Manager, ...] = tuple(Manager.from_json(m) for m in data["managers"])
        self.by_id: dict[str, Manager] = {m.id: m for m in self.managers}
        self._image_env = [(re.compile(e["image_regex"]), dict(e["env"])) for e in data.get("image_env", ())]
        self._image_users = [
            (re.compile(e["image_regex"]), dict(e.get("users", {})), e.get("default_user")) for e in data.get("image_users", ())
        ]
        self.root_default_images: frozenset[str] = frozenset(data.get("root_default_images", ()))
        self.install_env: re.Pattern[str] = re.compile(data.get("install_env_regex", "(?!)"))  # ENV names installs read
        self.system_ecosystems: frozenset[str] = frozenset(data.get("system_ecosystems", ()))  # deb, alpine, rpm
        self.runtime_stage_managers: frozenset[str] = frozenset(data.get("runtime_stage_managers", ()))  # apt, apk
        self._by_name: dict[str, tuple[Manager, ...]] = {}
        self._by_words: dict[tuple[object, ...], tuple[tuple[Manager, int], ...]] = {}

    def _programs(self, name: str, following: tuple[str | None, ...]) -> tuple[tuple[Manager, int], ...]:
        """(manager, words naming the program) for a command called ``name`` followed by ``following``
        (memoised: the words that can matter are the name and the two after it, as in ``python -m pip``)."""
        key = (name, following)
        got = self._by_words.get(key)
        if got is None:
            out: list[tuple[Manager, int]] = []
            for m in self._candidates(name):
                for p in m.programs:
                    if not p.matches_name(name):
                        continue
                    n = 1 + len(p.then)
                    if len(following) < len(p.then) or any(following[i] != w for i, w in enumerate(p.then)):
                        continue
                    out.append((m, n))
                    break
            got = tuple(out)
            if len(self._by_words) > 8192:
                self._by_words.clear()
            self._by_words[key] = got
        return got

    def _candidates(self, name: str) -> tuple[Manager, ...]:
        """Managers with a program that can be called ``name`` (memoised: match() is a hot path)."""
        got = self._by_name.get(name)
        if got is None:
            got = tuple(m for m in self.managers if any(p.matches_name(name) for p in m.programs))
            self._by_name[name] = got
        return got

    # ------------------------------------------------------------------ commands

    def match(self, cmd: Command, has_file: Callable[[str], bool | None] | None = None) -> list[Invocation]:
        """Package-manager invocations ``cmd`` is (usually zero or one).

        ``has_file(name)`` answers whether the build context holds a file (None:
        unknown); it picks variants such as yarn classic/berry. Without it, a
        variant with ``variant_unless_files`` (the default flavour) is chosen.
        """
        found = self.match_candidates(cmd)
        return _pick_variants(found, has_file) if found else found

    def pick_variants(self, found: list[Invocation], has_file: Callable[[str], bool | None] | None) -> list[Invocation]:
        """The last step of :meth:`match`: one variant of each manager among ``match_candidates``."""
        return _pick_variants(found, has_file)

    def match_candidates(self, cmd: Command) -> list[Invocation]:
        """What :meth:`match` chooses from: every invocation naming the program with the most words, variants
        of one manager (yarn classic and berry) side by side; it never asks the build context."""
        eff = cmd.effective()
        if not eff or eff[0].value is None:
            return []
        name: str = cmd.name  # type: ignore[assignment]  # posixpath.basename(eff[0].value), kept on the command
        found: list[Invocation] = []
        for m, n in self._programs(name, tuple([w.value for w in eff[1:3]])):
            sub, rest = _subcommand(m, eff[n:])
            found.append(Invocation(m, cmd, sub, rest, n))
        if len(found) < 2:
            return found
        longest = max(i.program_words for i in found)
        return [i for i in found if i.program_words == longest]

    def match_one(self, cmd: Command, has_file: Callable[[str], bool | None] | None = None) -> Invocation | None:
        found = self.match(cmd, has_file)
        return found[0] if len(found) == 1 else None

    def is_cache_clean(self, cmd: Command, manager: Manager) -> bool:
        """Is ``cmd`` one of ``manager``'s cache-cleaning commands (``npm cache clean --force``)?"""
        eff = cmd.effective()
        if not eff or eff[0].value is None or not manager.cache_clean_commands:
            return False
        name: str = cmd.name  # type: ignore[assignment]  # posixpath.basename of the first word
        positional = [name] if not name.startswith("-") else []
        positional += [w.value for w in eff[1:] if w.value is None or not w.value.startswith("-")]
        for pattern in manager.cache_clean_commands:
            if len(positional) >= len(pattern) and tuple(positional[: len(pattern)]) == pattern:
                return True
        return False

    # ------------------------------------------------------------------ images

    def image_env(self, image: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for rx, env in self._image_env:
            if rx.search(image):
                out.update(env)
        return out

    def image_users(self, image: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for rx, users, _ in self._image_users:
            if rx.search(image):
                out.update(users)
        return out

    def image_default_user(self, image: str) -> str | None:
        """``"root"`` for images known to run as root, a user name for known others, None = unknown."""
        for rx, _, default in self._image_users:
            if default and rx.search(image):
                return str(default)
        ref = image.split("@", 1)[0]
        # strip the tag (a colon after the last slash)
        slash = ref.rfind("/")
        colon = ref.rfind(":")
        if colon > slash:
            ref = ref[:colon]
        for prefix in ("docker.io/library/", "docker.io/", "library/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix) :]
        return "root" if ref in self.root_default_images else None


def _subcommand(m: Manager, words: Sequence[Word]) -> tuple[str | None, tuple[Word, ...]]:
    parts: list[str] = []
    want = 1
    i = 0
    while i < len(words) and len(parts) < want:
        v = words[i].value
        if v is None:
            if not parts:
                return None, tuple(words[i + 1 :])
            break
        if v.startswith("-") and v != "-":
            if v in m.flags_with_value and "=" not in v:
                i += 1
            i += 1
            continue
        parts.append(v)
        if len(parts) == 1:
            want = m.subcommand_words.get(v, 1)
        i += 1
    return " ".join(parts), tuple(words[i:])


def _pick_variants(found: list[Invocation], has_file: Callable[[str], bool | None] | None) -> list[Invocation]:
    groups: dict[str | None, list[Invocation]] = {}
    for inv in found:
        groups.setdefault(inv.manager.variant_of or inv.manager.id, []).append(inv)
    out: list[Invocation] = []
    for invs in groups.values():
        if len(invs) == 1:
            out.extend(invs)
            continue
        chosen = None
        for inv in invs:
            m = inv.manager
            if m.variant_files and has_file is not None and any(has_file(f) for f in m.variant_files):
                chosen = inv
                break
        if chosen is None:
            # the default flavour: the variant chosen unless its marker files exist
            defaults = [i for i in invs if i.manager.variant_unless_files]
            chosen = defaults[0] if defaults else None
        out.append(chosen or invs[0])
    return out


# --------------------------------------------------------------------------- path templates



def expand_path(template: str, env: Env, home: str | None) -> str | None:
    """Expand ``~``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+word}`` (nested) in a path template.

    ``env`` maps names to values; a name mapped to None is set to something
    unknown, and a missing name is unset. Returns None when the result depends
    on something unknown (an unknown variable or HOME). The expansion is the
    image model's one (:func:`dockeropt.model.values.expand`, with ``~``).
    """
    from dockeropt.model.values import expand  # the model imports this catalog: import on use

    return expand(template, env, home, tilde=True)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The package-manager catalog (loaded once)."""
    return Catalog(json.loads(_DATA.read_text(encoding="utf-8")))

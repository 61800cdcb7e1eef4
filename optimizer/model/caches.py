"""Package-manager caches: where a command keeps its downloads, and the cache mounts a RUN already has.

:func:`cache_folders` resolves a classified command's cache folders
(``package_managers.json`` ``caches``) for the user, HOME and variables in
effect for that command (``sudo`` included). :func:`tool_mount` finds an
existing ``--mount=type=cache`` that already belongs to the same tool: one
at, under or over one of its folders, or one whose id or target names the
tool (``id=m2``, ``/home/gradle/.gradle``), so a pass never adds an
overlapping or second mount. :func:`cache_clean` tells a command that only
empties a cache (``npm cache clean --force``, ``pip cache purge``,
``rm -rf ~/.cache/pip``).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from dockeropt.catalog import CacheDir, Manager, catalog
from dockeropt.model.mounts import Mount
from dockeropt.model.runs import Action
from dockeropt.model.users import ROOT, User
from dockeropt.shell import Command, Word


@dataclass(frozen=True)
class CacheFolder:
    manager: Manager
    dir: CacheDir
    path: str | None  # absolute and normalised; None: depends on something unknown


def cache_user(a: Action) -> User:
    """Who owns the cache: root for managers that need it, else the user the command runs as."""
    m = a.manager
    return ROOT if m is not None and m.needs_root else a.user


def cache_home(a: Action) -> str | None:
    m = a.manager
    if m is not None and m.needs_root:
        return "/root"
    hv = a.env.get("HOME")  # "HOME" in env, then its value: one lookup
    return hv.value if hv is not None else a.user.home


def env_values(a: Action, names: Sequence[str]) -> dict[str, str | None]:
    """The values of ``names`` in effect for ``a`` that are set (None: set to something unknown)."""
    e = a.env
    return {n: v.value for n in names if (v := e.get(n)) is not None}  # n in env, then its value: one lookup


_FOLDERS: dict[tuple[object, ...], tuple[CacheFolder, ...]] = {}


def cache_folders(a: Action) -> tuple[CacheFolder, ...]:
    """The cache folders of ``a``'s package manager for the variables and HOME in effect."""
    inv = a.invocation
    if inv is None:
        return ()
    m = inv.manager
    # cache_home, cache_user and env_values inline (every download command of every RUN, every round)
    e = a.env
    # the variables the catalog's cache templates read: {n: e.value(n) for n in names if n in e}, one lookup each
    env = {n: v.value for n in m.cache_env if (v := e.get(n)) is not None}
    if m.needs_root:
        home: str | None = "/root"
        root = True  # ROOT
    else:
        hv = e.get("HOME")
        home = hv.value if hv is not None else a.user.home
        root = a.user.is_root is True
    key = (m.id, tuple(sorted(env.items())) if env else (), home, root)
    got = _FOLDERS.get(key)
    if got is None:
        got = tuple(CacheFolder(m, c, c.resolve(env, home, root)) for c in m.caches)
        if len(_FOLDERS) > 4096:
            _FOLDERS.clear()
        _FOLDERS[key] = got
    return got


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def names_tool(mount: Mount, manager: Manager) -> bool:
    """The mount's id or a folder of its target names ``manager``'s cache (``id=m2``, ``.../.gradle``)."""
    hints = set(manager.cache_ids)
    if not hints:
        return False
    ident = (mount.id or "").lower()
    if ident and any(ident == h or ident.startswith((h + "-", h + "_")) or ident.endswith(("-" + h, "_" + h)) for h in hints):
        return True
    if mount.target_known and mount.target is not None:
        return any(part in hints for part in mount.target.split("/") if part)
    return False


def tool_mount(mounts: Sequence[Mount], folders: Sequence[CacheFolder]) -> Mount | None:
    """An existing cache mount of the same tool: at, under or over one of ``folders``, or named after the tool."""
    if not folders:
        return None
    manager = folders[0].manager
    for mt in mounts:
        if mt.type != "cache":
            continue
        for f in folders:  # a plain loop, not any(): every download command of every RUN, every round
            if f.path is not None and mt.covers(f.path):
                return mt
        if names_tool(mt, manager):
            return mt
    return None


def covered(mounts: Sequence[Mount], path: str) -> Mount | None:
    """A cache mount (of any tool) at, under or over ``path``."""
    for mt in mounts:
        if mt.type == "cache" and mt.covers(path):
            return mt
    return None


_CLEAN_HEADS: dict[tuple[tuple[str, ...], ...], dict[str, frozenset[str] | None] | None] = {}


def _clean_heads(manager: Manager) -> dict[str, frozenset[str] | None] | None:
    """Program name -> the second positional words of ``manager``'s cache-cleaning commands that start with it
    (None for a name: a one-word pattern; None overall: a pattern the shortcut cannot read)."""
    pats = manager.cache_clean_commands
    try:
        return _CLEAN_HEADS[pats]
    except KeyError:
        got: dict[str, frozenset[str] | None] | None = {}
        if any(not p or p[0].startswith("-") for p in pats):
            got = None
        else:
            for p in pats:
                if len(p) == 1 or got.get(p[0], frozenset()) is None:
                    got[p[0]] = None
                else:
                    got[p[0]] = got.get(p[0], frozenset()) | {p[1]}  # type: ignore[operator]
        _CLEAN_HEADS[pats] = got
        return got


def cache_clean(cmd: Command, manager: Manager) -> bool:
    """``cmd`` is one of ``manager``'s cache-cleaning commands (``npm cache clean --force``, ``pip cache purge``)."""
    heads = _clean_heads(manager)
    if heads is not None:
        # cheap answers for the usual command (every command of every RUN is asked): the catalog compares the
        # program's basename and the positional words after it with each pattern
        name = cmd.name
        if name is None:
            return False
        if not name.startswith("-"):
            if name not in heads:
                return False
            seconds = heads[name]
            if seconds is not None:
                second = next((w.value for w in cmd.effective()[1:] if w.value is None or not w.value.startswith("-")), "")
                if second not in seconds:
                    return False
    return catalog().is_cache_clean(cmd, manager)


def clean_path(word: Word, manager: Manager, home: str | None) -> str | None:
    """The path an ``rm`` argument names when it is one of ``manager``'s ``cache_clean_paths`` (``~/.cache/pip``)."""
    pat = word.pattern
    if pat is None:
        return None
    for p in manager.cache_clean_paths:
        if p.startswith("~"):
            if home is None:
                continue
            p = home + p[1:]
        got = pat
        if got.startswith("~"):
            if home is None:
                continue
            got = home + got[1:]
        if posixpath.normpath(got) == posixpath.normpath(p):
            return posixpath.normpath(got)
    return None


__all__ = ["CacheFolder", "cache_clean", "cache_folders", "cache_home", "cache_user", "clean_path", "covered",
           "names_tool", "tool_mount"]

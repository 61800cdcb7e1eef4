"""``RUN --mount=...`` flags, read once (BuildKit's CSV syntax).

The one mount parser of the project. ``type`` defaults to ``bind``; ``target``
may be spelled ``dst``/``destination``, ``source`` ``src``; values may be
quoted (CSV). A target with a variable stays as written and ``target_known``
is False.
"""

from __future__ import annotations

import csv
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache

from dockeropt.syntax import Flag, Instruction

_ALIASES = {"dst": "target", "destination": "target", "src": "source", "ro": "readonly"}


@dataclass(frozen=True, slots=True)
class Mount:
    type: str  # cache | bind | secret | ssh | tmpfs
    target: str | None  # normalised absolute path when literal; as written otherwise; None when missing
    options: tuple[tuple[str, str], ...]  # every key=value as written (keys canonical)
    flag: Flag

    def get(self, key: str) -> str | None:
        for k, v in self.options:
            if k == key:
                return v
        return None

    @property
    def target_known(self) -> bool:
        return self.target is not None and "$" not in self.target

    @property
    def id(self) -> str | None:
        return self.get("id")

    @property
    def source(self) -> str | None:
        return self.get("source")

    @property
    def from_(self) -> str | None:
        return self.get("from")

    def covers(self, path: str) -> bool:
        """This mount is at ``path``, above it, or below it (or its target is not known)."""
        t = self.target
        if t is None or "$" in t:
            return True  # not target_known
        key = (t, path)
        got = _COVERS.get(key)
        if got is None:
            p = posixpath.normpath(path)
            got = t == p or p.startswith(t.rstrip("/") + "/") or t.startswith(p.rstrip("/") + "/")
            if len(_COVERS) > 8192:
                _COVERS.clear()
            _COVERS[key] = got
        return got


# Mount.covers answers, by (target, path): the same few mount targets and cache folders are compared on every RUN
_COVERS: dict[tuple[str, str], bool] = {}


def parse_mount(flag: Flag) -> Mount | None:
    """One ``--mount`` flag; None when it cannot be read."""
    if flag.name != "mount" or flag.value is None:
        return None
    parsed = _parse_value(flag.value)
    if parsed is None:
        return None
    return Mount(parsed[0], parsed[1], parsed[2], flag)


@lru_cache(maxsize=4096)
def _parse_value(value: str) -> tuple[str, str | None, tuple[tuple[str, str], ...]] | None:
    """(type, target, options) of a mount value (memoised: the same mounts repeat on every RUN and round)."""
    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration):
        return None
    opts: list[tuple[str, str]] = []
    for f in fields:
        k, eq, v = f.partition("=")
        k = _ALIASES.get(k.strip().lower(), k.strip().lower())
        if not k:
            continue
        opts.append((k, v.strip() if eq else "true"))
    kind = dict(opts).get("type", "bind").lower()
    target = dict(opts).get("target")
    if target is not None and "$" not in target:
        target = posixpath.normpath(target) if target.startswith("/") else target
    return kind, target, tuple(opts)


def mounts_of(ins: Instruction) -> tuple[Mount, ...]:
    """Every readable ``--mount`` of a RUN (unreadable ones are left out; see :func:`unreadable_mounts`)."""
    out = []
    for f in ins.flags:
        if f.name == "mount":
            m = parse_mount(f)
            if m is not None:
                out.append(m)
    return tuple(out)


def unreadable_mounts(ins: Instruction) -> bool:
    return any(f.name == "mount" and parse_mount(f) is None for f in ins.flags)


# --------------------------------------------------------------------------- writing mounts

_PLAIN = re.compile(r"^[^\s,=\"'$*?\[\]\\]+$")


def bindable(path: str) -> bool:
    """Can ``path`` be written in a ``--mount`` flag as it is (no CSV quoting, globs or variables)?"""
    return bool(path) and _PLAIN.match(path) is not None


def mount_flag(options: list[tuple[str, str]]) -> str:
    """``--mount=k=v,k=v`` for plain option values (see :func:`bindable`; :func:`parse_mount` reads it back)."""
    for _, v in options:
        if not bindable(v):
            raise ValueError(f"mount option value needs quoting: {v!r}")
    return "--mount=" + ",".join(f"{k}={v}" for k, v in options)


@lru_cache(maxsize=4096)
def cache_flag(target: str, sharing: str = "shared", uid: int | None = None, gid: int | None = None) -> str:
    """A cache mount at ``target`` (``sharing`` left out when it is BuildKit's default, ``shared``; memoised:
    the same few mounts are written on every RUN)."""
    opts = [("type", "cache"), ("target", target)]
    if sharing != "shared":
        opts.append(("sharing", sharing))
    if uid is not None:
        opts += [("uid", str(uid)), ("gid", str(gid if gid is not None else uid))]
    return mount_flag(opts)


def bind_flag(source: str, target: str) -> str:
    return mount_flag([("type", "bind"), ("source", source), ("target", target)])


def secret_flag(secret_id: str, required: bool = True) -> str:
    opts = [("type", "secret"), ("id", secret_id)]
    if required:
        opts.append(("required", "true"))
    return mount_flag(opts)


def bind_target(target_abs: str, run_workdir: str | None) -> str:
    """A mount target as the RUN sees it: relative to its WORKDIR when inside it (as ``docker init`` writes)."""
    if run_workdir and run_workdir != "/" and target_abs.startswith(run_workdir.rstrip("/") + "/"):
        return target_abs[len(run_workdir.rstrip("/")) + 1 :]
    return target_abs

"""COPY/ADD resolved against WORKDIR, and who owns which folder.

:class:`CopyFacts` gives each COPY/ADD its sources, its destination as an
absolute path, whether the destination is a folder, where the files come from
(build context, an earlier stage, an image) and who owns the result
(``--chown``; root otherwise).

:class:`Ownership` records, in file order, every instruction that creates or
re-owns a path: COPY/ADD, WORKDIR (BuildKit creates a missing WORKDIR as the
current USER), ``mkdir``, ``chown``, and the folders package managers write
as the user who runs them. :meth:`Ownership.owner` answers "who owns this
path just before instruction N?" with ``None`` when the model cannot tell: a
pass must never say a folder is writable from ``None``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from dockeropt.model.users import ROOT, User, resolve_user
from dockeropt.model.values import Env, expand
from dockeropt.syntax import Instruction

_ARCHIVE = (".tar", ".tgz", ".tar.gz", ".gz", ".bz2", ".xz", ".zst", ".tbz2", ".tbz", ".txz", ".tar.bz2", ".tar.xz")


@dataclass(frozen=True)
class CopyFacts:
    instruction: Instruction
    sources: tuple[str, ...]  # as written, variables expanded (None-free: unknown copies are not modelled)
    dest: str  # absolute, normalised; a trailing "/" kept when written as a folder
    dest_is_dir: bool  # the destination is a folder (trailing slash, several sources, or a folder source)
    from_stage: int | None  # COPY --from=<earlier stage>
    from_image: str | None  # COPY --from=<image>
    chown: str | None  # the --chown value (expanded)
    owner: User  # owner of what it creates (root unless --chown)
    chmod: str | None
    link: bool
    heredoc: bool

    @property
    def from_context(self) -> bool:
        return self.from_stage is None and self.from_image is None and not self.heredoc

    @property
    def whole_context(self) -> bool:
        """``COPY . <dest>`` (or ``./``): the whole build context."""
        return self.from_context and any(posixpath.normpath(s) == "." for s in self.sources)

    @property
    def folder(self) -> str:
        """The folder the copy writes into (the destination itself for folder copies)."""
        d = self.dest.rstrip("/") or "/"
        return d if self.dest_is_dir else (posixpath.dirname(d) or "/")

    def target_of(self, source: str) -> str:
        """Where ``source`` (one of ``sources``) lands: a file copied into a folder keeps its name."""
        d = self.dest.rstrip("/") or "/"
        if not self.dest_is_dir:
            return d
        if posixpath.normpath(source) == "." or source.endswith("/"):
            return d
        return posixpath.normpath(posixpath.join(d, posixpath.basename(source.rstrip("/"))))

    def is_archive(self, source: str) -> bool:
        return self.instruction.keyword == "ADD" and source.lower().endswith(_ARCHIVE)

    def is_remote(self, source: str) -> bool:
        return self.instruction.keyword == "ADD" and (source.startswith(("http://", "https://", "git@")) or "://" in source)


def read_copy(
    ins: Instruction, env: Env, workdir: str | None, accounts: dict, stage_of: dict[str, int],
    is_dir: object = None, known_dir: object = None,
) -> CopyFacts | None:
    """The facts of a COPY/ADD; None when a path depends on something unknown.

    ``stage_of`` maps earlier stage names (lower case) and indexes to stage
    indexes; ``is_dir(path)`` (optional) tells whether a build-context path is a folder;
    ``known_dir(path)`` whether an image path is already a folder when the copy runs.
    """
    if ins.keyword not in ("COPY", "ADD"):
        return None
    words = list(ins.words)
    heredoc = bool(ins.heredocs)
    if len(words) < 2:
        return None
    raw_sources, raw_dest = words[:-1], words[-1]
    sources: list[str] = []
    for s in raw_sources:
        if heredoc and s.startswith("<<"):
            sources.append(s)
            continue
        v = expand(s, env)
        if not v:
            return None  # unknown, or an unset variable (BuildKit would see fewer arguments than written)
        sources.append(v)
    dest_x = expand(raw_dest, env)
    if dest_x is None:
        return None
    dest_is_dir = dest_x.endswith("/") or dest_x in (".", "..") or dest_x.endswith("/.") or len(sources) > 1
    if dest_x.startswith("/"):
        dest = posixpath.normpath(dest_x)
    elif workdir is None:
        return None
    else:
        dest = posixpath.normpath(posixpath.join(workdir, dest_x))
    frm = ins.flag("from")
    from_stage: int | None = None
    from_image: str | None = None
    if frm is not None and frm.value:
        ref = expand(frm.value, env) or frm.value
        if ref.lower() in stage_of:
            from_stage = stage_of[ref.lower()]
        else:
            from_image = ref
    if not dest_is_dir and from_stage is None and from_image is None and callable(is_dir) and len(sources) == 1:
        src = sources[0]
        if posixpath.normpath(src) == "." or (("*" not in src) and is_dir(src)):
            dest_is_dir = True
    if not dest_is_dir and len(sources) == 1 and (posixpath.normpath(sources[0]) == "." or sources[0].endswith("/")):
        dest_is_dir = True
    if not dest_is_dir and callable(known_dir) and known_dir(dest):
        dest_is_dir = True  # `COPY app.py /app` where /app is already a folder (WORKDIR /app): /app/app.py
    chown_flag = ins.flag("chown")
    chown = expand(chown_flag.value, env) if chown_flag is not None and chown_flag.value else None
    owner = resolve_user(chown, accounts, None) if chown else ROOT
    chmod_flag = ins.flag("chmod")
    return CopyFacts(
        ins, tuple(sources), dest + ("/" if dest_is_dir and dest != "/" else ""), dest_is_dir, from_stage, from_image,
        chown, owner, chmod_flag.value if chmod_flag else None, ins.flag("link") is not None, heredoc,
    )


@dataclass(frozen=True, slots=True)
class OwnerEvent:
    instruction: int
    path: str
    owner: User
    recursive: bool  # applies to everything below ``path`` too
    only_if_missing: bool  # creates the path only when it does not exist yet (WORKDIR, mkdir -p)
    how: str  # "copy" | "workdir" | "mkdir" | "chown" | "install" | "image"
    brings: Callable[[str], bool] | None = None  # for a folder copy: does it bring this path below ``path``?

    def covers(self, p: str) -> bool:
        if self.path == p:
            return True
        if not (self.recursive and _under(p, self.path)):
            return False
        return self.brings is None or self.brings(p)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class Ownership:
    """Who owns what. Events are recorded per stage in file order; a stage built
    FROM an earlier stage sees that stage's events first (its filesystem)."""

    def __init__(self, parents: dict[int, int | None]) -> None:
        self._parents = parents
        self._events: dict[int, list[OwnerEvent]] = {}
        # per stage, kept as events come in so ``is_dir`` costs a few lookups per stage instead of a walk over
        # every earlier event: the first instruction of an event that makes a path a folder itself, of one
        # below a folder (keyed by the folder without trailing slashes, as ``_under`` reads it), and of
        # events on "/" or "//" themselves (below the root, but not below themselves)
        self._dirs: dict[int, tuple[dict[str, int], dict[str, int], dict[str, int]]] = {}

    def add(self, stage: int, event: OwnerEvent) -> None:
        """Record ``event``; a stage's events come in file order (the model adds them instruction by instruction)."""
        self._events.setdefault(stage, []).append(event)
        own, below, roots = self._dirs.setdefault(stage, ({}, {}, {}))
        p, i = event.path, event.instruction
        if event.how in ("workdir", "mkdir", "install") or (event.how == "copy" and event.recursive):
            own.setdefault(p, i)
        if p in ("/", "//"):
            roots.setdefault(p, i)
            return
        k = p.find("/")
        while k >= 0:  # p lies below every q with q.rstrip("/") == p[:k]
            below.setdefault(p[:k], i)
            k = p.find("/", k + 1)

    def _chain(self, stage: int) -> list[int]:
        chain: list[int] = []
        cur: int | None = stage
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = self._parents.get(cur)
        return chain

    def events(self, stage: int, before: int | None = None) -> list[OwnerEvent]:
        """Events that shaped the filesystem of ``stage`` before instruction ``before``, oldest first."""
        chain = self._chain(stage)
        out: list[OwnerEvent] = []
        for st in reversed(chain):
            for ev in self._events.get(st, ()):
                if st == stage and before is not None and ev.instruction >= before:
                    break
                out.append(ev)
        return out

    def created_by(self, stage: int, path: str, before: int | None = None) -> OwnerEvent | None:
        """The event that decides who owns ``path`` (None: nothing in the Dockerfile created or re-owned it).

        The latest event that covers the path wins: one on the path itself, or
        a recursive one (a COPY of a folder, ``chown -R``) on a parent. An event
        that only creates a missing path (WORKDIR, ``mkdir -p``) does not
        re-own a path an earlier event created.
        """
        p = posixpath.normpath(path)
        found: OwnerEvent | None = None
        for ev in self.events(stage, before):
            if ev.covers(p):
                if ev.only_if_missing and found is not None:
                    continue
                found = ev
        return found

    def is_dir(self, stage: int, path: str, before: int | None = None) -> bool:
        """Is ``path`` known to be a folder before instruction ``before``? (WORKDIR, mkdir, a folder copy, an install's output folder.)"""
        p = posixpath.normpath(path)
        r = p.rstrip("/")
        for st in self._chain(stage):
            got = self._dirs.get(st)
            if got is None:
                continue
            own, below, roots = got
            firsts = [own.get(p), below.get(r)]  # a folder itself; something was created below it
            if not r:
                firsts += [roots.get(x) for x in ("/", "//") if x != p]
            for first in firsts:
                if first is not None and (st != stage or before is None or first < before):
                    return True
        return False

    def owner(self, stage: int, path: str, before: int | None = None) -> User | None:
        """The owner of ``path`` before instruction ``before`` (None = at the end of the stage); None when unknown."""
        ev = self.created_by(stage, path, before)
        return ev.owner if ev is not None else None

"""The build context: which files exist and which ``.dockerignore`` excludes.

Matching follows Docker's pattern matcher (moby/patternmatcher): patterns are
cleaned paths relative to the context root, ``*`` and ``?`` stay inside one
path element, ``**`` spans elements, ``!`` re-includes, the last matching
pattern wins, and a pattern that matches a parent folder excludes what is in
it.  A ``<Dockerfile>.dockerignore`` beside the Dockerfile takes precedence,
as in BuildKit.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _translate(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : j]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


@dataclass(frozen=True)
class IgnorePattern:
    text: str
    exclusion: bool
    regex: re.Pattern[str]


def parse_dockerignore(content: str) -> list[IgnorePattern]:
    patterns: list[IgnorePattern] = []
    for raw in content.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
            if not line:
                continue
        line = posixpath.normpath(line.replace(os.sep, "/"))
        line = line.lstrip("/") or "."
        patterns.append(IgnorePattern(raw.strip(), exclusion, _translate(line)))
    return patterns


def is_ignored(patterns: list[IgnorePattern], rel: str) -> bool:
    rel = posixpath.normpath(rel).lstrip("/")
    parts = rel.split("/")
    parents = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    matched = False
    for p in patterns:
        hit = bool(p.regex.match(rel)) or any(p.regex.match(parent) for parent in parents)
        if hit:
            matched = not p.exclusion
    return matched


# Process-wide, so the language server's next version (a new BuildContext) reuses them:
# - walks of the context, each with the folders it listed and their mtimes; reused while no such folder has
#   changed (a folder changed in the last _RACY_S seconds is not trusted: its next change could keep the mtime);
# - facts computed from texts alone, keyed by a digest of those texts.
_WALKS: OrderedDict[tuple[object, ...], tuple[tuple[tuple[str, int | None], ...], object]] = OrderedDict()
_CONTENT: OrderedDict[tuple[object, ...], object] = OrderedDict()
_WALKS_MAX = 8
_CONTENT_MAX = 8
_RACY_S = 2.0


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def digest(*parts: object) -> str:
    """A digest of strings (and tuples of them, nested), for :meth:`BuildContext.content_memo` keys."""
    h = hashlib.blake2b(digest_size=20)

    def feed(x: object) -> None:
        if isinstance(x, str):
            b = x.encode("utf-8", "surrogatepass")
            h.update(len(b).to_bytes(8, "little"))
            h.update(b)
        elif isinstance(x, tuple | list):
            h.update(b"(%d" % len(x))
            for y in x:
                feed(y)
            h.update(b")")
        else:
            h.update(repr(x).encode())

    for part in parts:
        feed(part)
    return h.hexdigest()


def _remember(cache: OrderedDict, key: tuple[object, ...], value: object, limit: int) -> None:  # type: ignore[type-arg]
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


@dataclass
class BuildContext:
    """A folder used as the build context, with its ignore rules."""

    root: Path
    dockerfile: Path | None = None
    _exists_cache: dict[str, bool] = field(default_factory=dict, repr=False)
    # files changed by earlier fixes in this run (path -> new text), seen instead of the disk
    overlay: dict[str, str] = field(default_factory=dict, repr=False)
    overlay_version: int = 0  # bumped on every overlay change (memoised pass results depend on it)

    _memo: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)
    # what the disk said, per normalised path (the disk is read once per run, like ``_exists_cache``)
    _kind_cache: dict[str, str | None] = field(default_factory=dict, repr=False)
    _text_cache: dict[tuple[str, int], str | None] = field(default_factory=dict, repr=False)
    _ignored_cache: dict[str, bool] = field(default_factory=dict, repr=False)
    _listed: list[tuple[str, int | None]] | None = field(default=None, repr=False)  # folders a walk_memo walk listed

    def memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per state of the context (facts read from disk: listings, sizes)."""
        full = (*key, self.overlay_version)
        if full not in self._memo:
            self._memo[full] = compute()
        return self._memo[full]  # type: ignore[return-value]

    def _files_state(self) -> tuple[object, ...]:
        """What decides which files the context shows: the ignore rules in force and the overlay's contents."""
        return (tuple((p.text, p.exclusion) for p in self.ignore_patterns), tuple(sorted(self.overlay.items())))

    def files_memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per set of files the context shows: the ignore rules in force and the
        overlay's contents. Unlike :meth:`memo`, an overlay write that changes neither (the same
        ``.dockerignore`` written again) keeps the result, so a walk of a big context is made once."""
        full = ("files", *key, self._files_state())
        if full not in self._memo:
            self._memo[full] = compute()
        return self._memo[full]  # type: ignore[return-value]

    def walk_memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """:meth:`files_memo` for a walk of the disk, also kept across contexts of the same folder
        (the language server's next version) while no folder the walk listed has changed."""
        full = ("files", *key, self._files_state())
        if full in self._memo:
            return self._memo[full]  # type: ignore[return-value]
        wide = (os.path.abspath(self.root), *full)
        hit = _WALKS.get(wide)
        if hit is not None and all(_mtime(d) == m for d, m in hit[0]):
            _WALKS.move_to_end(wide)
            self._memo[full] = hit[1]
            return hit[1]  # type: ignore[return-value]
        outer, self._listed = self._listed, []
        try:
            value = compute()
            listed = tuple(self._listed)
        finally:
            self._listed = outer if outer is None else outer + self._listed
        self._memo[full] = value
        now = time.time_ns()
        if all(m is not None and now - m > _RACY_S * 1e9 for _d, m in listed):
            _remember(_WALKS, wide, (listed, value), _WALKS_MAX)
        return value

    def content_memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per ``key``, whatever the state of the context or the run: for facts drawn
        only from texts the key holds (a :func:`digest` of the source files' paths and texts, say), so a
        new ``.dockerignore`` that leaves them as they were, or the language server's next version, does
        not redo the work. Kept process-wide (the last ``_CONTENT_MAX``)."""
        full = ("content", *key)
        if full in _CONTENT:
            _CONTENT.move_to_end(full)
            return _CONTENT[full]  # type: ignore[return-value]
        value = compute()
        _remember(_CONTENT, full, value, _CONTENT_MAX)
        return value

    def set_overlay(self, rel: str, text: str) -> None:
        self.overlay[posixpath.normpath(rel)] = text
        self._overlay_changed()

    def restore_overlay(self, saved: dict[str, str]) -> None:
        """Put back the overlay as it was (a copy taken earlier): a fix run that is redone starts from it."""
        self.overlay.clear()
        self.overlay.update(saved)
        self._overlay_changed()

    def _overlay_changed(self) -> None:
        self.overlay_version += 1
        self._exists_cache.clear()
        self._kind_cache.clear()
        self._text_cache.clear()
        self._ignored_cache.clear()
        self.__dict__.pop("ignore_patterns", None)

    @cached_property
    def ignore_patterns(self) -> list[IgnorePattern]:
        candidates = []
        if self.dockerfile is not None:
            candidates.append(self.dockerfile.parent / (self.dockerfile.name + ".dockerignore"))
        candidates.append(self.root / ".dockerignore")
        for c in candidates:
            try:
                rel = c.relative_to(self.root).as_posix() if c.is_relative_to(self.root) else None
            except ValueError:
                rel = None
            if rel is not None and rel in self.overlay:
                return parse_dockerignore(self.overlay[rel])
            try:
                return parse_dockerignore(c.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
        return []

    def ignored(self, rel: str) -> bool:
        hit = self._ignored_cache.get(rel)
        if hit is None:
            hit = self._ignored_cache[rel] = is_ignored(self.ignore_patterns, rel)
        return hit

    def _resolve(self, rel: str) -> Path:
        rel = posixpath.normpath(rel.replace("\\", "/")).lstrip("/")
        return self.root / rel

    def exists(self, rel: str) -> bool:
        """True when ``rel`` exists in the context and ``.dockerignore`` does not exclude it."""
        key = posixpath.normpath(rel)
        if key in self.overlay:
            return not self.ignored(key)
        if key not in self._exists_cache:
            kind = self._kind_cache.get(key)  # a file or folder a listing saw exists
            self._exists_cache[key] = (kind is not None or self._resolve(rel).exists()) and not self.ignored(key)
        return self._exists_cache[key]

    def _kind(self, rel: str) -> str | None:
        """"file", "dir" or None (neither, or missing) on disk."""
        key = posixpath.normpath(rel)
        if key not in self._kind_cache:
            path = self._resolve(rel)
            self._kind_cache[key] = "file" if path.is_file() else ("dir" if path.is_dir() else None)
        return self._kind_cache[key]

    def is_file(self, rel: str) -> bool:
        if posixpath.normpath(rel) in self.overlay:
            return self.exists(rel)
        return self.exists(rel) and self._kind(rel) == "file"

    def is_dir(self, rel: str) -> bool:
        return self.exists(rel) and self._kind(rel) == "dir"

    def read_raw(self, rel: str) -> str | None:
        """A file's current text (overlay first) even when .dockerignore excludes it; None if missing."""
        key = posixpath.normpath(rel)
        if key in self.overlay:
            return self.overlay[key]
        try:
            return self._resolve(rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def read_text(self, rel: str, limit: int = 1 << 20) -> str | None:
        """A context file's text, or None when missing, excluded, unreadable or too large."""
        if not self.is_file(rel):
            return None
        if posixpath.normpath(rel) in self.overlay:
            return self.overlay[posixpath.normpath(rel)]
        key = (posixpath.normpath(rel), limit)
        if key not in self._text_cache:
            self._text_cache[key] = self._read_disk(rel, limit)
        return self._text_cache[key]

    def _read_disk(self, rel: str, limit: int) -> str | None:
        path = self._resolve(rel)
        try:
            if path.stat().st_size > limit:
                return None
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def read_json_object(self, rel: str) -> dict[str, object] | None:
        """A context file parsed as a JSON object (package.json, composer.json), or None."""
        import json

        text = self.read_text(rel)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def listdir(self, rel: str = ".") -> list[str]:
        """Names in a context folder that ``.dockerignore`` does not exclude."""
        base = self._resolve(rel)
        prefix = "" if rel in (".", "") else posixpath.normpath(rel).strip("/") + "/"
        kinds: dict[str, str | None] = {}
        if self._listed is not None:
            self._listed.append((str(base), _mtime(str(base))))
        try:
            with os.scandir(base) as it:
                for e in it:
                    try:  # as Path.is_file / is_dir: symlinks followed, a broken one is neither
                        kinds[e.name] = "file" if e.is_file() else ("dir" if e.is_dir() else None)
                    except OSError:
                        kinds[e.name] = None
        except OSError:
            return []
        for n, kind in kinds.items():  # the walk that follows asks for each entry's kind: no second stat
            self._kind_cache.setdefault(posixpath.normpath(prefix + n), kind)
        return [n for n in sorted(kinds) if not self.ignored(prefix + n)]

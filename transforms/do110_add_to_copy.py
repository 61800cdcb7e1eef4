"""DO110 add-to-copy."""

from __future__ import annotations

import glob
import posixpath
import re
from collections.abc import Iterable

from dockeropt.context import BuildContext
from dockeropt.edits import Change, Edit, Safety
from dockeropt.rules import Message, Pass, PassContext, register
from dockeropt.syntax import Dockerfile, Instruction

_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_ARCHIVE_EXT = re.compile(r"\.(tar|tgz|tbz2?|txz|tzst|gz|bz2|xz|zst|lz|lzma|lz4)$", re.IGNORECASE)
# extensions that are certainly not archives, for when no build context is known
_PLAIN_EXT = re.compile(
    r"\.(js|mjs|cjs|ts|json|py|txt|md|sh|conf|cfg|ini|toml|ya?ml|xml|html|css|rb|php|go|java|jar|war|"
    r"properties|env|lock|sql|pem|crt|key|csv|svg|png|jpg|ico|so|zip)$",
    re.IGNORECASE,
)
_ADD_ONLY_FLAGS = {"checksum", "keep-git-dir", "unpack"}


def _is_archive_file(path: str) -> bool:
    """Would ADD unpack this file? Docker decides by content, like this."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return True  # cannot tell: assume the worst
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


def _source_is_plain(src: str, ctx: BuildContext | None) -> bool:
    if _REMOTE.match(src) or "$" in src:
        return False
    if _ARCHIVE_EXT.search(src):
        return False
    norm = posixpath.normpath(src)
    if ctx is None:
        return norm == "." or src.endswith("/") or bool(_PLAIN_EXT.search(src))
    root = ctx.root
    matches = glob.glob(str(root / norm)) if any(ch in src for ch in "*?[") else [str(root / norm)]
    if not matches:
        return False
    for m in matches:
        rel = posixpath.relpath(m, str(root))
        if ctx.is_dir(rel):
            continue
        if not ctx.is_file(rel) or _is_archive_file(m):
            return False
    return True


@register
class AddToCopy(Pass):
    """Use COPY, not ADD, for local files and folders.

    What it does:
        Replaces `ADD` with `COPY` when every source is a local file or folder
        that ADD would copy as it is: not a URL, not a git repository, not a
        tar archive (checked by content when the build context is known, by
        file name otherwise), and no ADD-only flags (`--checksum`,
        `--keep-git-dir`). `ADD` of URLs and archives is left alone.

    Why:
        `ADD` silently unpacks local tar archives and fetches URLs, so a reader
        cannot tell what an `ADD` line does without looking at the files.
        `COPY` does exactly one thing; Docker's own best practices prefer it
        for local content.

    Example:
        # before
        ADD requirements.txt /app/
        ADD . /app
        # after
        COPY requirements.txt /app/
        COPY . /app

    Fix safety:
        Safe: for these sources ADD and COPY produce the same layer.
    """

    id = "DO110"
    name = "add-to-copy"
    messages = {
        "copy": Message(
            "Use COPY for local files",
            "`ADD` also unpacks tar archives and downloads URLs; these sources ({sources}) are plain local files or "
            "folders, so `COPY` does the same thing and says so.",
        ),
    }

    def check(self, doc: Dockerfile, ctx: PassContext) -> Iterable[Change]:
        for ins in doc.instructions:
            if ins.keyword != "ADD" or ins.heredocs or ins.onbuild is not None:
                continue
            if any(f.name in _ADD_ONLY_FLAGS for f in ins.flags):
                continue
            words = ins.words
            if len(words) < 2:
                continue
            sources = words[:-1]
            if ins.flag("from") is None and not all(_source_is_plain(s, ctx.context) for s in sources):
                continue
            yield self._fix(ins)

    def _fix(self, ins: Instruction) -> Change:
        start = ins.logical.offset(len(ins.logical.text) - len(ins.logical.text.lstrip()))
        kw = ins.keyword_raw
        new_kw = "COPY" if kw.isupper() else ("copy" if kw.islower() else "Copy")
        return self.say("copy", ins, [Edit.replace(start, start + len(kw), new_kw)], Safety.SAFE, sources=", ".join(ins.words[:-1]))

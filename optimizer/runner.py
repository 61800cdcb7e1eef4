"""Reading, fixing and atomically writing one Dockerfile.

Every failure becomes a one-line message on a :class:`FileOutcome`; nothing
here raises for bad input, and a file is only replaced, atomically, by text
that passed the pipeline's guard.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dockeropt.config import Config
from dockeropt.context import BuildContext
from dockeropt.pipeline import FixResult, InputError, fix_text
from dockeropt.rules import Pass, PassContext

MAX_BYTES = 1 << 20  # real Dockerfiles are a few KiB; refuse anything over 1 MiB


@dataclass
class FileOutcome:
    path: Path | None  # None: standard input
    display: str
    result: FixResult | None = None
    error: str | None = None
    written: bool = False
    context_root: Path | None = None  # where FixResult.files paths are rooted

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        assert self.result is not None
        return "changed" if self.result.changed else "unchanged"


def decode(data: bytes) -> str:
    """Bytes -> text, or InputError with a one-line reason."""
    if b"\x00" in data:
        raise InputError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def read_path(path: Path) -> str:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("no such file") from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError("not a regular file")
    if st.st_size > MAX_BYTES:
        raise InputError(f"file too large ({st.st_size / 1e6:.1f} MB; the limit is {MAX_BYTES >> 20} MiB)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    return decode(data)


def read_stdin() -> str:
    data = sys.stdin.buffer.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InputError(f"input too large (the limit is {MAX_BYTES >> 20} MiB)")
    return decode(data)


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` via a temporary file and rename.

    An existing file keeps its mode; a new file (another context file a fix
    creates, e.g. ``.dockerignore``) gets the usual 0666 less the umask.
    """
    target = path.resolve() if path.exists() else path
    if path.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".dockeropt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def make_context(path: Path | None, context_dir: Path | None) -> BuildContext | None:
    if context_dir is not None:
        return BuildContext(context_dir, dockerfile=path)
    if path is not None:
        return BuildContext(path.parent if str(path.parent) else Path("."), dockerfile=path)
    return None


def fix_file(
    path: Path | None,
    *,
    config: Config,
    display: str,
    context_dir: Path | None = None,
    stdin_filename: Path | None = None,
    write: bool = False,
    passes: list[Pass] | None = None,
    text: str | None = None,
) -> FileOutcome:
    """Fix one file (or standard input when ``path`` is None). Never raises for bad input."""
    out = FileOutcome(path, display)
    try:
        if text is None:
            text = read_path(path) if path is not None else read_stdin()
        ref = path if path is not None else stdin_filename
        ctx = PassContext(config=config, path=ref, context=make_context(ref, context_dir))
        out.context_root = ctx.context.root if ctx.context is not None else None
        out.result = fix_text(text, ctx, passes)
        if write and path is not None and out.result.changed:
            for rel, (_old, new) in out.result.files.items():
                if out.context_root is not None:
                    atomic_write(out.context_root / rel, new)
            if out.result.fixed != out.result.original:
                atomic_write(path, out.result.fixed)
            out.written = True
    except InputError as exc:
        out.error = str(exc)
    except OSError as exc:
        out.error = f"cannot write: {exc.strerror or exc}"
    except RecursionError:
        out.error = "input too deeply nested"
    return out

"""Reading, fixing and writing one Dockerfile (and the other files its fixes create or change).

Every failure becomes a one-line message on a :class:`FileOutcome`; nothing here raises for bad
input. A file is only written with text that passed the pipeline's guard, only when the user may
write it, and never half-way (:func:`write_file`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterator
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


class WriteRefused(OSError):
    """The file may not be written (one-line reason)."""


def _blocked_signals() -> contextlib.AbstractContextManager[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP while a file is being rewritten (delivered right after)."""
    import signal

    @contextlib.contextmanager
    def hold() -> Iterator[None]:
        sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        try:
            old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
            yield
            return
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    return hold()


def _may_write(path: Path) -> bool:
    try:
        return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)
    except OSError:
        return False


def _rename_keeps_everything(target: Path, st: os.stat_result) -> bool:
    """Would replacing ``target`` by a renamed temporary file look the same to everyone?

    Only for a file with one link, owned by us (or we are root and can give it back), in a folder
    we may write, with no extended attributes or ACLs a new file would lose.
    """
    if st.st_nlink != 1:
        return False
    euid = os.geteuid()
    if st.st_uid != euid and euid != 0:
        return False
    if not os.access(target.parent, os.W_OK | os.X_OK):
        return False
    try:
        if os.listxattr(target):
            return False
    except (AttributeError, OSError):
        pass
    return True


def write_file(path: Path, text: str, *, expected: str | None = None) -> None:
    """Write ``text`` to ``path`` the way the user's own shell could, and never half-way.

    * A file the user may not write (read-only mode, someone else's, a read-only mount) is
      refused: :class:`WriteRefused` with a one-line reason; nothing changes.
    * An existing file keeps its inode: owner, group, mode, hard links and ACLs stay. When nothing
      observable depends on the inode (one link, ours, a folder we may write, no extended
      attributes) the new text goes to a temporary file that is renamed over it (atomic); otherwise
      the file is rewritten in place, after reserving the space (so a full disk fails before the
      first byte changes), with signals held, and put back as it was if a write fails.
    * ``expected``: the text the file must still hold (it was fixed from that); a file that changed
      in the meantime is not overwritten.
    * A new file (``.dockerignore``) is created with the usual 0666 less the umask.
    """
    data = text.encode("utf-8")
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        _create(path, data)
        return
    st = target.stat()
    if not stat.S_ISREG(st.st_mode):
        raise WriteRefused(errno.EINVAL, "not a regular file")
    if not _may_write(target):
        raise WriteRefused(errno.EACCES, "permission denied (the file is read-only for you); not written")
    old = target.read_bytes()
    if expected is not None and old != expected.encode("utf-8"):
        raise WriteRefused(errno.EBUSY, "the file changed while dockeropt was fixing it; not written")
    if old == data:
        return
    if _rename_keeps_everything(target, st):
        _replace_by_rename(target, data, st)
    else:
        _rewrite_in_place(target, data, old)


def atomic_write(path: Path, text: str) -> None:
    """The old name of :func:`write_file`."""
    write_file(path, text)


def _create(path: Path, data: bytes) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".dockeropt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.link(tmp, path)  # fails if the file appeared in the meantime: never clobber it
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _replace_by_rename(target: Path, data: bytes, st: os.stat_result) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".dockeropt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tst = os.stat(tmp)
        if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
            os.chown(tmp, st.st_uid, st.st_gid)  # the folder's setgid group, or root fixing a user's file
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        with _blocked_signals():
            os.replace(tmp, target)
    except PermissionError:
        # cannot give the new file the old one's group: keep the inode instead
        try:
            os.unlink(tmp)
        except OSError:
            pass
        _rewrite_in_place(target, data, target.read_bytes())
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        pos += os.pwrite(fd, view[pos:], pos)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _rewrite_in_place(target: Path, data: bytes, old: bytes) -> None:
    fd = os.open(target, os.O_WRONLY)
    try:
        if len(data) > len(old):
            try:
                os.posix_fallocate(fd, 0, len(data))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
                # the filesystem cannot reserve space ahead (EOPNOTSUPP): write and see
        with _blocked_signals():
            try:
                _write_all(fd, data)
            except OSError:
                try:
                    _write_all(fd, old)  # put the original back
                except OSError:
                    pass
                raise
    finally:
        os.close(fd)


def make_context(path: Path | None, context_dir: Path | None) -> BuildContext | None:
    if context_dir is not None:
        return BuildContext(context_dir, dockerfile=path)
    if path is not None:
        return BuildContext(path.parent if str(path.parent) else Path("."), dockerfile=path)
    return None


def _write_result(path: Path, result: FixResult, root: Path | None) -> None:
    """Write the other files, then the fixed Dockerfile; first check that every one of them may be written."""
    targets: list[tuple[Path, str, str | None]] = [
        (root / rel, new, old) for rel, (old, new) in sorted(result.files.items()) if root is not None and old != new
    ]
    if result.fixed != result.original:
        targets.append((path, result.fixed, result.original))
    for p, _new, old in targets:  # refuse before anything is written
        if p.exists():
            if old is None:
                raise WriteRefused(errno.EEXIST, "it appeared while dockeropt was fixing; nothing written", str(p))
            if not _may_write(p.resolve()):
                raise WriteRefused(errno.EACCES, "permission denied (read-only for you); nothing written", str(p))
        else:
            folder = p.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            if not os.access(folder, os.W_OK | os.X_OK):
                raise WriteRefused(errno.EACCES, "permission denied (cannot create it); nothing written", str(p))
    for p, new, old in targets:
        write_file(p, new, expected=old)


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
            _write_result(path, out.result, out.context_root)
            out.written = True
    except InputError as exc:
        out.error = str(exc)
    except OSError as exc:
        where = f" {exc.filename}" if getattr(exc, "filename", None) and str(exc.filename) != str(path) else ""
        out.error = f"cannot write{where}: {exc.strerror or exc}"
    except RecursionError:
        out.error = "input too deeply nested"
    return out

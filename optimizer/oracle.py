"""BuildKit as the judge: its parse of a text, memoised by pieces, and the fix guard's verdict.

Every text the fix loop produces must parse with BuildKit's own parser (the ``dockerfile`` package) and keep
every instruction no fix touched. This module holds that check and, for large inputs, a helper process that
works it out beside the fix loop (:class:`Helper`). It imports nothing heavy: the helper runs it alone.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import os
import pickle
import queue
import re
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from dockeropt.source import LineIndex

if TYPE_CHECKING:
    from dockeropt.edits import Edit


# text -> BuildKit's verdict: its commands as (line shift, commands of one piece) parts, or its one-line error
_BK_CACHE: collections.OrderedDict[str, list[tuple[int, tuple]] | str] = collections.OrderedDict()


def _buildkit_parts(text: str) -> list[tuple[int, tuple]] | str:
    """BuildKit's commands for ``text`` as parts, each a line shift and commands numbered from that line,
    or its one-line error (memoised: the Go parser is the hot path). Shifting every command of a large
    file into one tuple costs more than the guard's use of them; ``_buildkit_parse`` assembles them."""
    got = _BK_CACHE.get(text)
    if got is not None:
        _BK_CACHE.move_to_end(text)  # least recently used goes first: the text being fixed stays
    else:
        got = _buildkit_parse_chunked_parts(text)
        _BK_CACHE[text] = got
        if len(_BK_CACHE) > 16:
            _BK_CACHE.popitem(last=False)
    return got


def _buildkit_parse(text: str) -> tuple | str:
    """BuildKit's commands for ``text`` (line numbers in ``text``), or its one-line error."""
    return _assemble(_buildkit_parts(text))


def _assemble(parts: list[tuple[int, tuple]] | str) -> tuple | str:
    if isinstance(parts, str):
        return parts
    out: list = []
    for shift, cmds in parts:
        if shift:
            out.extend(c._replace(start_line=c.start_line + shift, end_line=c.end_line + shift) for c in cmds)
        else:
            out.extend(cmds)
    return tuple(out)


def _buildkit_parse_whole(text: str) -> tuple | str:
    import dockerfile as buildkit  # imported on first use: a process that forks workers must not load Go first

    try:
        return tuple(buildkit.parse_string(text))
    except buildkit.GoParseError as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else "parse error"


# BuildKit's parser carries no state from one instruction to the next, except the escape character (a
# directive at the top) and heredoc bodies (the lines after an instruction); a text without either
# splits into pieces that parse alone exactly as they do in the whole text, if each cut falls before a
# line that starts with a letter (an instruction, never a comment or a directive) right after a line that
# surely ends an instruction (not blank, not a comment, not ending in the escape character: a comment or
# blank line may sit inside a continuation, a trailing escape continues the instruction).
_BK_MAYBE_ESCAPE = re.compile(r"^[^\S\n]*\ufeff?[^\S\n]*#[^\S\n]*escape", re.I | re.M)
_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
# piece text -> (base, its commands): a command's line in the piece is its start_line - base (the commands are
# kept as the batch that parsed them numbered them, so storing them creates nothing)
_BK_CHUNKS: dict[str, tuple[int, tuple]] = {}


def _bk_pieces(text: str) -> list[tuple[int, str]] | None:
    """``text`` cut at safe points: (0-based first line, piece text); None when it must be parsed whole."""
    if "<<" in text or _BK_MAYBE_ESCAPE.search(text):
        return None
    lines = text.split("\n")
    pieces: list[tuple[int, str]] = []
    first = 0
    prev_ends = False  # does the line before the current one surely end an instruction?
    for i, line in enumerate(lines):
        if prev_ends and line and line[0] in _LETTERS:
            pieces.append((first, "\n".join(lines[first:i]) + "\n"))
            first = i
        body = line.strip()
        prev_ends = bool(body) and not body.lstrip("\ufeff").lstrip().startswith("#") and not body.endswith("\\")
    pieces.append((first, "\n".join(lines[first:])))
    return pieces


def _buildkit_parse_chunked(text: str) -> tuple | str:
    """What ``_buildkit_parse_whole(text)`` gives, parsing only the pieces of ``text`` not seen before."""
    return _assemble(_buildkit_parse_chunked_parts(text))


def _buildkit_parse_chunked_parts(text: str) -> list[tuple[int, tuple]] | str:
    """``_buildkit_parse_chunked`` as parts (see ``_buildkit_parts``).

    The fix loop changes a few instructions per round: the others are taken from earlier parses, and the
    new pieces go to BuildKit together, in one call. Any doubt (an error, a command crossing a cut) falls
    back to parsing the whole text; tests/test_fix_caches.py checks the equivalence on generated texts.
    """
    pieces = _bk_pieces(text)
    if pieces is None or len(pieces) == 1:
        return _whole_parts(text)
    missing = [k for k, (_, piece) in enumerate(pieces) if piece not in _BK_CHUNKS]
    if missing:
        batch = "".join(pieces[k][1] for k in missing)
        got = _buildkit_parse_whole(batch)
        if isinstance(got, str):
            return _whole_parts(text)  # the whole text's own error message
        starts: list[int] = []  # first line (1-based) of each missing piece in the batch
        line = 1
        for k in missing:
            starts.append(line)
            line += pieces[k][1].count("\n")
        found: list[list] = [[] for _ in missing]
        for c in got:
            j = bisect.bisect_right(starts, c.start_line) - 1
            last = starts[j + 1] - 1 if j + 1 < len(starts) else line
            if j < 0 or c.end_line > last:
                return _whole_parts(text)
            found[j].append(c)
        if len(_BK_CHUNKS) > 200_000:
            _BK_CHUNKS.clear()
        for j, k in enumerate(missing):
            _BK_CHUNKS[pieces[k][1]] = (starts[j] - 1, tuple(found[j]))
    out: list[tuple[int, tuple]] = []
    for first, piece in pieces:
        got_piece = _BK_CHUNKS.get(piece)
        if got_piece is None:  # pragma: no cover - cleared between the two loops by another thread
            return _whole_parts(text)
        base, cmds = got_piece
        if cmds:
            out.append((first - base, cmds))
    if not out:
        return _whole_parts(text)
    return out


def _whole_parts(text: str) -> list[tuple[int, tuple]] | str:
    got = _buildkit_parse_whole(text)
    return got if isinstance(got, str) else [(0, got)]


def buildkit_error(text: str) -> str | None:
    """BuildKit's parse error for ``text``, or None when it parses."""
    got = _buildkit_parts(text)
    return got if isinstance(got, str) else None


def touched_lines(lines: LineIndex, edits: Sequence[Edit]) -> list[tuple[int, int]]:
    """The 1-based first and last line of ``lines``' text that each edit touches."""
    out: list[tuple[int, int]] = []
    for e in edits:
        a = lines.line_of(e.range.start) + 1
        b = lines.line_of(max(e.range.end - 1, e.range.start)) + 1
        out.append((a, b))
    return out


def untouched_survive(old: str, new: str, touched: Sequence[tuple[int, int]]) -> bool:
    """Every BuildKit instruction of ``old`` outside the ``touched`` line spans is still in ``new``."""
    old_parts = _buildkit_parts(old)
    new_parts = _buildkit_parts(new)
    if isinstance(old_parts, str) or isinstance(new_parts, str):
        return False
    new_cmds = collections.Counter(c.original for _shift, cmds in new_parts for c in cmds)
    # touched line spans merged and sorted: a command is touched when a span reaches into it
    spans: list[list[int]] = []
    for a, b in sorted(touched):
        if spans and a <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    firsts = [sp[0] for sp in spans]
    for shift, cmds in old_parts:
        for c in cmds:
            i = bisect.bisect_right(firsts, c.end_line + shift) - 1
            if i >= 0 and spans[i][1] >= c.start_line + shift:
                continue
            if new_cmds[c.original] <= 0:
                return False
            new_cmds[c.original] -= 1
    return True


def sound(old: str, new: str, touched: Sequence[tuple[int, int]]) -> bool:
    """The guard's verdict: ``new`` parses with BuildKit and keeps every instruction of ``old`` outside ``touched``."""
    return buildkit_error(new) is None and untouched_survive(old, new, touched)


# ----------------------------------------------------------------------------- the helper process

HELPER_MIN_CHARS = 64 * 1024  # smaller inputs fix in a fraction of a second: starting a process would not pay
SERVER_MIN_CHARS = 2 * 1024  # in a long-lived process (the language server) the start is paid once
_min_chars = HELPER_MIN_CHARS


def long_lived() -> None:
    """This process fixes many texts (the language server): use the helper for all but the smallest."""
    global _min_chars
    _min_chars = SERVER_MIN_CHARS


_FAILED = "\x00failed"  # the helper's answer when it could not work one out (the caller checks in-process)
_HELPERS: dict[int, Helper | None] = {}  # process id -> its helper (None: it could not start)
_HELPERS_LOCK = threading.Lock()


def _framed(message: object) -> bytes:
    """One message on the helper's pipes: its pickle, after its length (8 bytes, little-endian)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(8, "little") + data


class HelperError(Exception):
    """The helper process died, hung or could not answer: the caller does the work in-process."""


class Helper:
    """BuildKit's verdicts from a second process, so the fix loop goes on while the Go parser works.

    BuildKit's parser holds the interpreter lock for the whole parse (a third of a second on a 1 MiB
    file), so a thread cannot overlap it. The helper is ``python -m dockeropt.oracle``: it imports this
    module and the ``dockerfile`` package only, keeps the texts it was sent (by request number) and
    answers requests in order. Requests are written by a thread, so a large text never blocks the
    caller while the helper is busy or still starting. One helper per process, started on first use
    (:func:`helper_for`); it ends when the process closes its end of the pipe.
    """

    def __init__(self) -> None:
        import subprocess

        # the caller's module path, so the helper imports the same dockeropt (a source checkout, a test run)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dockeropt.oracle"], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True,
        )
        self._out = self.proc.stdout.fileno()  # type: ignore[union-attr]
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._next = 0
        self._answers: dict[int, object] = {}
        self._buf = b""
        self.lock = threading.Lock()  # one fix loop at a time uses it
        self.broken = False
        threading.Thread(target=self._write, name="dockeropt-helper-writer", daemon=True).start()

    def _write(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while True:
            data = self._queue.get()
            if data is None:
                break
            try:
                stdin.write(data)
                stdin.flush()
            except (OSError, ValueError):
                self.broken = True
                break

    def _submit(self, request: tuple[object, ...]) -> int:
        if self.broken or self.proc.poll() is not None:
            raise HelperError("the helper process is gone")
        rid = self._next
        self._next += 1
        self._queue.put(_framed((request[0], rid, *request[1:])))
        return rid

    def check(self, text: str) -> int:
        """Ask for ``buildkit_error(text)``; returns the request number (the helper keeps ``text`` under it)."""
        return self._submit(("check", text))

    def check_sound(self, old: int, new: str, touched: Sequence[tuple[int, int]]) -> int:
        """Ask for ``sound(<text of request old>, new, touched)``; the helper keeps ``new`` under the new number."""
        return self._submit(("sound", old, new, tuple(touched)))

    def answer(self, rid: int, timeout: float = 120.0) -> object:
        """The answer to request ``rid`` (waiting for it). Raises HelperError when there is none."""
        import select
        import time

        deadline = time.monotonic() + timeout
        while rid not in self._answers:
            frame = self._frame()
            if frame is not None:
                got_rid, value = pickle.loads(frame)
                self._answers[got_rid] = value
                continue
            left = deadline - time.monotonic()
            if left <= 0 or self.broken:
                self._fail()
            ready, _, _ = select.select([self._out], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._out, 1 << 16)
                if not chunk:
                    self._fail()
                self._buf += chunk
            elif self.proc.poll() is not None:
                self._fail()
        value = self._answers.pop(rid)
        if value == _FAILED:
            raise HelperError("the helper could not answer")
        return value

    def _frame(self) -> bytes | None:
        if len(self._buf) < 8:
            return None
        n = int.from_bytes(self._buf[:8], "little")
        if len(self._buf) < 8 + n:
            return None
        frame, self._buf = self._buf[8 : 8 + n], self._buf[8 + n :]
        return frame

    def _fail(self) -> NoReturn:
        self.broken = True
        with contextlib.suppress(OSError):
            self.proc.kill()
        raise HelperError("the helper process stopped answering")


def helper_for(chars: int) -> Helper | None:
    """The process's helper for a fix of a ``chars``-long text, or None: the text is small, the machine has one
    core, ``DOCKEROPT_HELPER=0`` switched it off (``=1`` uses it whatever the size), it is not a POSIX system,
    or the helper cannot start (or died: the process then checks in-process from then on)."""
    setting = os.environ.get("DOCKEROPT_HELPER", "")
    if setting == "0" or (setting != "1" and (chars < _min_chars or (os.cpu_count() or 1) < 2)):
        return None
    if os.name != "posix":  # the answers are read with select() on a pipe
        return None
    pid = os.getpid()  # a forked child (a bulk worker) must not share its parent's pipes
    with _HELPERS_LOCK:
        if pid not in _HELPERS:
            try:
                _HELPERS[pid] = Helper()
            except Exception:  # no interpreter to start (an embedded one), no pipes left, ...
                _HELPERS[pid] = None
        h = _HELPERS[pid]
        if h is not None and (h.broken or h.proc.poll() is not None):
            h = _HELPERS[pid] = None  # it died: the process checks in-process from now on
    return h


def _serve() -> None:
    """The helper's loop: read a request, answer it, until the caller closes the pipe."""
    out = os.fdopen(os.dup(1), "wb")
    sys.stdout = sys.stderr  # nothing else may write to the answers' pipe
    inp = sys.stdin.buffer
    texts: collections.OrderedDict[int, str] = collections.OrderedDict()
    while True:
        head = inp.read(8)
        if len(head) < 8:
            return
        data = inp.read(int.from_bytes(head, "little"))
        try:
            kind, rid, *args = pickle.loads(data)
        except Exception:
            return
        try:
            if kind == "check":
                (text,) = args
                value: object = buildkit_error(text)
            else:
                old, text, touched = args
                value = sound(texts[old], text, touched)
            texts[rid] = text
            while len(texts) > 8:
                texts.popitem(last=False)
        except Exception:
            value = _FAILED
        out.write(_framed((rid, value)))
        out.flush()


if __name__ == "__main__":
    _serve()

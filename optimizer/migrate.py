"""Bulk migration: find Dockerfiles, fix them in a process pool, summarise, report.

* :func:`discover` turns command-line paths into a sorted list of Dockerfiles,
  honouring ``.gitignore`` (through ``git ls-files`` inside a work tree, else
  by reading the ``.gitignore`` files) and the ``exclude`` setting.
* :func:`run_all` fixes them, in a process pool for large batches; results
  come back in input order, and one file's failure never stops the others.
* :class:`Summary` and :func:`write_report` describe the outcome.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dockeropt.config import Config
from dockeropt.runner import FileOutcome

# names that look like Dockerfiles but are not
_NOT_DOCKERFILE_SUFFIXES = (".dockerignore", ".containerignore", ".orig", ".rej", ".bak", ".swp", "~", ".dockeropt")


def is_dockerfile_name(name: str) -> bool:
    """``Dockerfile``, ``Dockerfile.*``, ``*.Dockerfile``, ``Containerfile`` (and ``Containerfile.*``),
    and the lower-case ``dockerfile``, ``containerfile`` and ``*.dockerfile``."""
    if name in ("Dockerfile", "Containerfile", "dockerfile", "containerfile"):
        return True
    if name.endswith(_NOT_DOCKERFILE_SUFFIXES) or name.startswith("."):
        return False
    if name.startswith(("Dockerfile.", "Containerfile.")):
        return True
    return name.endswith((".Dockerfile", ".dockerfile")) and len(name) > len(".Dockerfile")


# ----------------------------------------------------------------------------- discovery


@dataclass
class Discovery:
    files: list[Path] = field(default_factory=list)
    origins: list[int] = field(default_factory=list)  # index into the ``paths`` argument, per file
    errors: list[tuple[str, str]] = field(default_factory=list)  # (display, one-line reason)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # folders that could not be searched
    searched_dirs: int = 0


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:  # a path below a folder we may not enter
        return False


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except OSError:
        return False


_UNREADABLE = "cannot read this folder ({}); Dockerfiles in it were not searched"


def _git_files(folder: Path, warnings: list[tuple[str, str]] | None = None) -> list[str] | None:
    """Paths (relative to ``folder``) git would not ignore, or None outside a work tree.

    Folders git could not open are added to ``warnings`` (git skips them too).
    """
    import subprocess  # only for folders: a named file starts no git

    try:
        proc = subprocess.run(
            ["git", "-C", str(folder), "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "."],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    if warnings is not None:
        import re

        for line in proc.stderr.decode("utf-8", "replace").splitlines():
            m = re.match(r"warning: could not open directory '(.*)': (.*)$", line)
            if m:
                from dockeropt.report import display_path

                warnings.append((display_path(folder / m.group(1).rstrip("/")), _UNREADABLE.format(m.group(2))))
    return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk_files(folder: Path, warnings: list[tuple[str, str]] | None = None) -> list[str]:
    """Fallback outside git: walk, reading every ``.gitignore`` on the way (gitignore semantics).

    ``.gitignore`` files in the folders above ``folder`` apply too (up to a
    folder holding ``.git``, or the filesystem root).
    """
    import pathspec

    out: list[str] = []
    # (prefix, spec): a path relative to ``folder`` is matched as prefix + path
    specs: list[tuple[str, pathspec.PathSpec]] = []

    def read_spec(d: Path) -> pathspec.PathSpec | None:
        gi = d / ".gitignore"
        try:
            if not gi.is_file():
                return None
            return pathspec.GitIgnoreSpec.from_lines(gi.read_text(encoding="utf-8", errors="replace").splitlines())
        except (OSError, ValueError):  # unreadable: a folder we may not enter, a .gitignore we may not read
            return None

    top = Path(os.path.abspath(folder))
    prefix = ""
    anc = top
    while anc.parent != anc and not _exists(anc / ".git"):
        prefix = f"{anc.name}/{prefix}"
        anc = anc.parent
        spec = read_spec(anc)
        if spec is not None:
            specs.insert(0, (prefix, spec))

    def ignored(rel: str, is_dir: bool) -> bool:
        target = rel + ("/" if is_dir else "")
        for pre, spec in specs:
            if pre.startswith("-"):  # a spec from inside the walk: "-<dir>/" only applies below <dir>
                base = pre[1:]
                if not target.startswith(base):
                    continue
                if spec.match_file(target[len(base):]):
                    return True
            elif spec.match_file(pre + target):
                return True
        return False

    def walk(rel_dir: str) -> None:
        abs_dir = folder / rel_dir if rel_dir else folder
        spec = read_spec(abs_dir)
        if spec is not None:
            specs.append(("-" + (rel_dir + "/" if rel_dir else ""), spec))
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            if warnings is not None:
                from dockeropt.report import display_path

                warnings.append((display_path(abs_dir), _UNREADABLE.format(exc.strerror or exc)))
            entries = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if is_dir:
                if e.name == ".git" or ignored(rel, True):
                    continue
                walk(rel)
            elif not ignored(rel, False):
                out.append(rel)
        if spec is not None:
            specs.pop()

    walk("")
    return out


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except OSError:
        return False


def discover(paths: Sequence[str], *, exclude: Callable[[Path], bool] | None = None) -> Discovery:
    """Expand folders into the Dockerfiles below them; keep named files as they are.

    ``exclude(path)`` decides the ``exclude`` setting for files found in folders
    (files named on the command line are always processed).
    """
    from dockeropt.report import display_path

    d = Discovery()
    seen: set[str] = set()

    def add(p: Path, arg: int) -> None:
        key = os.path.normpath(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            d.files.append(p)
            d.origins.append(arg)

    for arg, raw in enumerate(paths):
        if raw == "-":
            continue
        p = Path(raw)
        if not _is_dir(p):
            add(p, arg)  # files, and missing paths (reported as errors when read)
            continue
        d.searched_dirs += 1
        rels = _git_files(p, d.warnings)
        if rels is None:
            rels = _walk_files(p, d.warnings)
        found = []
        for rel in rels:
            name = rel.rsplit("/", 1)[-1]
            if not is_dockerfile_name(name):
                continue
            fp = p / rel if raw not in (".", "./") else Path(rel)
            if not _is_file(fp):  # deleted but still in the index; a submodule; a dangling link
                continue
            if exclude is not None and exclude(fp):
                continue
            found.append(fp)
        if not found:
            d.errors.append((display_path(p), "no Dockerfiles found in this folder"))
        for fp in sorted(found, key=lambda x: x.as_posix()):
            add(fp, arg)
    return d


# ----------------------------------------------------------------------------- processing


@dataclass(frozen=True)
class Job:
    index: int
    path: str
    display: str
    config: Config
    context_dir: str | None
    write: bool


_PASS_CACHE: dict[tuple[tuple[str, ...], tuple[str, ...]], list] = {}


def passes_for(config: Config) -> list:
    from dockeropt.rules import selected_passes

    key = (tuple(config.select), tuple(config.ignore))
    got = _PASS_CACHE.get(key)
    if got is None:
        got = _PASS_CACHE[key] = selected_passes(config)
    return got


def run_job(job: Job) -> FileOutcome:
    from dockeropt.runner import fix_file

    try:
        return fix_file(
            Path(job.path),
            config=job.config,
            display=job.display,
            context_dir=Path(job.context_dir) if job.context_dir else None,
            write=job.write,
            passes=passes_for(job.config),
        )
    except Exception as exc:  # never lose the batch to one file
        return FileOutcome(Path(job.path), job.display, error=f"internal error: {type(exc).__name__}: {exc}")


def _run_chunk(jobs: list[Job]) -> list[FileOutcome]:
    return [run_job(j) for j in jobs]


def _preload_modules() -> list[str]:
    """Modules the worker processes' fork server imports once, before forking the workers.

    BuildKit's parser (the ``dockerfile`` package) embeds the Go runtime, which
    does not survive ``fork()``: it must be imported by each worker, never by a
    process that forks. So workers come from a fork server that preloads only
    pure-Python and tree-sitter modules (tests/test_cli_bulk.py runs a pool).
    """
    import pkgutil

    import dockeropt.transforms as pkg

    mods = ["dockeropt.syntax", "dockeropt.shell", "dockeropt.rules", "dockeropt.edits", "dockeropt.analysis",
            "dockeropt.context"]
    mods += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]
    return mods


_passes_for = passes_for  # the old name


def run_all(
    jobs: Sequence[Job], *, workers: int = 1, progress: Callable[[int], None] | None = None
) -> list[FileOutcome]:
    """Fix every job; results in job order. ``progress(n)`` is called as files finish."""
    results: list[FileOutcome | None] = [None] * len(jobs)
    workers = max(1, workers)
    # a pool costs ~50-100 ms to start; small batches run faster in-process
    if workers == 1 or len(jobs) < 2 * workers or len(jobs) < 16:
        for i, j in enumerate(jobs):
            results[i] = run_job(j)
            if progress:
                progress(1)
        return [r for r in results if r is not None]

    import importlib
    import multiprocessing
    import sys
    import threading
    from concurrent.futures import ProcessPoolExecutor, as_completed

    try:
        if "dockerfile" not in sys.modules and threading.active_count() == 1:
            # this process has not loaded BuildKit's Go parser and runs no other thread (a progress
            # bar's refresh thread could hold a lock across fork): preload the pure modules here and
            # fork the workers straight from it, with no extra interpreter to start
            for mod in _preload_modules():
                importlib.import_module(mod)
            ctx = multiprocessing.get_context("fork")
        else:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(_preload_modules())
    except ValueError:  # pragma: no cover - platforms without fork
        ctx = multiprocessing.get_context("spawn")
    # chunks: few enough to keep IPC cheap, many enough to balance uneven files
    size = max(1, min(32, len(jobs) // (workers * 4)))
    chunks = [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(_run_chunk, c): c for c in chunks}
        for fut in as_completed(futures):
            chunk = futures[fut]
            try:
                outs = fut.result()
            except Exception as exc:  # a worker died: fail that chunk's files only
                outs = [
                    FileOutcome(Path(j.path), j.display, error=f"internal error: worker failed: {type(exc).__name__}")
                    for j in chunk
                ]
            for j, o in zip(chunk, outs):
                results[j.index] = o
            if progress:
                progress(len(chunk))
    return [r for r in results if r is not None]


# ----------------------------------------------------------------------------- summary


@dataclass
class Summary:
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    per_rule: Counter[str] = field(default_factory=Counter)  # applied changes per rule id
    notes_per_rule: Counter[str] = field(default_factory=Counter)
    size_before: int | None = None  # bytes of the final stages' base images, when the catalog knows them all
    size_after: int | None = None
    elapsed: float = 0.0

    @classmethod
    def of(cls, outcomes: Iterable[FileOutcome], extra_failures: int = 0) -> Summary:
        s = cls()
        before = after = 0
        sized = False
        for o in outcomes:
            s.scanned += 1
            if o.error is not None or o.result is None:
                s.failed += 1
                continue
            r = o.result
            if r.changed:
                s.changed += 1
            else:
                s.unchanged += 1
            s.per_rule.update(c.rule_id for c in r.applied)
            s.notes_per_rule.update(c.rule_id for c in r.notes)
            if r.changed:
                sizes = base_image_sizes(r.original, r.fixed)
                if sizes is not None:
                    before += sizes[0]
                    after += sizes[1]
                    sized = True
        s.scanned += extra_failures
        s.failed += extra_failures
        if sized:
            s.size_before, s.size_after = before, after
        return s

    def to_dict(self) -> dict:
        d: dict = {
            "scanned": self.scanned,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "changes_per_rule": dict(sorted(self.per_rule.items())),
            "notes_per_rule": dict(sorted(self.notes_per_rule.items())),
        }
        if self.size_before is not None and self.size_after is not None:
            d["base_image_bytes"] = {"before": self.size_before, "after": self.size_after}
        return d

    def render(self) -> str:
        lines = [
            f"dockeropt: {self.scanned} file{'s' if self.scanned != 1 else ''} scanned: "
            f"{self.changed} changed, {self.unchanged} unchanged, {self.failed} failed"
            + (f" ({self.elapsed:.2f} s)" if self.elapsed else "")
        ]
        if self.per_rule:
            from dockeropt.rules import load_passes

            names = {rid: cls.name for rid, cls in load_passes().items()}
            lines.append("changes per rule:")
            for rid, n in sorted(self.per_rule.items()):
                lines.append(f"  {rid} {names.get(rid, ''):<28} {n}")
        if self.size_before is not None and self.size_after is not None and self.size_before > 0:
            saved = self.size_before - self.size_after
            pct = 100.0 * saved / self.size_before
            lines.append(
                f"base images (final stages, changed files): {_mb(self.size_before)} -> {_mb(self.size_after)} "
                f"({pct:.0f}% smaller)"
            )
        return "\n".join(lines) + "\n"


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB"


def base_image_sizes(original: str, fixed: str) -> tuple[int, int] | None:
    """(before, after) size of the final stage's base image, when the catalog knows both."""
    lookup = _catalog_size_lookup()
    if lookup is None:
        return None
    a, b = _final_base(original), _final_base(fixed)
    if a is None or b is None:
        return None
    sa, sb = lookup(a), lookup(b)
    if not isinstance(sa, int) or not isinstance(sb, int):
        return None
    return sa, sb


_LOOKUP: list = []


def _catalog_size_lookup() -> Callable[[str], int | None] | None:
    """The base-image catalog's size in bytes for a reference, if the catalog offers sizes.

    Accepts a module-level ``image_size(ref)`` / ``size_of(ref)`` / ``compressed_size(ref)``
    function, or a ``size_bytes`` / ``compressed_size`` attribute on ``lookup(ref)``'s result.
    """
    if not _LOOKUP:
        fn = None
        try:
            from dockeropt.catalog import images

            for name in ("image_size", "size_of", "compressed_size"):
                cand = getattr(images, name, None)
                if callable(cand):
                    fn = cand
                    break
            if fn is None and callable(getattr(images, "lookup", None)):
                def fn(ref: str, _lookup: Callable = images.lookup) -> int | None:
                    info = _lookup(ref)
                    for attr in ("size_bytes", "compressed_size"):
                        v = getattr(info, attr, None)
                        if isinstance(v, int):
                            return v
                    return None
        except Exception:
            fn = None
        _LOOKUP.append(fn)
    fn = _LOOKUP[0]
    if fn is None:
        return None

    def safe(ref: str) -> int | None:
        try:
            v = fn(ref)
        except Exception:
            return None
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return safe


def _final_base(text: str) -> str | None:
    from dockeropt.syntax import parse

    try:
        doc = parse(text)
    except Exception:
        return None
    if not doc.stages:
        return None
    by_name = {st.name.lower(): st for st in doc.stages if st.name}
    st = doc.stages[-1]
    for _ in range(len(doc.stages)):  # follow FROM <earlier stage>
        prev = by_name.get(st.base.lower())
        if prev is None or prev.index >= st.index:
            break
        st = prev
    return st.base


# ----------------------------------------------------------------------------- reports


def service_of(display: str) -> str:
    """A Dockerfile's service: its folder (``.`` for the top folder)."""
    parent = display.rsplit("/", 1)[0] if "/" in display else "."
    return parent or "."


def report_data(outcomes: Sequence[FileOutcome], summary: Summary, extra_errors: Sequence[tuple[str, str]] = ()) -> dict:
    from dockeropt import __version__
    from dockeropt.formats import file_record

    services: dict[str, list[dict]] = {}
    for o in outcomes:
        services.setdefault(service_of(o.display), []).append(file_record(o, with_diff=True))
    for disp, err in extra_errors:
        services.setdefault(disp, []).append({"path": disp, "status": "failed", "error": err, "changes": []})
    return {
        "version": 1,
        "tool": {"name": "dockeropt", "version": __version__},
        "summary": summary.to_dict(),
        "services": [{"service": k, "files": v} for k, v in sorted(services.items())],
    }


def write_report(path: Path, data: dict) -> None:
    """``.json`` -> the report as JSON; anything else (``.md``) -> Markdown."""
    from dockeropt.runner import atomic_write

    if path.suffix.lower() == ".json":
        import json

        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        text = report_markdown(data)
    if path.exists():
        atomic_write(path, text)
    else:
        path.write_text(text, encoding="utf-8")


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def report_markdown(data: dict) -> str:
    s = data["summary"]
    out = [
        "# dockeropt migration report",
        "",
        f"{s['scanned']} Dockerfiles scanned: {s['changed']} changed, {s['unchanged']} unchanged, {s['failed']} failed.",
        "",
    ]
    if s["changes_per_rule"]:
        out += ["| rule | changes |", "|---|---|"]
        out += [f"| {rid} | {n} |" for rid, n in s["changes_per_rule"].items()]
        out.append("")
    if "base_image_bytes" in s:
        b = s["base_image_bytes"]
        out += [f"Base images of the final stages: {_mb(b['before'])} before, {_mb(b['after'])} after.", ""]
    for svc in data["services"]:
        out += [f"## {svc['service']}", ""]
        for f in svc["files"]:
            out.append(f"### `{f['path']}` — {f['status']}")
            out.append("")
            if f.get("error"):
                out += [f"Error: {f['error']}", ""]
                continue
            applied = [c for c in f["changes"] if c["applied"]]
            held = [c for c in f["changes"] if not c["applied"]]
            if applied:
                out += ["| line | rule | safety | change |", "|---|---|---|---|"]
                for c in applied:
                    out.append(f"| {c['line']} | {c['rule']} {c['name']} | {c['safety']} | {_md_escape(c['title'])} |")
                out.append("")
                for c in applied:
                    out.append(f"- **{c['rule']}, line {c['line']}:** {_md_escape(c['explanation'])}")
                out.append("")
            if held:
                out.append("Not applied (notes, or fixes held back by the safety level):")
                out.append("")
                for c in held:
                    out.append(f"- **{c['rule']}, line {c['line']}** ({c['safety']}): {_md_escape(c['title'])} — "
                               f"{_md_escape(c['explanation'])}")
                out.append("")
            if not applied and not held:
                out += ["Nothing to change.", ""]
            for w in f.get("warnings", []):
                out += [f"Warning: {w}", ""]
    return "\n".join(out).rstrip() + "\n"

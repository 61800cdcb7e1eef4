"""The ``dockeropt`` command line.

Startup matters (pre-commit hooks and editors run it often): heavy modules,
the parsers and the passes are imported inside the commands that need them.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dockeropt import __version__
from dockeropt.config import Config

if TYPE_CHECKING:
    from dockeropt.runner import FileOutcome
    from dockeropt.settings import FileSettings, Overrides

_app = typer.Typer(
    name="dockeropt",
    help="Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Modules that add their own subcommands through ``register(app)``. They are
# imported only when needed: not for the built-in commands (``fix``, ``rules``,
# ``explain``), which keeps ``dockeropt fix`` (a pre-commit hook) quick to start.
_EXTENSIONS: tuple[str, ...] = ("dockeropt.verify", "dockeropt.lsp", "dockeropt.checklist")

FORMATS = ("text", "json", "sarif", "github")


def _err(msg: str) -> None:
    sys.stderr.write(f"dockeropt: {msg}\n")


def _usage_error(msg: str) -> typer.Exit:
    _err(f"error: {msg}")
    return typer.Exit(2)


def _split(values: Optional[list[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip().upper() for x in v.split(",") if x.strip())
    return out


def _version(value: bool) -> None:
    if value:
        print(f"dockeropt {__version__}")
        raise typer.Exit(0)


@_app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change."""


def build_config(
    select: Optional[list[str]], ignore: Optional[list[str]], safe_only: bool, unsafe_fixes: bool
) -> Config:
    """A Config from command line flags alone (no configuration file)."""
    from dockeropt.rules import validate_selectors

    cfg = Config(select=_split(select), ignore=_split(ignore), safe_only=safe_only, unsafe_fixes=unsafe_fixes)
    if safe_only and unsafe_fixes:
        raise _usage_error("--safe-only and --unsafe-fixes contradict each other")
    bad = validate_selectors(cfg.select + cfg.ignore)
    if bad:
        raise _usage_error(f"unknown rule selector {bad[0]!r} (see 'dockeropt rules')")
    return cfg


def build_overrides(
    select: Optional[list[str]],
    ignore: Optional[list[str]],
    safe_only: Optional[bool],
    unsafe_fixes: Optional[bool],
    syntax_directive: Optional[bool] = None,
    exclude: Optional[list[str]] = None,
    resolve_digests: Optional[bool] = None,
) -> Overrides:
    """Command line flags as overrides of the configuration file."""
    from dockeropt.rules import validate_selectors
    from dockeropt.settings import Overrides

    if safe_only and unsafe_fixes:
        raise _usage_error("--safe-only and --unsafe-fixes contradict each other")
    sel, ign = _split(select), _split(ignore)
    bad = validate_selectors(sel + ign)
    if bad:
        raise _usage_error(f"unknown rule selector {bad[0]!r} (see 'dockeropt rules')")
    return Overrides(
        select=tuple(sel) if select else None,
        ignore=tuple(ign),
        safe_only=safe_only,
        unsafe_fixes=unsafe_fixes,
        syntax_directive=syntax_directive,
        exclude=tuple(exclude or ()),
        resolve_digests=resolve_digests,
    )


def report_outcome(o: FileOutcome, *, diff: bool, check: bool, stdin_mode: bool) -> None:
    """Print what happened to one file (text format)."""
    from dockeropt.report import explanations, outcome_patch

    if o.error is not None:
        _err(f"error: {o.display}: {o.error}")
        return
    r = o.result
    assert r is not None
    for e in r.errors:
        _err(f"warning: {o.display}: {e}")
    if not r.converged:
        _err(
            f"warning: {o.display}: fixes did not converge after {r.iterations} rounds "
            f"(still changing: {', '.join(r.nonconverged_rules)})"
        )
    text = explanations(o.display, r.applied, r.notes)
    if diff:
        sys.stdout.write(outcome_patch(o.display, r.original, r.fixed, r.files, o.context_root))
        sys.stdout.write(text)
    elif check:
        sys.stdout.write(text)
    elif stdin_mode:
        sys.stdout.write(r.fixed)
        sys.stderr.write(text)
    else:
        sys.stdout.write(text)


def _default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Progress:
    """A rich progress bar on standard error when it is a terminal; nothing otherwise."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        if enabled and total > 1 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("dockeropt"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._task = self._bar.add_task("fix", total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)


@_app.command()
def fix(
    paths: Annotated[
        list[str], typer.Argument(help="Dockerfiles or folders to search for them; '-' reads standard input.")
    ],
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff and the explanations; write nothing.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; print the explanations; exit 1 when changes are pending.")
    ] = False,
    context: Annotated[
        Optional[Path], typer.Option("--context", help="Build context folder (default: the Dockerfile's folder).")
    ] = None,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Rule ids or prefixes, comma-separated.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule ids or prefixes to skip.")] = None,
    safe_only: Annotated[Optional[bool], typer.Option("--safe-only", help="Apply only fixes marked safe.")] = None,
    unsafe_fixes: Annotated[
        Optional[bool], typer.Option("--unsafe-fixes", help="Also apply fixes marked unsafe.")
    ] = None,
    stdin_filename: Annotated[
        Optional[Path], typer.Option("--stdin-filename", help="Path to use for standard input (context and messages).")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Output: text, json, sarif or github (workflow annotations).")
    ] = "text",
    jobs: Annotated[
        Optional[int], typer.Option("--jobs", "-j", help="Worker processes for many files (default: CPU count).")
    ] = None,
    report: Annotated[
        Optional[Path], typer.Option("--report", help="Write a per-service migration report (.md or .json).")
    ] = None,
    syntax_directive: Annotated[
        Optional[bool],
        typer.Option("--syntax-directive/--no-syntax-directive", help="May passes add a '# syntax=' line?"),
    ] = None,
    exclude: Annotated[
        Optional[list[str]], typer.Option("--exclude", help="Gitignore-style pattern of files to skip in folders.")
    ] = None,
    config_file: Annotated[
        Optional[Path], typer.Option("--config", help="Use this .dockeropt.toml or pyproject.toml, not the nearest one.")
    ] = None,
    resolve_digests: Annotated[
        Optional[bool], typer.Option("--resolve-digests", help="Also pin base images to registry digests (DO303; needs the network).")
    ] = None,
) -> None:
    """Rewrite Dockerfiles in place, or show what would change (--diff, --check).

    Folders are searched for Dockerfile, Dockerfile.*, *.Dockerfile and Containerfile,
    skipping what .gitignore and the 'exclude' setting name.
    """
    started = time.perf_counter()
    from dockeropt.settings import ConfigError

    fmt = output_format.strip().lower()
    if fmt not in FORMATS:
        raise _usage_error(f"--format {output_format!r}: expected one of {', '.join(FORMATS)}")
    if jobs is not None and jobs < 1:
        raise _usage_error("--jobs must be at least 1")
    overrides = build_overrides(select, ignore, safe_only, unsafe_fixes, syntax_directive, exclude, resolve_digests)
    if context is not None and not context.is_dir():
        raise _usage_error(f"--context {context}: not a folder")
    if paths.count("-") > 1:
        raise _usage_error("'-' (standard input) can be given only once")
    try:
        _fix(paths, diff=diff, check=check, context=context, overrides=overrides, stdin_filename=stdin_filename,
             fmt=fmt, jobs=jobs, report=report, config_file=config_file, started=started)
    except ConfigError as exc:
        raise _usage_error(str(exc)) from None


def _fix(
    paths: list[str], *, diff: bool, check: bool, context: Path | None, overrides: Overrides,
    stdin_filename: Path | None, fmt: str, jobs: int | None, report: Path | None, config_file: Path | None,
    started: float,
) -> None:
    from dockeropt.migrate import Job, Summary, discover, run_all
    from dockeropt.report import display_path
    from dockeropt.settings import ConfigError, config_for, find_settings, is_excluded, load_file

    explicit: FileSettings | None = None
    if config_file is not None:
        if not config_file.is_file():
            raise _usage_error(f"--config {config_file}: no such file")
        explicit = load_file(config_file)
        if explicit is None:
            raise ConfigError(config_file, "tool.dockeropt", "no [tool.dockeropt] table in this file")

    def settings_of(p: Path) -> FileSettings | None:
        return explicit if explicit is not None else find_settings(p.parent if str(p.parent) else Path("."))

    def cfg_of(p: Path) -> Config:
        return config_for(p, overrides, settings=settings_of(p), search=False)

    def excluded(p: Path) -> bool:
        s = settings_of(p)
        cfg = cfg_of(p)
        return bool(cfg.exclude) and is_excluded(p, cfg, s.root if s is not None else Path("."))

    file_args = [p for p in paths if p != "-"]
    found = discover(paths, exclude=excluded)
    write = not (diff or check)
    jobs_list: list[Job] = []
    for i, p in enumerate(found.files):
        jobs_list.append(Job(i, str(p), display_path(p), cfg_of(p), str(context) if context else None, write))

    workers = jobs if jobs is not None else _default_jobs()
    text_mode = fmt == "text"
    with _Progress(len(jobs_list), enabled=text_mode) as bar:
        outcomes = run_all(jobs_list, workers=workers, progress=bar.advance)

    stdin_outcome = None
    if "-" in paths:
        from dockeropt.runner import fix_file

        display = display_path(stdin_filename) if stdin_filename else "-"
        ref = stdin_filename if stdin_filename is not None else Path("Dockerfile")
        cfg = cfg_of(ref)
        from dockeropt.migrate import _passes_for

        stdin_outcome = fix_file(None, config=cfg, display=display, context_dir=context,
                                 stdin_filename=stdin_filename, passes=_passes_for(cfg))

    # command-line order; a folder's Dockerfiles sorted by path
    ordered: list[tuple[FileOutcome, bool]] = []
    by_arg: dict[int, list[FileOutcome]] = {}
    for origin, o in zip(found.origins, outcomes):
        by_arg.setdefault(origin, []).append(o)
    for arg, raw in enumerate(paths):
        if raw == "-":
            assert stdin_outcome is not None
            ordered.append((stdin_outcome, True))
        else:
            ordered.extend((o, False) for o in by_arg.get(arg, []))

    all_outcomes = [o for o, _ in ordered]
    failed = bool(found.errors) or any(o.error is not None for o in all_outcomes)
    pending = any(o.result is not None and o.result.changed for o in all_outcomes)
    summary = Summary.of(all_outcomes, extra_failures=len(found.errors))
    summary.elapsed = time.perf_counter() - started

    for disp, err in found.errors:
        _err(f"error: {disp}: {err}")
    if text_mode:
        for o, is_stdin in ordered:
            report_outcome(o, diff=diff, check=check, stdin_mode=is_stdin)
    elif fmt == "json":
        from dockeropt.formats import to_json

        mode = "diff" if diff else "check" if check else "stdin" if stdin_outcome is not None and not file_args else "fix"
        sys.stdout.write(to_json(all_outcomes, summary.to_dict(), mode=mode, with_diff=diff))
    elif fmt == "sarif":
        from dockeropt.formats import to_sarif

        sys.stdout.write(to_sarif(all_outcomes))
    else:
        from dockeropt.formats import to_github

        sys.stdout.write(to_github(all_outcomes))
        for disp, err in found.errors:
            sys.stdout.write(f"::error title=dockeropt::{disp}: {err}\n")
    bulk = found.searched_dirs > 0 or len(all_outcomes) > 1
    if text_mode and bulk:
        sys.stderr.write(summary.render())
    if report is not None:
        from dockeropt.migrate import report_data, write_report

        try:
            write_report(report, report_data(all_outcomes, summary, found.errors))
        except OSError as exc:
            _err(f"error: --report {report}: cannot write: {exc.strerror or exc}")
            failed = True
    sys.stdout.flush()
    if failed:
        raise typer.Exit(2)
    if check and pending:
        raise typer.Exit(1)


@_app.command()
def rules() -> None:
    """List the rules."""
    from dockeropt.rules import load_passes

    for rid, cls in load_passes().items():
        doc = cls.doc()
        flag = " (opt-in)" if doc.opt_in else ""
        print(f"{rid}  {doc.name:<28} {doc.summary}{flag}")


@_app.command()
def explain(rule: Annotated[str, typer.Argument(help="A rule id (DO101) or name (split-dependency-copy).")]) -> None:
    """Print a rule's documentation."""
    from dockeropt.rules import load_passes

    passes = load_passes()
    key = rule.strip()
    cls = passes.get(key.upper()) or next((c for c in passes.values() if c.name == key.lower()), None)
    if cls is None:
        raise _usage_error(f"unknown rule {rule!r} (see 'dockeropt rules')")
    sys.stdout.write(cls.doc().render_text())


_CORE_COMMANDS = frozenset({"fix", "rules", "explain"})
_extensions_loaded = False


def _load_extensions() -> typer.Typer:
    global _extensions_loaded
    if not _extensions_loaded:
        _extensions_loaded = True
        for mod in _EXTENSIONS:
            importlib.import_module(mod).register(_app)
    return _app


def __getattr__(name: str) -> typer.Typer:
    # ``from dockeropt.cli import app``: the full application, extensions included
    if name == "app":
        return _load_extensions()
    raise AttributeError(name)


def run() -> None:
    first = next((a for a in sys.argv[1:] if not a.startswith("-")), None)
    if first not in _CORE_COMMANDS or any(a in ("--help", "-h") for a in sys.argv[1:2]):
        _load_extensions()
    _app()


if __name__ == "__main__":
    run()

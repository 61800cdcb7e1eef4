"""The ``dockeropt`` command line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from dockeropt import __version__
from dockeropt.config import Config
from dockeropt.report import display_path, explanations, unified_diff
from dockeropt.rules import load_passes, selected_passes, validate_selectors
from dockeropt.runner import FileOutcome, fix_file

app = typer.Typer(
    name="dockeropt",
    help="Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Modules that add their own subcommands through ``register(app)``.
_EXTENSIONS: tuple[str, ...] = ("dockeropt.verify",)


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


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change."""


def build_config(
    select: Optional[list[str]], ignore: Optional[list[str]], safe_only: bool, unsafe_fixes: bool
) -> Config:
    cfg = Config(select=_split(select), ignore=_split(ignore), safe_only=safe_only, unsafe_fixes=unsafe_fixes)
    if safe_only and unsafe_fixes:
        raise _usage_error("--safe-only and --unsafe-fixes contradict each other")
    bad = validate_selectors(cfg.select + cfg.ignore)
    if bad:
        raise _usage_error(f"unknown rule selector {bad[0]!r} (see 'dockeropt rules')")
    return cfg


def report_outcome(o: FileOutcome, *, diff: bool, check: bool, stdin_mode: bool) -> None:
    """Print what happened to one file."""
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
        sys.stdout.write(unified_diff(r.original, r.fixed, o.display))
        sys.stdout.write(text)
    elif check:
        sys.stdout.write(text)
    elif stdin_mode:
        sys.stdout.write(r.fixed)
        sys.stderr.write(text)
    else:
        sys.stdout.write(text)


@app.command()
def fix(
    paths: Annotated[list[str], typer.Argument(help="Dockerfiles to fix; '-' reads standard input.")],
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff and the explanations; write nothing.")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; print the explanations; exit 1 when changes are pending.")
    ] = False,
    context: Annotated[
        Optional[Path], typer.Option("--context", help="Build context folder (default: the Dockerfile's folder).")
    ] = None,
    select: Annotated[Optional[list[str]], typer.Option("--select", help="Rule ids or prefixes, comma-separated.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule ids or prefixes to skip.")] = None,
    safe_only: Annotated[bool, typer.Option("--safe-only", help="Apply only fixes marked safe.")] = False,
    unsafe_fixes: Annotated[bool, typer.Option("--unsafe-fixes", help="Also apply fixes marked unsafe.")] = False,
    stdin_filename: Annotated[
        Optional[Path], typer.Option("--stdin-filename", help="Path to use for standard input (context and messages).")
    ] = None,
) -> None:
    """Rewrite Dockerfiles in place, or show what would change (--diff, --check)."""
    config = build_config(select, ignore, safe_only, unsafe_fixes)
    if context is not None and not context.is_dir():
        raise _usage_error(f"--context {context}: not a folder")
    if paths.count("-") > 1:
        raise _usage_error("'-' (standard input) can be given only once")
    passes = selected_passes(config)
    pending = False
    failed = False
    for p in paths:
        stdin_mode = p == "-"
        if stdin_mode:
            display = display_path(stdin_filename) if stdin_filename else "-"
            o = fix_file(None, config=config, display=display, context_dir=context, stdin_filename=stdin_filename, passes=passes)
        else:
            path = Path(p)
            o = fix_file(path, config=config, display=display_path(path), context_dir=context, write=not (diff or check), passes=passes)
        report_outcome(o, diff=diff, check=check, stdin_mode=stdin_mode)
        if o.error is not None:
            failed = True
            if stdin_mode and not (diff or check):
                # keep the pipe whole: echo the input back unchanged is impossible (it was not read as text)
                pass
        elif o.result is not None and o.result.changed:
            pending = True
    if failed:
        raise typer.Exit(2)
    if check and pending:
        raise typer.Exit(1)


@app.command()
def rules() -> None:
    """List the rules."""
    for rid, cls in load_passes().items():
        doc = cls.doc()
        flag = " (opt-in)" if doc.opt_in else ""
        print(f"{rid}  {doc.name:<28} {doc.summary}{flag}")


@app.command()
def explain(rule: Annotated[str, typer.Argument(help="A rule id (DO101) or name (split-dependency-copy).")]) -> None:
    """Print a rule's documentation."""
    passes = load_passes()
    key = rule.strip()
    cls = passes.get(key.upper()) or next((c for c in passes.values() if c.name == key.lower()), None)
    if cls is None:
        raise _usage_error(f"unknown rule {rule!r} (see 'dockeropt rules')")
    sys.stdout.write(cls.doc().render_text())


for _mod in _EXTENSIONS:
    importlib.import_module(_mod).register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()

"""The ``dockeropt`` command line.

Start-up matters (pre-commit hooks and format-on-save run it on every call), so this module
imports nothing heavy: the arguments are parsed with :mod:`argparse`, and the parsers, the
passes, rich (colour, progress bar), pygls (``lsp``) and typer (``verify``, whose command is
written with it) are imported only by the commands that use them. ``benchmarks/bench_startup.py``
measures it.

Exit codes, for every command: 0 success, 1 changes are pending (``check``, ``fix --check``; not
with ``--exit-zero``), 2 an error (bad arguments, configuration or input; the message is one line
naming the file). No path through here ends in a traceback: anything unexpected becomes
``dockeropt: internal error: ...`` and exit 2 (``DOCKEROPT_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from dockeropt import __version__

TYPE_CHECKING = False  # typing itself is not imported: `dockeropt --version` and `--help` stay quick
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

    from dockeropt.config import Config
    from dockeropt.runner import FileOutcome
    from dockeropt.settings import Overrides

OUTPUT_FORMATS = ("text", "json", "sarif", "github", "checkstyle", "codeclimate", "gitlab")
FORMATS = OUTPUT_FORMATS  # the old name
COLOR_CHOICES = ("auto", "always", "never")


class UsageError(Exception):
    """A bad argument: printed as one line, exit 2."""


def _err(msg: str) -> None:
    sys.stderr.write(f"dockeropt: {msg}\n")


def _usage_error(msg: str) -> UsageError:
    return UsageError(msg)


def _split(values: Optional[list[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip().upper() for x in v.split(",") if x.strip())
    return out


def _split_patterns(values: Optional[list[str]]) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def build_overrides(
    select: Optional[list[str]],
    ignore: Optional[list[str]],
    safe_only: Optional[bool],
    unsafe_fixes: Optional[bool],
    syntax_directive: Optional[bool] = None,
    exclude: Optional[list[str]] = None,
    resolve_digests: Optional[bool] = None,
    extend_select: Optional[list[str]] = None,
    extend_ignore: Optional[list[str]] = None,
) -> Overrides:
    """Command line flags as overrides of the configuration file (UsageError on a bad selector)."""
    from dockeropt.rules import validate_selectors
    from dockeropt.settings import Overrides

    if safe_only and unsafe_fixes:
        raise _usage_error("--safe-only and --unsafe-fixes contradict each other")
    sel, ign, ext_sel, ext_ign = _split(select), _split(ignore), _split(extend_select), _split(extend_ignore)
    for flag, values in (("--select", sel), ("--ignore", ign), ("--extend-select", ext_sel),
                         ("--extend-ignore", ext_ign)):
        bad = validate_selectors(values)
        if bad:
            raise _usage_error(f"{flag}: unknown rule selector {bad[0]!r} (see 'dockeropt rules')")
    return Overrides(
        select=tuple(sel) if select else None,
        ignore=tuple(ign),
        extend_select=tuple(ext_sel),
        extend_ignore=tuple(ext_ign),
        safe_only=safe_only,
        unsafe_fixes=unsafe_fixes,
        syntax_directive=syntax_directive,
        exclude=tuple(_split_patterns(exclude)),
        resolve_digests=resolve_digests,
    )


def build_config(
    select: Optional[list[str]], ignore: Optional[list[str]], safe_only: bool, unsafe_fixes: bool,
    path: Path | None = None,
) -> Config:
    """The Config for ``path`` from its configuration file and these flags (the shared loader)."""
    from dockeropt.settings import load_config

    return load_config(path, build_overrides(select, ignore, safe_only or None, unsafe_fixes or None))


# ----------------------------------------------------------------------------- terminal output


def _env_color(stream: Any, choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def _width(stream: Any) -> int:
    """Explanations wrap to the terminal's width (``COLUMNS`` wins); 96 columns when not a terminal."""
    from dockeropt.report import DEFAULT_WIDTH

    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        pass
    return DEFAULT_WIDTH


class Printer:
    """Writes text output, in rich's colours when the stream is a terminal (or ``--color always``)."""

    def __init__(self, stream: Any, color: bool) -> None:
        self.stream = stream
        self.color = color
        self._console: Any = None
        if color:
            from rich.console import Console

            self._console = Console(file=stream, force_terminal=True, highlight=False, soft_wrap=True,
                                    emoji=False, markup=False)

    def write(self, text: str) -> None:
        if text:
            self.stream.write(text)

    def styled(self, text: str, style: str) -> None:
        if self._console is None or not style:
            self.write(text)
        else:
            from rich.text import Text

            self._console.print(Text(text, style=style), end="")

    def patch(self, text: str) -> None:
        if self._console is None:
            self.write(text)
            return
        for line in text.splitlines(keepends=True):
            style = ""
            if line.startswith(("+++", "---", "diff --git", "new file mode")):
                style = "bold"
            elif line.startswith("@@"):
                style = "cyan"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            self.styled(line, style)

    def blocks(self, text: str) -> None:
        """Explanation blocks: the head line of each block highlighted."""
        if self._console is None:
            self.write(text)
            return
        for line in text.splitlines(keepends=True):
            if line.startswith(" "):
                self.styled(line, "dim" if line.lstrip().startswith("(not applied") else "")
            else:
                head, sep, title = line.partition("): ")
                loc, _, rest = head.partition(" ")
                self.styled(loc + " ", "bold")
                safety = rest.rsplit("(", 1)[-1]
                style = {"safe": "green", "review": "yellow", "unsafe": "red"}.get(safety, "blue")
                self.styled(rest + sep, style)
                self.styled(title, "")


class Output:
    def __init__(self, out: Printer, err: Printer, width: int, quiet: bool = False) -> None:
        self.out, self.err, self.width, self.quiet = out, err, width, quiet

    def error(self, msg: str) -> None:
        self._say("error", "bold red", msg)

    def warning(self, msg: str) -> None:
        self._say("warning", "bold yellow", msg)

    def _say(self, level: str, style: str, msg: str) -> None:
        if self.err.color:
            self.err.styled("dockeropt: ", "bold")
            self.err.styled(level, style)
            self.err.write(": " + msg + "\n")
        else:
            _err(f"{level}: {msg}")


# ----------------------------------------------------------------------------- fix / check


class RunOptions:
    """What ``fix`` and ``check`` were asked to do."""

    def __init__(self, paths: list[str], mode: str, *, context: Path | None = None, overrides: Any = None,
                 stdin_filename: Path | None = None, fmt: str = "text", jobs: int | None = None,
                 report: Path | None = None, config_file: Path | None = None, show_fixes: bool = False,
                 statistics: bool = False, exit_zero: bool = False, force_exclude: bool = False,
                 quiet: bool = False, color: str = "auto", started: float | None = None,
                 fail_on_pending: bool | None = None) -> None:
        self.paths = paths
        self.mode = mode  # "fix" (write), "diff", "check"
        self.context = context
        self.overrides = overrides
        self.stdin_filename = stdin_filename
        self.fmt = fmt
        self.jobs = jobs
        self.report = report
        self.config_file = config_file
        self.show_fixes = show_fixes
        self.statistics = statistics
        self.exit_zero = exit_zero
        self.force_exclude = force_exclude
        self.quiet = quiet
        self.color = color
        self.fail_on_pending = mode == "check" if fail_on_pending is None else fail_on_pending  # exit 1 then
        self.started = time.perf_counter() if started is None else started


def report_outcome(o: FileOutcome, opts: RunOptions, io: Output, *, stdin_mode: bool) -> None:
    """Print what happened to one file (text format)."""
    from dockeropt.report import explanations, outcome_patch

    if o.error is not None:
        io.error(f"{o.display}: {o.error}")
        return
    r = o.result
    assert r is not None
    for line, w in r.warnings:
        io.warning(f"{o.display}:{line}: {w}")
    for e in r.errors:
        io.warning(f"{o.display}: {e}")
    if not r.converged:
        io.warning(f"{o.display}: fixes did not converge after {r.iterations} rounds "
                   f"(still changing: {', '.join(r.nonconverged_rules)})")
    patch = outcome_patch(o.display, r.original, r.fixed, r.files, o.context_root)
    blocks = "" if opts.statistics else explanations(o.display, r.applied, r.notes, io.width)
    if stdin_mode and opts.mode == "fix":
        sys.stdout.write(r.fixed)
        if not opts.quiet:
            if opts.show_fixes:
                io.err.patch(patch)
            io.err.blocks(blocks)
        return
    if opts.mode == "diff":
        io.out.patch(patch)
        if not opts.quiet:
            io.out.blocks(blocks)
        return
    if opts.mode == "check":
        io.out.blocks(blocks)  # the findings are what check prints, -q or not
        if opts.show_fixes:
            io.out.patch(patch)
        return
    # fix, written in place
    if opts.quiet:
        return
    if opts.show_fixes:
        io.out.patch(patch)
    io.out.blocks(blocks)


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


def _statistics(outcomes: list[FileOutcome]) -> list[dict]:
    """Per rule: how many changes (applied or pending) and how many notes (not applied)."""
    from collections import Counter

    fixes: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    names: dict[str, str] = {}
    for o in outcomes:
        if o.result is None:
            continue
        for c in o.result.applied:
            fixes[c.rule_id] += 1
            names[c.rule_id] = c.rule_name
        for c in o.result.notes:
            notes[c.rule_id] += 1
            names[c.rule_id] = c.rule_name
    rows = []
    for rid in sorted(set(fixes) | set(notes)):
        if fixes[rid]:
            rows.append({"code": rid, "name": names[rid], "count": fixes[rid], "fixable": True})
        if notes[rid]:
            rows.append({"code": rid, "name": names[rid], "count": notes[rid], "fixable": False})
    return rows


def run_fix(opts: RunOptions) -> int:
    """``fix`` and ``check``: returns the exit code."""
    from dockeropt.migrate import Job, Summary, discover, run_all
    from dockeropt.report import display_path
    from dockeropt.settings import Loader

    out_color = opts.fmt == "text" and _env_color(sys.stdout, opts.color)
    err_color = _env_color(sys.stderr, opts.color)
    io = Output(Printer(sys.stdout, out_color), Printer(sys.stderr, err_color), _width(sys.stdout), opts.quiet)
    loader = Loader(opts.overrides, opts.config_file)

    stdin_given = "-" in opts.paths
    explicit_excluded: set[int] = set()
    if opts.force_exclude:
        for i, raw in enumerate(opts.paths):
            if raw != "-" and not Path(raw).is_dir() and loader.excluded(Path(raw)):
                explicit_excluded.add(i)
    search = [p if i not in explicit_excluded else "-" for i, p in enumerate(opts.paths)]
    found = discover(search, exclude=loader.excluded)
    write = opts.mode == "fix"
    jobs_list: list[Job] = []
    for i, p in enumerate(found.files):
        jobs_list.append(Job(i, str(p), display_path(p), loader.config(p),
                             str(opts.context) if opts.context else None, write))

    workers = opts.jobs if opts.jobs is not None else _default_jobs()
    text_mode = opts.fmt == "text"
    with _Progress(len(jobs_list), enabled=text_mode and not opts.quiet) as bar:
        outcomes = run_all(jobs_list, workers=workers, progress=bar.advance)

    stdin_outcome = None
    stdin_skipped = False
    if stdin_given:
        from dockeropt.migrate import passes_for
        from dockeropt.runner import fix_file

        display = display_path(opts.stdin_filename) if opts.stdin_filename else "-"
        if opts.force_exclude and opts.stdin_filename is not None and loader.excluded(opts.stdin_filename):
            stdin_skipped = True
        else:
            cfg = loader.config(opts.stdin_filename)
            stdin_outcome = fix_file(None, config=cfg, display=display, context_dir=opts.context,
                                     stdin_filename=opts.stdin_filename, passes=passes_for(cfg))
    if stdin_skipped and opts.mode == "fix":
        # an excluded file given on standard input: handed back untouched (pre-commit, editors)
        from dockeropt.runner import read_stdin

        try:
            sys.stdout.write(read_stdin())
        except Exception as exc:
            io.error(f"-: {exc}")
            return 2

    # command-line order; a folder's Dockerfiles sorted by path
    ordered: list[tuple[FileOutcome, bool]] = []
    by_arg: dict[int, list[FileOutcome]] = {}
    for origin, o in zip(found.origins, outcomes):
        by_arg.setdefault(origin, []).append(o)
    for arg, raw in enumerate(opts.paths):
        if raw == "-":
            if stdin_outcome is not None:
                ordered.append((stdin_outcome, True))
        else:
            ordered.extend((o, False) for o in by_arg.get(arg, []))

    all_outcomes = [o for o, _ in ordered]
    failed = bool(found.errors) or any(o.error is not None for o in all_outcomes)
    pending = any(o.result is not None and o.result.changed for o in all_outcomes)
    summary = Summary.of(all_outcomes, extra_failures=len(found.errors))
    summary.elapsed = time.perf_counter() - opts.started

    for disp, err in found.errors:
        io.error(f"{disp}: {err}")
    for disp, warn in found.warnings:
        io.warning(f"{disp}: {warn}")
    fmt = opts.fmt
    if fmt == "text":
        for o, is_stdin in ordered:
            report_outcome(o, opts, io, stdin_mode=is_stdin)
        if opts.statistics:
            for row in _statistics(all_outcomes):
                mark = "[*]" if row["fixable"] else "[ ]"
                io.out.write(f"{row['count']:>5}  {row['code']}  {mark} {row['name']}\n")
    elif opts.statistics:  # json
        import json

        sys.stdout.write(json.dumps(_statistics(all_outcomes), indent=2) + "\n")
    elif fmt == "json":
        from dockeropt.formats import to_json

        mode = {"fix": "fix", "diff": "diff", "check": "check"}[opts.mode]
        if opts.mode == "fix" and stdin_outcome is not None and not found.files:
            mode = "stdin"
        sys.stdout.write(to_json(all_outcomes, summary.to_dict(), mode=mode, with_diff=opts.mode == "diff"))
    elif fmt == "sarif":
        from dockeropt.formats import to_sarif

        sys.stdout.write(to_sarif(all_outcomes))
    elif fmt == "github":
        from dockeropt.formats import to_github

        sys.stdout.write(to_github(all_outcomes))
        for disp, err in found.errors:
            sys.stdout.write(f"::error title=dockeropt::{disp}: {err}\n")
    elif fmt == "checkstyle":
        from dockeropt.formats import to_checkstyle

        sys.stdout.write(to_checkstyle(all_outcomes))
    else:  # codeclimate, gitlab
        from dockeropt.formats import to_codeclimate

        sys.stdout.write(to_codeclimate(all_outcomes))
    bulk = found.searched_dirs > 0 or len(all_outcomes) > 1
    if text_mode and bulk and not opts.quiet:
        sys.stderr.write(summary.render())
    if opts.report is not None:
        from dockeropt.migrate import report_data, write_report

        try:
            write_report(opts.report, report_data(all_outcomes, summary, found.errors))
        except OSError as exc:
            io.error(f"--report {opts.report}: cannot write: {exc.strerror or exc}")
            failed = True
    sys.stdout.flush()
    if failed:
        return 2
    if opts.fail_on_pending and pending and not opts.exit_zero:
        return 1
    return 0


def _fix_options(ns: argparse.Namespace, mode: str) -> RunOptions:
    fmt = (ns.output_format or "text").strip().lower()
    if fmt not in OUTPUT_FORMATS:
        raise _usage_error(f"--output-format {ns.output_format!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if ns.statistics and fmt not in ("text", "json"):
        raise _usage_error(f"--statistics prints text or json, not --output-format {fmt}")
    if ns.jobs is not None and ns.jobs < 1:
        raise _usage_error("--jobs must be at least 1")
    if ns.context is not None and not ns.context.is_dir():
        raise _usage_error(f"--context {ns.context}: not a folder")
    paths = list(ns.paths)
    if not paths:
        if mode == "check":
            paths = ["."]
        else:
            raise _usage_error("give the Dockerfiles or folders to fix ('.' for this folder, '-' for standard input)")
    if paths.count("-") > 1:
        raise _usage_error("'-' (standard input) can be given only once")
    if ns.stdin_filename is not None and "-" not in paths:
        raise _usage_error("--stdin-filename names standard input: also give '-'")
    overrides = build_overrides(ns.select, ns.ignore, ns.safe_only, ns.unsafe_fixes, ns.syntax_directive,
                                ns.exclude, ns.resolve_digests, ns.extend_select, ns.extend_ignore)
    fail_on_pending = mode == "check" or bool(getattr(ns, "check", False))  # fix --diff --check: both
    if mode == "fix":
        mode = "diff" if ns.diff else "check" if ns.check else "fix"
    return RunOptions(
        paths=paths, mode=mode, context=ns.context, overrides=overrides, stdin_filename=ns.stdin_filename,
        fmt=fmt, jobs=ns.jobs, report=ns.report, config_file=ns.config, show_fixes=ns.show_fixes,
        statistics=ns.statistics, exit_zero=ns.exit_zero, force_exclude=ns.force_exclude, quiet=ns.quiet,
        color=ns.color, fail_on_pending=fail_on_pending,
    )


# ----------------------------------------------------------------------------- argument parsing


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text: descriptions and epilogs as written, option help wrapped without splitting --flags."""

    def __init__(self, prog: str) -> None:
        import shutil

        width = min(shutil.get_terminal_size((100, 24)).columns, 110)
        super().__init__(prog, max_help_position=32, width=width)

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _add_rule_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rule selection (comma-separated ids or prefixes, e.g. DO1,DO301)")
    g.add_argument("--select", action="append", metavar="RULES",
                   help="Run only these rules (replaces the configuration's select).")
    g.add_argument("--extend-select", action="append", metavar="RULES",
                   help="Also run these rules, e.g. the opt-in DO304 (adds to what is selected).")
    g.add_argument("--ignore", action="append", metavar="RULES", help="Skip these rules.")
    g.add_argument("--extend-ignore", action="append", metavar="RULES", help="Skip these rules too (same as --ignore).")
    g.add_argument("--config", type=Path, metavar="FILE",
                   help="Use this .dockeropt.toml or pyproject.toml, not the nearest one.")


def _add_fix_options(p: argparse.ArgumentParser, *, check: bool) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="Dockerfiles, or folders to search for them; '-' reads standard input."
                   + (" Default: the current folder." if check else ""))
    if not check:
        p.add_argument("--diff", action="store_true", help="Print a unified diff and the explanations; write nothing.")
        p.add_argument("--check", action="store_true",
                       help="Write nothing; print the explanations; exit 1 when changes are pending (= dockeropt check); "
                            "with --diff, the diff too.")
    p.add_argument("--show-fixes", action="store_true",
                   help="Also print the diff of the fixes (what is written, or would be).")
    p.add_argument("--statistics", action="store_true",
                   help="Print one count per rule instead of each explanation; fixable changes are marked [*].")
    p.add_argument("--exit-zero", action="store_true", help="Exit 0 even when changes are pending (errors still exit 2).")
    p.add_argument("--output-format", "--format", dest="output_format", metavar="FORMAT", default=None,
                   help="text (default), json, sarif, github, checkstyle, codeclimate or gitlab.")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Print only what was asked for and errors: no explanations after a diff, no summary.")
    p.add_argument("--color", choices=COLOR_CHOICES, default="auto",
                   help="Colour the text output: auto (on a terminal, unless NO_COLOR is set), always, never.")
    _add_rule_options(p)
    g = p.add_argument_group("fixes")
    g.add_argument("--safe-only", action="store_const", const=True, default=None,
                   help="Apply only fixes marked safe.")
    g.add_argument("--unsafe-fixes", action="store_const", const=True, default=None,
                   help="Also apply fixes marked unsafe.")
    g.add_argument("--syntax-directive", dest="syntax_directive", action="store_const", const=True, default=None,
                   help="Passes may add a '# syntax=' line.")
    g.add_argument("--no-syntax-directive", dest="syntax_directive", action="store_const", const=False,
                   help="Passes may not add a '# syntax=' line (the default).")
    g.add_argument("--resolve-digests", action="store_const", const=True, default=None,
                   help="Also pin base images to registry digests (DO303; needs the network).")
    g = p.add_argument_group("files")
    g.add_argument("--context", type=Path, metavar="DIR", help="Build context folder (default: the Dockerfile's folder).")
    g.add_argument("--stdin-filename", type=Path, metavar="PATH",
                   help="The path of the Dockerfile given on standard input: its build context, configuration and "
                        "the name in messages.")
    g.add_argument("--exclude", action="append", metavar="PATTERNS",
                   help="Gitignore-style patterns (comma-separated) of files to skip in folders; adds to 'exclude'.")
    g.add_argument("--force-exclude", action="store_true",
                   help="Apply 'exclude' to files named on the command line and to --stdin-filename too (pre-commit).")
    g.add_argument("-j", "--jobs", type=int, metavar="N", help="Worker processes for many files (default: CPU count).")
    g.add_argument("--report", type=Path, metavar="FILE", help="Write a per-service migration report (.md or .json).")


EXIT_CODES = """exit codes:
  0  success: nothing to change, or the changes were written
  1  changes are pending (check, fix --check; not with --exit-zero)
  2  an error: bad arguments, a bad configuration file, or a file that cannot be read or fixed
"""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dockeropt",
        description="Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change.",
        formatter_class=_Formatter,
        epilog=EXIT_CODES + "\nRun 'dockeropt COMMAND --help' for a command's options.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="store_true", help="Print the version and exit.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    p = sub.add_parser("check", formatter_class=_Formatter, allow_abbrev=False, epilog=EXIT_CODES,
                       help="Report what dockeropt would change; write nothing (exit 1 when changes are pending).",
                       description="Report every change dockeropt would make, with its explanation, and every note;\n"
                                   "write nothing. Like 'ruff check': exit 1 when changes are pending.")
    _add_fix_options(p, check=True)
    p = sub.add_parser("fix", formatter_class=_Formatter, allow_abbrev=False, epilog=EXIT_CODES,
                       help="Rewrite Dockerfiles in place, or show what would change (--diff, --check).",
                       description="Rewrite Dockerfiles in place, or show what would change (--diff, --check).\n\n"
                                   "Folders are searched for Dockerfile, Dockerfile.*, *.Dockerfile, dockerfile and\n"
                                   "Containerfile, skipping what .gitignore and the 'exclude' setting name.")
    _add_fix_options(p, check=False)
    sub.add_parser("rules", help="List the rules.", description="List the rules.")
    p = sub.add_parser("explain", help="Print a rule's documentation.", description="Print a rule's documentation.")
    p.add_argument("rule", metavar="RULE", help="A rule id (DO101) or name (split-dependency-copy).")
    p = sub.add_parser("report", formatter_class=_Formatter, allow_abbrev=False,
                       help="Score Dockerfiles against the optimisation checklist.",
                       description="Score Dockerfiles against the optimisation checklist (passed, fixed by dockeropt,\n"
                                   "needs a human, opt-in, not applicable). Writes nothing but --output.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="Dockerfiles or folders to search for them.")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="Write the markdown report to this file.")
    p.add_argument("--context", type=Path, metavar="DIR", help="Build context folder (default: each Dockerfile's folder).")
    _add_rule_options(p)
    p = sub.add_parser("lsp", help="Run the language server (LSP over stdio) for editors.",
                       description="Run the language server (LSP over standard input/output) for editors.")
    p.add_argument("--stdio", action="store_true", help="Talk LSP over standard input/output (the only transport).")
    sub.add_parser("verify", add_help=False, help="Build before and after 'fix' and compare size, speed and behaviour.")
    return parser


def _report(ns: argparse.Namespace) -> int:
    from dockeropt.checklist import run_report

    overrides = build_overrides(ns.select, ns.ignore, None, None, extend_select=ns.extend_select,
                                extend_ignore=ns.extend_ignore)
    return run_report(ns.paths, output=ns.output, context=ns.context, overrides=overrides, config_file=ns.config)


def _rules() -> int:
    from dockeropt.rules import load_passes

    for rid, cls in load_passes().items():
        doc = cls.doc()
        flag = " (opt-in)" if doc.opt_in else ""
        print(f"{rid}  {doc.name:<28} {doc.summary}{flag}")
    return 0


def _explain(rule: str) -> int:
    from dockeropt.rules import load_passes

    passes = load_passes()
    key = rule.strip()
    cls = passes.get(key.upper()) or next((c for c in passes.values() if c.name == key.lower()), None)
    if cls is None:
        raise _usage_error(f"unknown rule {rule!r} (see 'dockeropt rules')")
    sys.stdout.write(cls.doc().render_text())
    return 0


def typer_app() -> Any:
    """The ``verify`` command is written with typer (dockeropt.verify); this app runs it."""
    import typer

    from dockeropt import verify

    app = typer.Typer(name="dockeropt", add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                      no_args_is_help=True)

    @app.callback()
    def _main() -> None:
        """Rewrite Dockerfiles for smaller images and faster rebuilds, explaining every change."""

    verify.register(app)
    return app


def __getattr__(name: str) -> Any:
    # ``from dockeropt.cli import app``: a typer application with ``verify`` (its tests use typer's runner)
    if name == "app":
        return typer_app()
    raise AttributeError(name)


def _verify_command() -> Any:
    """The click command typer makes of ``verify``, with plain metavars in its help (FILE, not <path>)."""
    import typer.main

    group = typer.main.get_command(typer_app())
    names = {"dockerfile": "DOCKERFILE", "context": "DIR", "app": "FILE", "select": "RULES", "ignore": "RULES",
             "port": "PORT", "timeout": "SECONDS", "touch": "FILE", "builder": "NAME", "http": "PATH",
             "smoke_cmd": "ARGS", "expect": "TEXT", "port_env": "NAME", "app_spec": "FILE"}
    for cmd in getattr(group, "commands", {}).values():
        for param in cmd.params:
            if getattr(param, "metavar", None) is None and not getattr(param, "is_flag", False):
                param.metavar = names.get(param.name or "", (param.name or "value").upper())
    return group


def _verify(argv: list[str]) -> int:
    try:
        _verify_command().main(["verify", *argv], prog_name="dockeropt", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises for bad input)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "verify":
        return _verify(args[1:])
    parser = make_parser()

    def fail(message: str) -> NoReturn:
        raise UsageError(message)

    for p in [parser, *_subparsers(parser)]:
        p.error = fail  # type: ignore[method-assign]
    ns = parser.parse_args(args)
    if ns.version:
        print(f"dockeropt {__version__}")
        return 0
    if ns.command is None:
        parser.print_help()
        return 2
    if ns.command in ("fix", "check"):
        return run_fix(_fix_options(ns, ns.command))
    if ns.command == "rules":
        return _rules()
    if ns.command == "explain":
        return _explain(ns.rule)
    if ns.command == "report":
        return _report(ns)
    if ns.command == "lsp":
        from dockeropt.lsp import lsp_command

        lsp_command()
        return 0
    raise UsageError(f"unknown command {ns.command!r}")  # pragma: no cover - argparse rejects it first


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.extend(action.choices.values())
    return out


def run() -> None:
    """The ``dockeropt`` console script."""
    code = 2
    try:
        code = main()
    except UsageError as exc:
        _err(f"error: {exc}")
        code = 2
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except BrokenPipeError:
        # the reader went away (| head): not an error of ours
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        code = 0
    except Exception as exc:  # never a traceback for the user
        if os.environ.get("DOCKEROPT_DEBUG"):
            raise
        _err(f"internal error: {type(exc).__name__}: {exc} (set DOCKEROPT_DEBUG=1 for the traceback)")
        code = 2
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        pass
    sys.exit(code)


if __name__ == "__main__":
    run()

"""``dockeropt report``: score Dockerfiles against the image-optimisation checklist.

Each checklist item maps to the rules that check it. Running every rule
(opt-in ones too) in memory on a Dockerfile tells, per item, whether it

* **passed**: no rule of the item finds anything;
* is **fixed by dockeropt**: `dockeropt fix` applies a fix for it;
* **needs a human**: a rule reports it, but only as a note, or with a fix the
  current safety level holds back.

The result is markdown (a table per Dockerfile and a summary), made to paste
into a migration report. Nothing is written except ``--output``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from dockeropt.config import Config

PASSED = "passed"
FIXED = "fixed by dockeropt"
HUMAN = "needs a human"
ERROR = "error"

# (area, item, rule ids): the order of the report
CHECKLIST: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Base image", "Version tag, not `latest`", ("DO303",)),
    ("Base image", "Small base (slim variant)", ("DO202",)),
    ("Base image", "Separate runtime stage", ("DO201",)),
    ("Layers", "`apt-get update` in the same RUN as the install", ("DO103",)),
    ("Layers", "Package installs merged into one layer", ("DO109",)),
    ("Layers", "COPY for local files, not ADD", ("DO110",)),
    ("Layers", "WORKDIR instead of `cd`", ("DO111",)),
    ("Caching", "Dependencies install before the source copy", ("DO101",)),
    ("Caching", "Cache mounts for package managers", ("DO102",)),
    ("Caching", "Lockfile-exact installs", ("DO108",)),
    ("Caching", "`.dockerignore` keeps the context small", ("DO203",)),
    ("Caching", "Shared build cache for compose services", ("DO112",)),
    ("Security", "No secrets in ARG or ENV", ("DO302",)),
    ("Security", "Runs as a non-root user", ("DO301",)),
    ("Security", "Vulnerability scan stage", ("DO304",)),
    ("Size", "No package-manager caches and recommends in layers", ("DO104", "DO105")),
    ("Size", "pip without its download cache", ("DO106",)),
    ("Size", "npm installs for production", ("DO107",)),
    ("Runtime", "CMD and ENTRYPOINT in exec form", ("DO401",)),
    ("Runtime", "An init as PID 1 for launchers", ("DO402",)),
    ("Runtime", "HEALTHCHECK", ("DO403",)),
)


@dataclass
class Item:
    area: str
    item: str
    rules: tuple[str, ...]
    status: str
    detail: str = ""
    opt_in: bool = False


@dataclass
class FileReport:
    display: str
    items: list[Item] = field(default_factory=list)
    error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    @property
    def total(self) -> int:
        return len(self.items)


def _md(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def score_file(path: Path, *, display: str, config: Config | None = None, context_dir: Path | None = None) -> FileReport:
    """Run every rule on one Dockerfile (nothing written) and fill in the checklist.

    An item *passed* when its rules find nothing in the file as it is; it is
    *fixed by dockeropt* when they do, and find nothing left after `dockeropt
    fix` (all rules, opt-in ones too); otherwise it *needs a human*.
    """
    from dockeropt.pipeline import InputError, fix_text, load, run_passes
    from dockeropt.rules import PassContext, load_passes, selected_passes
    from dockeropt.runner import make_context, read_path
    from dockeropt.syntax import parse

    registry = load_passes()
    base = config or Config()
    cfg = Config(**{**base.__dict__, "select": list(registry), "ignore": list(base.ignore)})
    out = FileReport(display)
    try:
        text = read_path(path)
        ctx = PassContext(config=cfg, path=path, context=make_context(path, context_dir))
        passes = selected_passes(cfg)
        ctx.enabled_rules = frozenset(p.id for p in passes)
        before, _ = run_passes(load(text), ctx, passes)
        result = fix_text(text, ctx, passes)  # the build context's overlay now holds the fixed files
        after, _ = run_passes(parse(result.fixed), ctx, passes)
    except (InputError, OSError) as exc:
        out.error = str(exc) if isinstance(exc, InputError) else (exc.strerror or str(exc))
        return out
    for area, label, rules in CHECKLIST:
        present = [rid for rid in rules if rid in registry]
        if not present:
            continue
        found = [c for c in before if c.rule_id in present]
        left = [c for c in after if c.rule_id in present]
        applied = [c for c in result.applied if c.rule_id in present]
        opt_in = all(not registry[rid].default_enabled for rid in present)
        if left:
            status = HUMAN
            detail = "; ".join(dict.fromkeys(c.title for c in left))
        elif found or applied:
            status = FIXED
            detail = "; ".join(dict.fromkeys(c.title for c in (applied or found)))
            if opt_in:
                detail += f" (opt-in: `dockeropt fix --select {','.join(present)}`)"
        else:
            status, detail = PASSED, ""
        out.items.append(Item(area, label, tuple(present), status, detail, opt_in))
    return out


def render_markdown(reports: list[FileReport]) -> str:
    lines = ["# Dockerfile optimisation checklist", ""]
    if len(reports) > 1:
        lines += ["| Dockerfile | passed | fixed by dockeropt | needs a human |", "|---|---|---|---|"]
        for rep in reports:
            if rep.error:
                lines.append(f"| `{rep.display}` | error: {_md(rep.error)} | | |")
            else:
                lines.append(f"| `{rep.display}` | {rep.count(PASSED)}/{rep.total} | {rep.count(FIXED)} | {rep.count(HUMAN)} |")
        lines.append("")
    for rep in reports:
        lines += [f"## `{rep.display}`", ""]
        if rep.error:
            lines += [f"Not scored: {rep.error}", ""]
            continue
        after = rep.count(PASSED) + rep.count(FIXED)
        lines += [
            f"{rep.count(PASSED)} of {rep.total} items pass today; {after} of {rep.total} after `dockeropt fix`; "
            f"{rep.count(HUMAN)} {'needs' if rep.count(HUMAN) == 1 else 'need'} a human.",
            "",
            "| Area | Item | Rules | Status | Details |",
            "|---|---|---|---|---|",
        ]
        for it in rep.items:
            lines.append(f"| {it.area} | {_md(it.item)} | {', '.join(it.rules)} | {it.status} | {_md(it.detail)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def report_command(
    paths: Annotated[list[str], typer.Argument(help="Dockerfiles or folders to search for them.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the markdown report to this file.")] = None,
    context: Annotated[
        Optional[Path], typer.Option("--context", help="Build context folder (default: each Dockerfile's folder).")
    ] = None,
) -> None:
    """Score Dockerfiles against the optimisation checklist (passed, fixed by dockeropt, needs a human)."""
    from dockeropt.migrate import discover
    from dockeropt.report import display_path
    from dockeropt.settings import ConfigError, config_for

    if context is not None and not context.is_dir():
        sys.stderr.write(f"dockeropt: error: --context {context}: not a folder\n")
        raise typer.Exit(2)
    found = discover(paths)
    reports: list[FileReport] = []
    for p in found.files:
        try:
            cfg = config_for(p, None)
        except ConfigError as exc:
            sys.stderr.write(f"dockeropt: error: {exc}\n")
            raise typer.Exit(2) from None
        reports.append(score_file(p, display=display_path(p), config=cfg, context_dir=context))
    for disp, err in found.errors:
        reports.append(FileReport(disp, error=err))
    if not reports:
        sys.stderr.write("dockeropt: error: no Dockerfiles found\n")
        raise typer.Exit(2)
    text = render_markdown(reports)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"dockeropt: error: --output {output}: cannot write: {exc.strerror or exc}\n")
            raise typer.Exit(2) from None
        for rep in reports:
            if rep.error:
                sys.stdout.write(f"{rep.display}: error: {rep.error}\n")
            else:
                sys.stdout.write(f"{rep.display}: {rep.count(PASSED)}/{rep.total} passed, {rep.count(FIXED)} fixed by dockeropt, "
                                 f"{rep.count(HUMAN)} need a human\n")
        sys.stdout.write(f"wrote {output}\n")
    else:
        sys.stdout.write(text)
    if any(rep.error for rep in reports):
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)

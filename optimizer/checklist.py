"""``dockeropt report``: score Dockerfiles against the image-optimisation checklist.

Each checklist item maps to the rules that check it. Every rule (opt-in ones too) runs in
memory on the Dockerfile as it is, and the rules the configuration enables run ``dockeropt
fix`` on it; per item the status is

* **passed**: the item applies to this Dockerfile and no rule of it finds anything;
* **fixed by dockeropt**: ``dockeropt fix`` (with this configuration) takes care of it;
* **needs a human**: a rule reports it, but only as a note, or with a fix the current safety
  level holds back;
* **opt-in**: only an opt-in rule (DO304) checks it, the configuration does not enable that
  rule, and the Dockerfile does not do it yet: ``dockeropt fix --extend-select DO304`` would;
* **ignored**: the configuration switches the item's rules off, and they would find something;
* **not applicable**: the Dockerfile has nothing the item is about (no npm, no pip, no
  compose file, no EXPOSE for a health check, ...).

Only applicable items count: "3 of 15 applicable items pass today"; opt-in, ignored and not
applicable items are never counted as passed. The result is markdown (a table per Dockerfile
and a summary), made to paste into a migration report. Nothing is written except ``--output``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockeropt.config import Config

PASSED = "passed"
FIXED = "fixed by dockeropt"
HUMAN = "needs a human"
OPT_IN = "opt-in"
IGNORED = "ignored"
NOT_APPLICABLE = "not applicable"
ERROR = "error"
COUNTED = (PASSED, FIXED, HUMAN, OPT_IN, IGNORED)  # applicable items

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


_SYSTEM_PM = re.compile(r"\b(apt-get|apt|apk|dnf|yum|microdnf|zypper|tdnf)\b")
_PIP = re.compile(r"\b(pip3?(\.\d+)?|python3?(\.\d+)? -m pip)\b")
_NPM = re.compile(r"\bnpm\b")
_LANG_PM = re.compile(r"\b(npm|yarn|pnpm|pip3?|pipenv|poetry|uv|go (mod|build|install|get)|bundle|gem|composer|mvn|"
                      r"mvnw|gradle|gradlew|cargo|dotnet (restore|publish|build))\b")
_ANY_PM = re.compile(_SYSTEM_PM.pattern + "|" + _LANG_PM.pattern)
_COMPOSE = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")


@dataclass(frozen=True)
class Facts:
    """What the Dockerfile has, to tell "passed" from "not applicable"."""

    runs: str  # every RUN's logical text, one per line
    keywords: frozenset[str]
    bases: tuple[str, ...]  # FROM images that are not earlier stages
    has_context: bool
    has_compose: bool
    max_runs_in_a_stage: int

    def runs_any(self, rx: re.Pattern[str]) -> bool:
        return bool(rx.search(self.runs))


def facts_of(doc: object, context: object | None) -> Facts:
    from dockeropt.syntax import Dockerfile

    assert isinstance(doc, Dockerfile)
    runs = "\n".join(i.logical.text for i in doc.walk() if i.keyword == "RUN")
    names = {st.name.lower() for st in doc.stages if st.name}
    bases = tuple(st.base for st in doc.stages if st.base.lower() not in names)
    has_compose = False
    root = getattr(context, "root", None)
    if isinstance(root, Path):
        has_compose = any((root / n).is_file() for n in _COMPOSE)
    return Facts(runs, frozenset(i.keyword for i in doc.walk()), bases, root is not None, has_compose,
                 max((sum(1 for i in st.instructions if i.keyword == "RUN") for st in doc.stages), default=0))


# rule id -> does the item apply to this Dockerfile?
APPLIES: dict[str, Callable[[Facts], bool]] = {
    "DO303": lambda f: any(b.lower() != "scratch" for b in f.bases),
    "DO202": lambda f: any(b.lower() != "scratch" for b in f.bases),
    "DO103": lambda f: f.runs_any(re.compile(r"\bapt(-get)?\b")),
    "DO109": lambda f: f.max_runs_in_a_stage >= 2 and f.runs_any(_ANY_PM),
    "DO110": lambda f: bool({"ADD", "COPY"} & f.keywords),
    "DO111": lambda f: "RUN" in f.keywords,
    "DO101": lambda f: f.runs_any(_LANG_PM),
    "DO102": lambda f: f.runs_any(_ANY_PM),
    "DO108": lambda f: f.runs_any(_LANG_PM),
    "DO203": lambda f: f.has_context and bool({"ADD", "COPY"} & f.keywords),
    "DO112": lambda f: f.has_compose,
    "DO302": lambda f: bool({"ARG", "ENV"} & f.keywords),
    "DO104": lambda f: f.runs_any(_SYSTEM_PM),
    "DO105": lambda f: f.runs_any(_SYSTEM_PM),
    "DO106": lambda f: f.runs_any(_PIP),
    "DO107": lambda f: f.runs_any(_NPM),
    "DO401": lambda f: bool({"CMD", "ENTRYPOINT"} & f.keywords),
    "DO402": lambda f: bool({"CMD", "ENTRYPOINT"} & f.keywords),
    "DO403": lambda f: bool({"EXPOSE", "HEALTHCHECK"} & f.keywords),
}


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
        """Applicable items (opt-in and ignored ones included; not-applicable ones not)."""
        return sum(1 for i in self.items if i.status in COUNTED)


def _md(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def score_file(path: Path, *, display: str, config: Config | None = None, context_dir: Path | None = None) -> FileReport:
    """Score one Dockerfile (nothing written); see the module docstring for the statuses."""
    from dockeropt.pipeline import InputError, fix_text, load, run_passes
    from dockeropt.rules import PassContext, load_passes, selected_passes
    from dockeropt.runner import make_context, read_path
    from dockeropt.syntax import parse

    registry = load_passes()
    cfg = config or Config()
    every = Config(**{**cfg.__dict__, "select": list(registry), "ignore": []})
    out = FileReport(display)
    try:
        text = read_path(path)
        doc = load(text)
        fix_ctx = PassContext(config=cfg, path=path, context=make_context(path, context_dir))
        enabled_passes = selected_passes(cfg)
        enabled = {p.id for p in enabled_passes}
        result = fix_text(text, fix_ctx, enabled_passes)  # what `dockeropt fix` does with this configuration
        all_passes = selected_passes(every)
        before_ctx = PassContext(config=every, path=path, context=make_context(path, context_dir))
        before_ctx.enabled_rules = frozenset(p.id for p in all_passes)
        before, _ = run_passes(doc, before_ctx, all_passes)
        after_ctx = PassContext(config=every, path=path, context=make_context(path, context_dir))
        for rel, (_old, new) in result.files.items():
            if after_ctx.context is not None:
                after_ctx.context.set_overlay(rel, new)
        after_ctx.enabled_rules = before_ctx.enabled_rules
        after, _ = run_passes(parse(result.fixed), after_ctx, all_passes)
        facts = facts_of(doc, fix_ctx.context)
    except (InputError, OSError) as exc:
        out.error = str(exc) if isinstance(exc, InputError) else (exc.strerror or str(exc))
        return out
    for area, label, rules in CHECKLIST:
        present = [rid for rid in rules if rid in registry]
        if not present:
            continue
        opt_in = all(not registry[rid].default_enabled for rid in present)
        found = [c for c in before if c.rule_id in present]
        left = [c for c in after if c.rule_id in present]
        applied = [c for c in result.applied if c.rule_id in present]
        on = [rid for rid in present if rid in enabled]
        if not found and not applied and not left:
            applies = any(APPLIES.get(rid, lambda f: True)(facts) for rid in present)
            status, detail = (PASSED, "") if applies else (NOT_APPLICABLE, "")
        elif not on:
            titles = "; ".join(dict.fromkeys(c.title for c in found or left))
            if opt_in:
                status = OPT_IN
                detail = f"{titles} (`dockeropt fix --extend-select {','.join(present)}`)"
            else:
                status, detail = IGNORED, f"{titles} (the configuration ignores {', '.join(present)})"
        elif [c for c in left if c.rule_id in on]:
            status = HUMAN
            detail = "; ".join(dict.fromkeys(c.title for c in left if c.rule_id in on))
        else:
            status = FIXED
            detail = "; ".join(dict.fromkeys(c.title for c in (applied or found)))
        out.items.append(Item(area, label, tuple(present), status, detail, opt_in))
    return out


def _others(rep: FileReport) -> str:
    parts = []
    for status, word in ((OPT_IN, "opt-in"), (IGNORED, "ignored"), (NOT_APPLICABLE, "not applicable")):
        n = rep.count(status)
        if n:
            parts.append(f"{n} {word}")
    return ", ".join(parts)


def render_markdown(reports: list[FileReport]) -> str:
    lines = ["# Dockerfile optimisation checklist", ""]
    if len(reports) > 1:
        lines += ["| Dockerfile | passed | fixed by dockeropt | needs a human | opt-in | not applicable |",
                  "|---|---|---|---|---|---|"]
        for rep in reports:
            if rep.error:
                lines.append(f"| `{rep.display}` | error: {_md(rep.error)} | | | | |")
            else:
                lines.append(f"| `{rep.display}` | {rep.count(PASSED)}/{rep.total} | {rep.count(FIXED)} | "
                             f"{rep.count(HUMAN)} | {rep.count(OPT_IN)} | {rep.count(NOT_APPLICABLE)} |")
        lines.append("")
    for rep in reports:
        lines += [f"## `{rep.display}`", ""]
        if rep.error:
            lines += [f"Not scored: {rep.error}", ""]
            continue
        after = rep.count(PASSED) + rep.count(FIXED)
        human = rep.count(HUMAN)
        others = _others(rep)
        lines += [
            f"{rep.count(PASSED)} of {rep.total} applicable items pass today; {after} of {rep.total} after "
            f"`dockeropt fix`; {human} {'needs' if human == 1 else 'need'} a human."
            + (f" Not counted as passing: {others}." if others else ""),
            "",
            "| Area | Item | Rules | Status | Details |",
            "|---|---|---|---|---|",
        ]
        for it in rep.items:
            lines.append(f"| {it.area} | {_md(it.item)} | {', '.join(it.rules)} | {it.status} | {_md(it.detail)} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def run_report(paths: list[str], *, output: Path | None, context: Path | None, overrides: object | None = None,
               config_file: Path | None = None) -> int:
    """``dockeropt report``: returns the exit code (2 when a file could not be scored)."""
    from dockeropt.migrate import discover
    from dockeropt.report import display_path
    from dockeropt.settings import ConfigError, Loader

    def err(msg: str) -> None:
        sys.stderr.write(f"dockeropt: error: {msg}\n")

    if context is not None and not context.is_dir():
        err(f"--context {context}: not a folder")
        return 2
    try:
        loader = Loader(overrides, config_file)  # type: ignore[arg-type]
    except ConfigError as exc:
        err(str(exc))
        return 2
    found = discover(paths, exclude=loader.excluded)
    reports: list[FileReport] = []
    for p in found.files:
        try:
            cfg = loader.config(p)
        except ConfigError as exc:
            err(str(exc))
            return 2
        reports.append(score_file(p, display=display_path(p), config=cfg, context_dir=context))
    for disp, e in found.errors:
        reports.append(FileReport(disp, error=e))
    for disp, w in found.warnings:
        sys.stderr.write(f"dockeropt: warning: {disp}: {w}\n")
    if not reports:
        err("no Dockerfiles found")
        return 2
    text = render_markdown(reports)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            err(f"--output {output}: cannot write: {exc.strerror or exc}")
            return 2
        for rep in reports:
            if rep.error:
                sys.stdout.write(f"{rep.display}: error: {rep.error}\n")
            else:
                others = _others(rep)
                sys.stdout.write(f"{rep.display}: {rep.count(PASSED)}/{rep.total} passed, {rep.count(FIXED)} fixed by "
                                 f"dockeropt, {rep.count(HUMAN)} need a human" + (f" ({others})" if others else "") + "\n")
        sys.stdout.write(f"wrote {output}\n")
    else:
        sys.stdout.write(text)
    return 2 if any(rep.error for rep in reports) else 0

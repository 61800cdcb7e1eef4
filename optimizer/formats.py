"""Machine-readable output: JSON, SARIF 2.1.0, GitHub workflow commands, Checkstyle XML and
Code Climate / GitLab Code Quality JSON (``--output-format``).

Positions: lines are 1-based and refer to the ORIGINAL file. Edits are
``[start, end)`` offsets into the original text counted in Unicode code points
(a UTF-8 BOM, when present, is code point 0). A change's edits are its own
(``FixResult.fixes``): changes whose edits cannot be told apart share one fix,
on one change that says so. The JSON layout is described in docs/json-schema.md
and docs/dockeropt-output.schema.json; ``version`` changes only when a field is
removed or changes meaning.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from dockeropt.edits import Change, Edit
from dockeropt.pipeline import FixResult
from dockeropt.report import split_lines
from dockeropt.runner import FileOutcome
from dockeropt.source import LineIndex

JSON_VERSION = 2
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


@dataclass(frozen=True)
class Hunk:
    """One replacement turning the original text into the fixed text."""

    start: int  # code point offset into the original text
    end: int
    text: str
    start_line: int  # 1-based, original
    end_line: int  # 1-based, inclusive; start_line - 1 for a pure insertion

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "start_line": self.start_line, "end_line": self.end_line,
                "text": self.text}


def hunks(original: str, fixed: str) -> list[Hunk]:
    """Line-granular replacements from ``original`` to ``fixed`` (non-overlapping, in order)."""
    if original == fixed:
        return []
    a, b = split_lines(original), split_lines(fixed)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        out.append(Hunk(starts[i1], starts[i2], "".join(b[j1:j2]), i1 + 1, i2))
    return out


def _edit_hunk(original: str, lines: LineIndex, e: Edit) -> Hunk:
    start_line = lines.line_of(e.range.start) + 1
    end_line = lines.line_of(e.range.end - 1) + 1 if e.range.end > e.range.start else start_line - 1
    return Hunk(e.range.start, e.range.end, e.text, start_line, end_line)


@dataclass(frozen=True)
class Reported:
    """One change as the formats report it: applied or a note, with its own fix (if any) against the original."""

    change: Change
    applied: bool
    hunks: tuple[Hunk, ...] = ()
    files: tuple[str, ...] = ()  # other files of the build context this change's fix writes (FixResult.files keys)
    combined_with: tuple[str, ...] = ()  # rules whose edits are inseparable from this change's, included here
    fix_in: tuple[int, ...] = ()  # indexes (into the same list) of the changes whose fixes hold this one's edits
    reason: str | None = None  # a note with a fix: why it was not applied


def reported_changes(r: FixResult) -> list[Reported]:
    """Applied changes (by line, then rule) with their own edits, then the notes; the order of every format."""
    from dockeropt.report import not_applied_reason

    lines = LineIndex(r.original)
    order = sorted(range(len(r.applied)), key=lambda i: (r.applied[i].line, r.applied[i].rule_id, i))
    position = {i: k for k, i in enumerate(order)}
    out: list[Reported] = []
    for i in order:
        c = r.applied[i]
        fx = r.fixes[i] if i < len(r.fixes) else None
        if fx is None:
            out.append(Reported(c, True))
            continue
        out.append(Reported(c, True, tuple(_edit_hunk(r.original, lines, e) for e in fx.edits), fx.files,
                            fx.combined, tuple(sorted(position[j] for j in fx.carried_by))))
    for c in sorted(r.notes, key=lambda c: (c.line, c.rule_id)):
        out.append(Reported(c, False, reason=not_applied_reason(c)))
    return out


def warnings_of(r: FixResult) -> list[str]:
    out = [f"line {line}: {msg}" for line, msg in r.warnings]
    out += list(r.errors)
    if not r.converged:
        out.append(f"fixes did not converge after {r.iterations} rounds (still changing: "
                   f"{', '.join(r.nonconverged_rules)})")
    return out


def other_file_display(o: FileOutcome, rel: str) -> str:
    from dockeropt.report import display_path

    return display_path(o.context_root / rel) if o.context_root is not None else rel


def file_record(o: FileOutcome, *, with_diff: bool = False) -> dict:
    """One file as a JSON-able dict (see docs/json-schema.md)."""
    rec: dict = {"path": o.display, "status": o.status, "error": o.error, "written": o.written}
    if o.result is None:
        rec["changes"] = []
        rec["warnings"] = []
        return rec
    r = o.result
    rec["changes"] = [_change_dict(o, x) for x in reported_changes(r)]
    rec["warnings"] = warnings_of(r)
    rec["edits"] = [h.to_dict() for h in hunks(r.original, r.fixed)]
    rec["other_files"] = [
        {"path": other_file_display(o, rel), "created": old is None, "text": new}
        for rel, (old, new) in sorted(r.files.items()) if old != new
    ]
    if with_diff:
        from dockeropt.report import outcome_patch

        rec["diff"] = outcome_patch(o.display, r.original, r.fixed, r.files, o.context_root)
    return rec


def _change_dict(o: FileOutcome, x: Reported) -> dict:
    c = x.change
    return {
        "rule": c.rule_id,
        "name": c.rule_name,
        "title": c.title,
        "explanation": c.explanation,
        "line": c.line,
        "safety": c.safety_label,
        "applied": x.applied,
        "edits": [h.to_dict() for h in x.hunks],
        "files": [other_file_display(o, rel) for rel in x.files],
        "combined_with": list(x.combined_with),
        "fix_in": list(x.fix_in),
        "reason": x.reason,
    }


def to_json(outcomes: Sequence[FileOutcome], summary: dict, *, mode: str, with_diff: bool = False) -> str:
    from dockeropt import __version__

    data = {
        "version": JSON_VERSION,
        "tool": {"name": "dockeropt", "version": __version__},
        "mode": mode,
        "files": [file_record(o, with_diff=with_diff) for o in outcomes],
        "summary": summary,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- SARIF


def _uri(display: str) -> str:
    return quote(display, safe="/")


def to_sarif(outcomes: Sequence[FileOutcome], *, root_uri: str | None = None) -> str:
    """A SARIF 2.1.0 log with one run; applied (or pending) fixes carry ``fixes``."""
    from dockeropt import __version__
    from dockeropt.rules import load_passes

    passes = load_passes()
    rule_ids = sorted(passes)
    rule_index = {rid: i for i, rid in enumerate(rule_ids)}
    rules = []
    for rid in rule_ids:
        doc = passes[rid].doc()
        rules.append({
            "id": rid,
            "name": doc.name,
            "shortDescription": {"text": doc.summary},
            "fullDescription": {"text": doc.sections.get("What it does", doc.summary)},
            "help": {"text": doc.render_text(), "markdown": doc.render_markdown()},
            "defaultConfiguration": {"level": "warning", "enabled": not doc.opt_in},
        })
    results: list[dict] = []
    notifications: list[dict] = []
    for o in outcomes:
        loc = {"uri": _uri(o.display)}
        if root_uri:
            loc["uriBaseId"] = "SRCROOT"
        if o.error is not None or o.result is None:
            notifications.append({
                "level": "error",
                "message": {"text": f"{o.display}: {o.error}"},
                "locations": [{"physicalLocation": {"artifactLocation": loc}}],
            })
            continue
        r = o.result
        for w in warnings_of(r):
            notifications.append({"level": "warning", "message": {"text": f"{o.display}: {w}"},
                                  "locations": [{"physicalLocation": {"artifactLocation": loc}}]})
        reported = reported_changes(r)
        for x in reported:
            c = x.change
            text = f"{c.title}. {c.explanation}".replace("..", ".")
            if x.combined_with:
                text += f" (This fix also holds the edits of {', '.join(x.combined_with)}: they change text this fix adds.)"
            if x.fix_in:
                carriers = ", ".join(reported[k].change.rule_id for k in x.fix_in)
                text += f" (Its edits are part of the fix of {carriers}.)"
            if x.reason:
                text += f" (Not applied: {x.reason}.)"
            res: dict = {
                "ruleId": c.rule_id,
                "level": "warning" if c.fix is not None else "note",
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": dict(loc),
                                                    "region": {"startLine": max(c.line, 1)}}}],
                "properties": {"safety": c.safety_label, "applied": x.applied},
            }
            if x.combined_with:
                res["properties"]["combinedWith"] = list(x.combined_with)
            if x.fix_in:
                res["properties"]["fixIn"] = [reported[k].change.rule_id for k in x.fix_in]
            if c.rule_id in rule_index:
                res["ruleIndex"] = rule_index[c.rule_id]
            changes = []
            if x.hunks:
                changes.append({
                    "artifactLocation": dict(loc),
                    "replacements": [
                        {"deletedRegion": {"charOffset": h.start, "charLength": h.end - h.start},
                         "insertedContent": {"text": h.text}}
                        for h in x.hunks
                    ],
                })
            for rel in x.files:
                old, new = r.files[rel]
                other = {"uri": _uri(other_file_display(o, rel))}
                if root_uri:
                    other["uriBaseId"] = "SRCROOT"
                changes.append({
                    "artifactLocation": other,
                    "replacements": [{"deletedRegion": {"charOffset": 0, "charLength": len(old or "")},
                                      "insertedContent": {"text": new}}],
                })
            if changes:
                desc = c.title if not x.combined_with else (
                    f"{c.title} (combined fix of {', '.join((c.rule_id, *x.combined_with))}: their edits cannot be separated)")
                res["fixes"] = [{"description": {"text": desc}, "artifactChanges": changes}]
            results.append(res)
    run: dict = {
        "tool": {"driver": {"name": "dockeropt", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "invocations": [{"executionSuccessful": not any(n["level"] == "error" for n in notifications),
                         "toolExecutionNotifications": notifications}],
    }
    if root_uri:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": root_uri}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


# ----------------------------------------------------------------------------- GitHub


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(outcomes: Sequence[FileOutcome]) -> str:
    """GitHub Actions workflow commands: one annotation per change, ``::error`` per failed file."""
    out: list[str] = []
    for o in outcomes:
        f = _gh_prop(o.display)
        if o.error is not None or o.result is None:
            out.append(f"::error file={f},title={_gh_prop('dockeropt: cannot fix')}::{_gh_data(o.error or 'failed')}")
            continue
        r = o.result
        for line, w in r.warnings:
            out.append(f"::warning file={f},line={line},title={_gh_prop('dockeropt pragma')}::{_gh_data(w)}")
        for w in warnings_of(r)[len(r.warnings):]:
            out.append(f"::warning file={f},title={_gh_prop('dockeropt internal error')}::{_gh_data(w)}")
        for x in reported_changes(r):
            c = x.change
            level = "warning" if c.fix is not None else "notice"
            title = _gh_prop(f"{c.rule_id} {c.rule_name}: {c.title}")
            msg = c.explanation if x.reason is None else c.explanation + f" (not applied: {x.reason})"
            out.append(f"::{level} file={f},line={max(c.line, 1)},title={title}::{_gh_data(msg)}")
    return "".join(line + "\n" for line in out)


# ----------------------------------------------------------------------------- Checkstyle


def to_checkstyle(outcomes: Sequence[FileOutcome]) -> str:
    """Checkstyle XML (read by Jenkins warnings-ng, reviewdog, many CI dashboards).

    ``severity`` is ``warning`` for a change with a fix, ``info`` for a note, ``error`` for a file
    dockeropt could not process; ``source`` is ``dockeropt.DO101``.
    """
    from xml.sax.saxutils import quoteattr

    from dockeropt import __version__

    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<checkstyle version="4.3" generator={quoteattr("dockeropt " + __version__)}>']
    for o in outcomes:
        out.append(f"  <file name={quoteattr(o.display)}>")
        if o.error is not None or o.result is None:
            out.append(f'    <error line="1" severity="error" message={quoteattr(o.error or "failed")} source="dockeropt"/>')
        else:
            for line, w in o.result.warnings:
                out.append(f'    <error line="{line}" severity="warning" message={quoteattr(w)} source="dockeropt.pragma"/>')
            for x in reported_changes(o.result):
                c = x.change
                sev = "warning" if c.fix is not None else "info"
                msg = f"{c.title}: {c.explanation}" + (f" (not applied: {x.reason})" if x.reason else "")
                out.append(f'    <error line="{max(c.line, 1)}" column="1" severity="{sev}" message={quoteattr(msg)} '
                           f'source={quoteattr("dockeropt." + c.rule_id)}/>')
        out.append("  </file>")
    out.append("</checkstyle>")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------- Code Climate / GitLab


_CATEGORIES = {"1": "Performance", "2": "Performance", "3": "Security", "4": "Bug Risk"}


def to_codeclimate(outcomes: Sequence[FileOutcome]) -> str:
    """Code Climate issues as one JSON array; GitLab's Code Quality report reads the same document.

    Each issue has ``description``, ``check_name`` (the rule id), ``fingerprint`` (stable across
    runs: path, rule, title and the text of the line), ``severity`` (``minor`` for a change with a
    fix, ``info`` for a note, ``major`` for a file dockeropt could not process) and
    ``location.path`` / ``location.lines.begin``.
    """
    import hashlib

    issues: list[dict] = []
    seen: dict[tuple[str, ...], int] = {}

    def fingerprint(*parts: str) -> str:
        n = seen[parts] = seen.get(parts, 0) + 1  # the same finding twice in one file stays two issues
        return hashlib.sha256("\0".join((*parts, str(n))).encode("utf-8")).hexdigest()[:32]

    for o in outcomes:
        if o.error is not None or o.result is None:
            issues.append({
                "type": "issue", "check_name": "dockeropt", "description": f"dockeropt could not process this file: {o.error}",
                "categories": ["Bug Risk"], "severity": "major", "fingerprint": fingerprint(o.display, "error"),
                "location": {"path": o.display, "lines": {"begin": 1}},
            })
            continue
        r = o.result
        src_lines = r.original.split("\n")
        for line, w in r.warnings:
            issues.append({
                "type": "issue", "check_name": "dockeropt-pragma", "description": w, "categories": ["Style"],
                "severity": "minor", "fingerprint": fingerprint(o.display, "pragma", w),
                "location": {"path": o.display, "lines": {"begin": line}},
            })
        for x in reported_changes(r):
            c = x.change
            line = max(c.line, 1)
            text = src_lines[line - 1].strip() if line <= len(src_lines) else ""
            desc = f"{c.rule_id} {c.title}" + (f" (not applied: {x.reason})" if x.reason else "")
            issues.append({
                "type": "issue",
                "check_name": c.rule_id,
                "description": desc,
                "content": {"body": c.explanation},
                "categories": [_CATEGORIES.get(c.rule_id[2:3], "Style")],
                "severity": "minor" if c.fix is not None else "info",
                "fingerprint": fingerprint(o.display, c.rule_id, c.title, text),
                "location": {"path": o.display, "lines": {"begin": line}},
            })
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"

"""Machine-readable output: JSON (``--format json``), SARIF 2.1.0 and GitHub workflow commands.

Positions: lines are 1-based and refer to the ORIGINAL file. Edits are
``[start, end)`` offsets into the original text counted in Unicode code points
(a UTF-8 BOM, when present, is code point 0). The JSON layout is described in
docs/json-schema.md and docs/dockeropt-output.schema.json; ``version`` changes
only when a field is removed or changes meaning.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from dockeropt.edits import Change
from dockeropt.report import split_lines
from dockeropt.runner import FileOutcome

JSON_VERSION = 1
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


def assign_hunks(changes: Sequence[Change], hs: Sequence[Hunk]) -> dict[int, list[Hunk]]:
    """Give each hunk to the applied change nearest to it (by original line); index -> hunks."""
    out: dict[int, list[Hunk]] = {}
    if not changes:
        return out
    for h in hs:
        lo, hi = h.start_line, max(h.end_line, h.start_line)

        def dist(c: Change, lo: int = lo, hi: int = hi) -> int:
            return 0 if lo <= c.line <= hi else min(abs(c.line - lo), abs(c.line - hi))

        best = min(range(len(changes)), key=lambda i: (dist(changes[i]), i))
        out.setdefault(best, []).append(h)
    return out


def file_record(o: FileOutcome, *, with_diff: bool = False) -> dict:
    """One file as a JSON-able dict (see docs/json-schema.md)."""
    rec: dict = {"path": o.display, "status": o.status, "error": o.error, "written": o.written}
    if o.result is None:
        rec["changes"] = []
        rec["warnings"] = []
        return rec
    r = o.result
    applied = sorted(r.applied, key=lambda c: (c.line, c.rule_id))
    hs = hunks(r.original, r.fixed)
    assigned = assign_hunks(applied, hs)
    changes = []
    for i, c in enumerate(applied):
        changes.append(_change_dict(c, True, [h.to_dict() for h in assigned.get(i, [])]))
    for c in sorted(r.notes, key=lambda c: (c.line, c.rule_id)):
        changes.append(_change_dict(c, False, []))
    rec["changes"] = changes
    warnings = list(r.errors)
    if not r.converged:
        warnings.append(f"fixes did not converge after {r.iterations} rounds (still changing: "
                        f"{', '.join(r.nonconverged_rules)})")
    rec["warnings"] = warnings
    rec["edits"] = [h.to_dict() for h in hs]
    if with_diff:
        from dockeropt.report import unified_diff

        rec["diff"] = unified_diff(r.original, r.fixed, o.display)
    return rec


def _change_dict(c: Change, applied: bool, edits: list[dict]) -> dict:
    return {
        "rule": c.rule_id,
        "name": c.rule_name,
        "title": c.title,
        "explanation": c.explanation,
        "line": c.line,
        "safety": c.safety_label,
        "applied": applied,
        "edits": edits,
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
        for w in r.errors:
            notifications.append({"level": "warning", "message": {"text": f"{o.display}: {w}"},
                                  "locations": [{"physicalLocation": {"artifactLocation": loc}}]})
        applied = sorted(r.applied, key=lambda c: (c.line, c.rule_id))
        assigned = assign_hunks(applied, hunks(r.original, r.fixed))
        changes = [(c, assigned.get(i, []), True) for i, c in enumerate(applied)]
        changes += [(c, [], False) for c in sorted(r.notes, key=lambda c: (c.line, c.rule_id))]
        for c, hs, is_applied in changes:
            res: dict = {
                "ruleId": c.rule_id,
                "level": "warning" if c.fix is not None else "note",
                "message": {"text": f"{c.title}. {c.explanation}".replace("..", ".")},
                "locations": [{"physicalLocation": {"artifactLocation": dict(loc),
                                                    "region": {"startLine": max(c.line, 1)}}}],
                "properties": {"safety": c.safety_label, "applied": is_applied},
            }
            if c.rule_id in rule_index:
                res["ruleIndex"] = rule_index[c.rule_id]
            if hs:
                res["fixes"] = [{
                    "description": {"text": c.title},
                    "artifactChanges": [{
                        "artifactLocation": dict(loc),
                        "replacements": [
                            {"deletedRegion": {"charOffset": h.start, "charLength": h.end - h.start},
                             "insertedContent": {"text": h.text}}
                            for h in hs
                        ],
                    }],
                }]
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
        for w in r.errors:
            out.append(f"::warning file={f},title={_gh_prop('dockeropt internal error')}::{_gh_data(w)}")
        items = [(c, True) for c in r.applied] + [(c, False) for c in r.notes]
        for c, applied in sorted(items, key=lambda t: (t[0].line, t[0].rule_id)):
            level = "warning" if c.fix is not None else "notice"
            title = _gh_prop(f"{c.rule_id} {c.rule_name}: {c.title}")
            msg = c.explanation if applied or c.fix is None else c.explanation + f" (not applied: {c.safety_label} fix)"
            out.append(f"::{level} file={f},line={max(c.line, 1)},title={title}::{_gh_data(msg)}")
    return "".join(line + "\n" for line in out)

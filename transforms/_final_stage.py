"""Facts about the final stage that the runtime passes (DO402, DO403) share.

Not a pass (the leading underscore keeps it out of pass discovery).
"""

from __future__ import annotations

import re

from dockeropt.catalog.images import ImageInfo, lookup
from dockeropt.rules import PassContext
from dockeropt.syntax import Dockerfile, Instruction, Stage
from dockeropt.transforms._defer import overlaps, pending_fix_ranges
from dockeropt.transforms._hygiene import base_image
from dockeropt.transforms._runinfo import ancestors

# rules that rebuild or re-base the final stage: wait for them first
RESTRUCTURING_RULES = ("DO201", "DO202")


def restructuring_pending(doc: Dockerfile, ctx: PassContext, stage: Stage, rules: tuple[str, ...] = RESTRUCTURING_RULES) -> bool:
    """Does another rule have a fix pending anywhere in ``stage`` (or the whole file)?"""
    start = stage.from_instruction.range.start
    end = stage.instructions[-1].full_range.end
    for rid in rules:
        if overlaps(pending_fix_ranges(rid, doc, ctx), start, end):
            return True
    return False


def chain(doc: Dockerfile, stage: Stage) -> list[Stage]:
    """``stage`` and the stages it is built FROM, nearest first."""
    return [stage, *ancestors(doc, stage)]


def base_info(doc: Dockerfile, stage: Stage) -> ImageInfo | None:
    ref = base_image(doc, stage)
    return lookup(ref) if ref else None


def last(stage: Stage, keyword: str) -> Instruction | None:
    found = [i for i in stage.body if i.keyword == keyword and i.onbuild is None]
    return found[-1] if found else None


def inherited(doc: Dockerfile, stage: Stage, keyword: str) -> Instruction | None:
    """The last ``keyword`` instruction of the stages ``stage`` is built FROM (not the stage itself)."""
    for st in ancestors(doc, stage):
        ins = last(st, keyword)
        if ins is not None:
            return ins
    return None


def lower_case(stage: Stage) -> bool:
    """Does the file write keywords in lower case?"""
    return stage.from_instruction.keyword_raw.islower()


def kw(stage: Stage, keyword: str) -> str:
    return keyword.lower() if lower_case(stage) else keyword


_PORT = re.compile(r"^(\d{1,5})(/tcp)?$", re.IGNORECASE)


def exposed_tcp_ports(doc: Dockerfile, stage: Stage) -> list[int]:
    """Literal TCP ports EXPOSEd by the stage and the stages it is built FROM (in order)."""
    out: list[int] = []
    for st in reversed(chain(doc, stage)):
        for ins in st.body:
            if ins.keyword != "EXPOSE":
                continue
            for w in ins.words:
                m = _PORT.match(w)
                if m and 0 < int(m.group(1)) < 65536 and int(m.group(1)) not in out:
                    out.append(int(m.group(1)))
    return out


def has_expose(doc: Dockerfile, stage: Stage) -> bool:
    return any(i.keyword == "EXPOSE" for st in chain(doc, stage) for i in st.body)

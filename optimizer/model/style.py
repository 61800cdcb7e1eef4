"""The file's own way of writing instructions, so new lines look like the old ones.

The one helper that writes instruction keywords: a file (or a stage) written
in lower case gets lower-case ``copy``/``run``/``as``; anything else gets
upper case. The newline and the indentation of continuation lines follow the
file too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockeropt.syntax import KNOWN_INSTRUCTIONS, Dockerfile, Instruction


@dataclass(frozen=True, slots=True)
class Style:
    lower: bool  # keywords in lower case
    newline: str  # "\n" or "\r\n"
    indent: str  # indentation of continuation lines ("    " unless the file shows another)

    def kw(self, keyword: str) -> str:
        """``keyword`` (an instruction keyword or ``AS``) in this style."""
        return keyword.lower() if self.lower else keyword.upper()

    def line(self, text: str) -> str:
        """An instruction line given in upper case (``COPY --from=build /a /b``) in this style.

        Only the leading keyword changes, plus ``AS`` in a FROM line and the
        trigger keyword of ONBUILD; arguments are never touched.
        """
        head, sep, rest = text.partition(" ")
        if head.upper() not in KNOWN_INSTRUCTIONS:
            return text
        out = self.kw(head) + sep + rest
        if head.upper() == "FROM":
            out = re.sub(r"(\s)AS(\s+\S+\s*)$", lambda m: m.group(1) + self.kw("AS") + m.group(2), out)
        elif head.upper() == "ONBUILD":
            sub_head, sub_sep, sub_rest = rest.partition(" ")
            if sub_head.upper() in KNOWN_INSTRUCTIONS:
                out = self.kw(head) + sep + self.kw(sub_head) + sub_sep + sub_rest
        return out

    def lines(self, texts: list[str]) -> str:
        """Several instruction lines, each ended by the file's newline."""
        return "".join(self.line(t) + self.newline for t in texts)


def style_of(doc: Dockerfile, within: tuple[Instruction, ...] | None = None) -> Style:
    """The style of ``doc`` (or of the instructions ``within``, e.g. one stage)."""
    instructions = within if within is not None else doc.instructions
    lower = sum(1 for i in instructions if i.keyword_raw.islower())
    upper = sum(1 for i in instructions if not i.keyword_raw.islower())
    indent = "    "
    for ins in doc.instructions:
        if ins.is_multiline:
            second = ins.text.split("\n", 2)
            if len(second) > 1:
                m = re.match(r"^([ \t]+)\S", second[1])
                if m:
                    indent = m.group(1)
                    break
    return Style(lower > upper, doc.newline, indent)

"""Every pass's messages follow one style, and passes report through their ``messages`` table.

Titles: sentence case (a capital letter or a backtick first), no trailing period, no doubled
spaces. Explanations: whole sentences ending in a period (or a closing backtick/parenthesis after
one). Every placeholder is a plain ``{name}``.
"""

from __future__ import annotations

import re
import string

import pytest

from dockeropt.rules import Message, load_passes

PASSES = load_passes()
MESSAGES = [(rid, key, msg) for rid, cls in PASSES.items() for key, msg in cls.messages.items()]


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]


@pytest.mark.parametrize(("rid", "key", "msg"), MESSAGES, ids=[f"{r}:{k}" for r, k, _ in MESSAGES])
def test_message_style(rid: str, key: str, msg: Message) -> None:
    assert isinstance(msg, Message), f"{rid} {key}: not a Message"
    title = msg.title
    assert title and (title[0].isupper() or title[0] in "`{"), f"{rid} {key}: title must start in upper case: {title!r}"
    assert not title.endswith("."), f"{rid} {key}: title ends with a period: {title!r}"
    assert "  " not in title and "  " not in msg.explanation, f"{rid} {key}: doubled space"
    assert re.search(r"[.!?][`)\"']?$|\}$", msg.explanation.rstrip()), f"{rid} {key}: explanation must end a sentence"
    for f in _fields(title) + _fields(msg.explanation):
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", f), f"{rid} {key}: placeholder {{{f}}} is not a plain name"


def test_messages_render_with_their_fields() -> None:
    for rid, key, msg in MESSAGES:
        names = set(_fields(msg.title)) | set(_fields(msg.explanation))
        title, expl = msg.render(**{n: f"<{n}>" for n in names})
        assert all(f"<{n}>" in title + expl for n in names), (rid, key)


# passes that still build titles and explanations inline; this list only ever shrinks (issue 10: messages are data)
NOT_YET_ON_MESSAGES: set[str] = set()


def test_passes_report_through_messages() -> None:
    import inspect

    inline = []
    for rid, cls in PASSES.items():
        source = inspect.getsource(inspect.getmodule(cls))  # type: ignore[arg-type]
        uses_inline = bool(re.search(r"\bself\.change\(|\bChange\(", source))
        if uses_inline and rid not in NOT_YET_ON_MESSAGES:
            inline.append(rid)
        if not uses_inline and rid in NOT_YET_ON_MESSAGES:
            pytest.fail(f"{rid} reports through its messages now: remove it from NOT_YET_ON_MESSAGES")
    assert not inline, f"passes that write titles/explanations inline instead of through `messages`: {inline}"

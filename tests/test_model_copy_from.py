"""COPY --from names an earlier stage by index or by name; an index wins over a name spelled like it."""

from __future__ import annotations

from dockeropt.model import ImageModel
from dockeropt.syntax import parse

TEXT = """FROM alpine AS x
FROM alpine AS 2
FROM alpine AS 0
COPY --from=2 /a /b
COPY --from=0 /a /c
FROM alpine AS x
COPY --from=0 /a /b
COPY --from=2 /a /c
COPY --from=x /a /d
COPY --from=3 /a /e
COPY --from=4 /a /f
"""


def test_copy_from_names_earlier_stages() -> None:
    doc = parse(TEXT)
    m = ImageModel.build(doc)
    got = [m.copies[i.index].from_stage for i in doc.instructions if i.keyword == "COPY"]
    # stage 2: "2" is stage 1's name (index 2 is not earlier), "0" is index 0; stage 3: indexes 0 and 2,
    # "x" names the last stage of that name (this one, not earlier: an image), 3 is itself, 4 is later
    assert got == [1, 0, 0, 2, None, None, None]
    assert [m.copies[i.index].from_image for i in doc.instructions if i.keyword == "COPY"][-3:] == ["x", "3", "4"]

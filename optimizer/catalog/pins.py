"""The dated pin catalog: what ``latest`` resolves to for official base images.

``pins.json`` beside this module lists, per image family, the tag DO303
(pin-base-tag) writes for ``latest`` or a missing tag, the release it stands
for, when that release came out, when the next release that would move
``latest`` is due, and where it was checked. ``as_of`` is the day the catalog
was checked: a pin is only ever written from an entry that was current on
that day (``tests/test_pins.py`` rejects one that was not), and DO303 names
the date in its explanation.

Refreshing it is part of every release: ``python -m dockeropt.catalog.pins``
lists the families whose next release is due (exit status 1 when any is), so
the catalog can be brought up to date before it is shipped; the procedure is
in ``pins.json``'s ``_comment``.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Pin", "as_of", "due", "pin_for", "pins", "unversioned"]


@dataclass(frozen=True)
class Pin:
    family: str
    tag: str  # what `latest` is pinned to
    version: str
    released: _dt.date  # when that release came out
    next_due: _dt.date  # when the next release that moves `latest` is scheduled
    source: str


@cache
def _data() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("pins.json").read_text(encoding="utf-8"))


def as_of() -> _dt.date:
    """The day the catalog was checked."""
    return _dt.date.fromisoformat(_data()["as_of"])


@cache
def pins() -> dict[str, Pin]:
    out: dict[str, Pin] = {}
    for fam, e in _data()["families"].items():
        out[fam] = Pin(fam, str(e["tag"]), str(e["version"]), _dt.date.fromisoformat(e["released"]),
                       _dt.date.fromisoformat(e["next_due"]), str(e["source"]))
    return out


def pin_for(family: str) -> Pin | None:
    """The pin for ``family``; None when the catalog has none, or its entry was not current on ``as_of``."""
    p = pins().get(family)
    if p is None or not (p.released <= as_of() < p.next_due):
        return None
    return p


def unversioned(family: str) -> bool:
    """Is ``family``'s version in the image name rather than the tag (distroless)? Then `latest` is not pinned."""
    return family in _data().get("unversioned", [])


def due(today: _dt.date) -> list[Pin]:
    """Families whose next release is due on ``today``: the catalog must be refreshed for them."""
    return [p for p in pins().values() if p.next_due <= today]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    today = _dt.date.fromisoformat(args[0]) if args else _dt.date.today()
    stale = due(today)
    print(f"pin catalog checked on {as_of().isoformat()}; today {today.isoformat()}")
    for p in stale:
        print(f"  {p.family}: pinned to {p.tag}; its next release was due {p.next_due.isoformat()}: check what `latest` is now")
    if not stale:
        print("  every family is current")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())

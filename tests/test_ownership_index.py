"""Ownership.is_dir answers from an index kept as events come in; it must say what a walk over the events says."""

from __future__ import annotations

import posixpath

from hypothesis import given, settings
from hypothesis import strategies as st

from dockeropt.model.files import OwnerEvent, Ownership, _under
from dockeropt.model.users import User

_NOBODY = User(None, None, None, None, None)
_paths = st.builds(lambda lead, parts, tail: (lead + "/".join(parts) + tail) or "/",
                   st.sampled_from(["/", "//", ""]), st.lists(st.sampled_from(["a", "b", "app", "x"]), max_size=3),
                   st.sampled_from(["", "/"]))
_events = st.lists(st.tuples(st.integers(0, 2), _paths, st.booleans(),
                             st.sampled_from(["copy", "workdir", "mkdir", "chown", "install", "image"])), max_size=15)


def _walked(o: Ownership, stage: int, path: str, before: int | None) -> bool:
    p = posixpath.normpath(path)
    for ev in o.events(stage, before):
        if ev.path == p and (ev.how in ("workdir", "mkdir", "install") or (ev.how == "copy" and ev.recursive)):
            return True
        if _under(ev.path, p) and ev.path != p:
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(_events, st.lists(st.tuples(st.integers(0, 2), _paths, st.one_of(st.none(), st.integers(0, 16))), max_size=10))
def test_is_dir_matches_a_walk_over_the_events(events, questions) -> None:  # type: ignore[no-untyped-def]
    o = Ownership({0: None, 1: 0, 2: 1})
    for i, (stage, path, recursive, how) in enumerate(sorted(events, key=lambda e: e[0])):
        o.add(stage, OwnerEvent(i + 1, path, _NOBODY, recursive, False, how))
    for stage, path, before in questions:
        assert o.is_dir(stage, path, before) == _walked(o, stage, path, before), (stage, path, before)

"""The dated pin catalog DO303 pins `latest` from (catalog/pins.json)."""

from __future__ import annotations

import datetime as dt

import pytest

from dockeropt.catalog import pins
from dockeropt.catalog.images import lookup
from dockeropt.config import Config
from dockeropt.pipeline import fix_text
from dockeropt.rules import PassContext


@pytest.mark.parametrize("family", sorted(pins.pins()))
def test_every_pin_was_current_on_the_catalogs_date(family: str) -> None:
    p = pins.pins()[family]
    assert p.released <= pins.as_of() < p.next_due, (
        f"{family}: {p.tag} was not what `latest` was on {pins.as_of()} (released {p.released}, next due {p.next_due}); "
        "refresh catalog/pins.json")
    assert p.source.strip()
    info = lookup(f"{family}:{p.tag}")
    assert info is not None and info.family == family and info.tag_understood, f"{family}:{p.tag} is not an image the catalog understands"


def test_the_catalog_is_not_older_than_the_releases_it_names() -> None:
    assert max(p.released for p in pins.pins().values()) <= pins.as_of() <= dt.date.today()


def test_release_check_lists_the_families_that_are_due(capsys: pytest.CaptureFixture[str]) -> None:
    soon = min(p.next_due for p in pins.pins().values())
    assert pins.main([(soon - dt.timedelta(days=1)).isoformat()]) == 0
    assert pins.main([soon.isoformat()]) == 1
    out = capsys.readouterr().out
    assert "every family is current" in out and f"its next release was due {soon.isoformat()}" in out


def test_a_stale_entry_is_never_written(monkeypatch: pytest.MonkeyPatch) -> None:
    stale = {**pins.pins()}
    stale["node"] = pins.Pin("node", "22", "22", dt.date(2024, 4, 24), dt.date(2025, 4, 1), "old")
    monkeypatch.setattr(pins, "pins", lambda: stale)
    r = fix_text("FROM node\nFROM python\n", PassContext(config=Config(select=["DO303"])))
    assert r.fixed == f"FROM node\nFROM python:{pins.pins()['python'].tag}\n"
    assert any("has no current version for node" in n.explanation for n in r.notes)

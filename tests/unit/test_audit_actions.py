"""Every action the code records is in portal.audit.actions, so the staff filter offers it."""

from __future__ import annotations

import re
from pathlib import Path

from portal.audit.actions import LABELS, Action, label_of

PORTAL = Path(__file__).resolve().parents[2] / "portal"
# record(s, "name", ...) or record(s, Action.NAME, ...), however it is wrapped
RECORDED = re.compile(r"\brecord\(\s*\w+,\s*(?:\"([a-z_.]+)\"|Action\.([A-Z_]+))")


def test_every_recorded_action_is_listed_with_a_label():
    found = set()
    for path in PORTAL.rglob("*.py"):
        for literal, member in RECORDED.findall(path.read_text()):
            found.add(literal or Action[member].value)
    assert found, "no record() call found"
    assert found <= {a.value for a in Action}, found - {a.value for a in Action}
    assert set(LABELS) == set(Action)


def test_names_fit_the_column_and_an_unknown_one_shows_as_stored():
    assert all(len(a.value) <= 40 for a in Action)
    assert label_of("login") == "Signed in"
    assert label_of("something.new") == "something.new"


def test_labels_are_short_enough_for_the_filter_on_a_320_pixel_phone():
    assert max(len(label) for label in LABELS.values()) <= 24

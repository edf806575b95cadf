"""update_customer_details behaves alike in FakeAccounting and the QuickBooks adapter (python-
quickbooks against the sandbox): sparse, once per request id, other people's changes to other
fields kept, a change to the same field a ConflictingChange that writes nothing."""

from __future__ import annotations

import pytest

from sandbox.qbo import Company, QboSandbox
from sync.accounting import ConflictingChange, DuplicateName, details_of
from tests.contract.accounting_world import World, fake_world, sandbox_world
from tests.integration.qbo_fixtures import *  # noqa: F403  (fixtures)


@pytest.fixture
def company(sandbox: QboSandbox) -> Company:
    """An empty company: the world seeds the rest, as it does in the fake."""
    return sandbox.state.add_company()


@pytest.fixture(params=["fake", "quickbooks"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "fake":
        return fake_world()
    return sandbox_world(
        request.getfixturevalue("sandbox"),
        request.getfixturevalue("qbo_clock"),
        request.getfixturevalue("adapter"),
    )


def change(world: World, request_id: str, **wanted: str | None):  # type: ignore[no-untyped-def]
    """Change Ada's details, having seen what QuickBooks holds now."""
    seen = details_of(world.adapter.get_customer(world.ada))
    return world.adapter.update_customer_details(
        world.ada, wanted, {k: seen[k] for k in wanted}, request_id
    )


def test_a_details_change_writes_only_the_changed_fields_once(world: World):
    before = world.adapter.get_customer(world.ada)
    changed = change(world, "d-1", bill_line1="12 Analytical Row", bill_city="London")
    assert (changed.bill_line1, changed.bill_city) == ("12 Analytical Row", "London")
    assert (changed.email, changed.display_name) == (before.email, before.display_name)
    assert int(changed.sync_token) == int(before.sync_token) + 1
    seen = {"bill_line1": before.bill_line1, "bill_city": before.bill_city}
    wanted = {"bill_line1": "12 Analytical Row", "bill_city": "London"}
    again = world.adapter.update_customer_details(world.ada, wanted, seen, "d-1")
    assert again == changed  # already so: nothing written twice
    assert world.adapter.get_customer(world.ada).sync_token == changed.sync_token


def test_an_address_keeps_the_parts_not_changed_and_a_blank_part_clears(world: World):
    change(world, "d-1", bill_line1="1 Main St", bill_line2="Unit 4", bill_postal_code="10001")
    later = change(world, "d-2", bill_line2="", ship_line1="9 Yard Ln", ship_country="Canada")
    assert (later.bill_line1, later.bill_line2, later.bill_postal_code) == (
        "1 Main St",
        None,
        "10001",
    )
    assert (later.ship_line1, later.ship_country) == ("9 Yard Ln", "Canada")


def test_another_field_changed_between_read_and_write_is_kept_and_ours_applied(world: World):
    world.edit_customer_mid_write(world.ada, email="office@example.com")
    changed = change(world, "d-1", phone="+15550101234")
    assert (changed.phone, changed.email) == ("+15550101234", "office@example.com")
    assert world.adapter.get_customer(world.ada) == changed


def test_the_same_field_changed_between_read_and_write_is_a_conflict_writing_nothing(
    world: World,
):
    world.edit_customer_mid_write(world.ada, bill_city="Paris")
    with pytest.raises(ConflictingChange) as raised:
        change(world, "d-1", bill_city="London", bill_line1="1 Main St")
    assert raised.value.theirs == {"bill_city": "Paris"}
    now = world.adapter.get_customer(world.ada)
    assert (now.bill_city, now.bill_line1) == ("Paris", None)


def test_the_same_field_changed_before_the_read_is_a_conflict_too(world: World):
    seen = details_of(world.adapter.get_customer(world.ada))
    world.edit_customer(world.ada, company_name="Engines Ltd")
    with pytest.raises(ConflictingChange) as raised:
        world.adapter.update_customer_details(
            world.ada, {"company_name": "Babbage & Co"}, {"company_name": seen["company_name"]}, "x"
        )
    assert raised.value.theirs == {"company_name": "Engines Ltd"}
    # the same edit made in both places is no conflict
    same = world.adapter.update_customer_details(
        world.ada, {"company_name": "Engines Ltd"}, {"company_name": None}, "y"
    )
    assert same.company_name == "Engines Ltd"


def test_a_display_name_another_customer_has_is_refused_as_a_duplicate(world: World):
    with pytest.raises(DuplicateName):
        change(world, "d-1", display_name="grace hopper")
    assert world.adapter.get_customer(world.ada).display_name == "Ada Lovelace"


def test_bad_details_are_refused_before_anything_is_sent(world: World):
    ada = world.adapter
    with pytest.raises(ValueError):
        ada.update_customer_details(world.ada, {"balance": "0"}, {"balance": "1"}, "x")
    with pytest.raises(ValueError):
        ada.update_customer_details(world.ada, {"bill_city": "Oslo"}, {}, "x")
    with pytest.raises(ValueError):
        ada.update_customer_details(world.ada, {"display_name": " "}, {"display_name": "A"}, "x")
    with pytest.raises(ValueError):
        ada.update_customer_details(world.ada, {"bill_city": "Oslo"}, {"bill_city": None}, "r" * 51)
    assert world.adapter.get_customer(world.ada).bill_city is None

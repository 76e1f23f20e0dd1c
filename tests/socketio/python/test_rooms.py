"""check_room / create_room / update_rooms and room-name validation."""

import pytest

from confab_harness import unique_room


def test_check_room_creates_a_missing_room_then_reports_it_exists(clients):
    c = clients("alice")
    room = unique_room()
    c.ok("check_room", room)
    assert c.next("room_created") is None
    c.ok("check_room", room)
    assert c.next("room_exists") is None
    c.expect_none("room_created")
    # The room really exists now: joining it is accepted.
    c.join(room)


def test_check_room_without_ack_still_answers_the_caller_only(clients):
    """The seed's pages emit check_room with no ack callback and wait for room_created/room_exists."""
    c, other = clients("alice"), clients("bob")
    room = unique_room()
    c.emit("check_room", room)
    c.next("room_created")
    c.emit("check_room", room)
    c.next("room_exists")
    other.expect_none("room_created")
    other.expect_none("room_exists", within=0)


def test_create_room_broadcasts_all_room_names_to_every_connected_client(clients):
    creator, watcher = clients("alice"), clients("bob")
    anonymous = clients("nobody-yet", auth=None)  # not in any room, no identity: still connected
    earlier = unique_room("earlier")
    creator.ok("check_room", earlier)
    room = unique_room("created")
    creator.ok("create_room", room)
    for c in (creator, watcher, anonymous):
        names = c.next("update_rooms", lambda l: isinstance(l, list) and room in l)
        assert all(isinstance(n, str) for n in names), names
        assert earlier in names, "update_rooms must list every room, not only the new one"
        assert names.count(room) == 1
    creator.join(room)


def test_create_room_for_an_existing_name_is_not_an_error(clients):
    c = clients("alice")
    room = unique_room()
    c.ok("create_room", room)
    c.next("update_rooms", lambda l: room in l)
    c.ok("create_room", room)
    c.expect_none("error")
    for names in [p for ev, p in c.all("update_rooms")]:
        assert names.count(room) <= 1, names


@pytest.mark.parametrize("shape", ["64 chars", "space", "dash underscore dot"])
def test_valid_room_names_are_accepted(clients, shape):
    c = clients("alice")
    tag = unique_room("v")
    name = {"64 chars": (tag + "x" * 64)[:64], "space": f"Room {tag}",
            "dash underscore dot": f"a-b_c.{tag}"}[shape]
    c.ok("check_room", name)
    c.next("room_created")
    c.join(name)


@pytest.mark.parametrize("event", ["check_room", "create_room"])
@pytest.mark.parametrize("name", ["", "x" * 65, "a/b", "<script>", "tab\tname", "semi;colon"])
def test_invalid_room_names_are_refused(clients, event, name):
    c = clients("alice")
    c.fails(event, name, "invalid_room_name")
    c.expect_none("room_created")
    c.expect_none("update_rooms", lambda l: name in l, within=0)
    # Without an ack callback the refusal comes as an `error` event.
    c.emit(event, name)
    err = c.next("error")
    assert err["code"] == "invalid_room_name" and err["message"], err
    assert c.connected


def test_join_unknown_room_is_refused(clients):
    c = clients("alice")
    room = unique_room("missing")
    c.fails("join_room", {"room": room, "user": "alice"}, "room_not_found")
    c.emit("join_room", {"room": room, "user": "alice"})
    assert c.next("error")["code"] == "room_not_found"
    c.expect_none("room_message")

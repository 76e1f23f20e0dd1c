"""Malformed events are answered with an error code and never break the connection."""

import pytest

from confab_harness import msg, unique_room

ROOM = "{room}"  # replaced by the test's joined room

CASES = [
    # (event, payload, expected code)
    ("join_room", "just-a-string", "bad_request"),
    ("join_room", {}, "bad_request"),
    ("join_room", {"room": 42, "user": "x"}, "bad_request"),
    ("join_room", ["room", "user"], "bad_request"),
    ("leave_room", 5, "bad_request"),
    ("leave_room", {"user": "x"}, "bad_request"),
    ("send_message", {"room": ROOM, "user": "x"}, "bad_request"),
    ("send_message", {"room": ROOM, "user": "x", "message": ["not", "text"]}, "bad_request"),
    ("send_message", {"room": ROOM, "user": "x", "message": None}, "bad_request"),
    ("send_message", "hello", "bad_request"),
    ("send_message", None, "bad_request"),
    ("edit_message", {"room": ROOM, "message_id": "m"}, "bad_request"),
    ("edit_message", {"room": ROOM, "new_message": "x"}, "bad_request"),
    ("edit_message", {"room": ROOM, "message_id": {"id": 1}, "new_message": "x"}, "bad_request"),
    ("delete_message", "m", "bad_request"),
    ("delete_message", {"room": ROOM}, "bad_request"),
    ("check_room", {"name": "x"}, "bad_request"),
    ("check_room", None, "bad_request"),
    ("create_room", 17, "bad_request"),
    ("create_room", None, "bad_request"),
    ("frobnicate", {"room": ROOM}, "unknown_event"),
    ("room_message", {"room": ROOM, "message": "server events are not requests"}, "unknown_event"),
]


def fill(payload, room):
    if isinstance(payload, dict):
        return {k: (room if v == ROOM else v) for k, v in payload.items()}
    return payload


@pytest.fixture
def joined(clients):
    alice, bob = clients("alice"), clients("bob")
    room = unique_room()
    alice.ok("check_room", room)
    alice.join(room)
    bob.join(room)
    return alice, bob, room


def still_works(c, peer, room, tag):
    assert c.connected, "the connection was dropped"
    c.send(room, f"still here {tag}", message_id=f"alive-{tag}")
    peer.next("room_message", msg(f"alive-{tag}"))


@pytest.mark.parametrize("event,payload,code", CASES, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(CASES)])
def test_malformed_event_with_ack_is_answered_with_an_error(joined, event, payload, code):
    alice, bob, room = joined
    err = alice.fails(event, fill(payload, room), code)
    assert err["message"]
    still_works(alice, bob, room, "ack")


@pytest.mark.parametrize("event,payload,code", CASES, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(CASES)])
def test_malformed_event_without_ack_gets_an_error_event(joined, event, payload, code):
    alice, bob, room = joined
    alice.emit(event, fill(payload, room))
    err = alice.next("error")
    assert set(err) >= {"code", "message"} and err["code"] == code and isinstance(err["message"], str) and err["message"], err
    still_works(alice, bob, room, "noack")


def test_bad_request_message_names_the_missing_field(joined):
    alice, _, room = joined
    err = alice.fails("send_message", {"room": room, "user": "alice"}, "bad_request")
    assert "message" in err["message"], err


def test_extra_arguments_and_unknown_fields_do_not_break_anything(joined):
    alice, bob, room = joined
    ack = alice.call("send_message", {"room": room, "user": "alice", "message": "extra", "message_id": "x-1",
                                      "colour": "blue"})
    assert ack["ok"] is True, ack
    bob.next("room_message", msg("x-1"))


def test_a_burst_of_garbage_leaves_the_connection_usable(joined):
    alice, bob, room = joined
    burst = [c for c in CASES if not isinstance(c[1], list)]  # the list case has its own test above
    for event, payload, _ in burst:
        alice.emit(event, fill(payload, room))
    errors = [alice.next("error") for _ in burst]
    assert sorted(e["code"] for e in errors) == sorted(c for _, _, c in burst)
    still_works(alice, bob, room, "burst")
    alice.ok("check_room", room)
    alice.next("room_exists")

"""The vocabulary over each Engine.IO transport: long-polling only, WebSocket only, and the default
(polling first, then upgrade to WebSocket); and clients on different transports in one room."""

import json
import time

import pytest
import requests

from confab_harness import msg, system, unique_room

TRANSPORTS = {
    "polling": ["polling"],
    "websocket": ["websocket"],
    "upgrade": None,  # the client's default: polling, then upgrade
}


def wait_transport(c, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while c.transport() != want:
        assert time.monotonic() < deadline, f"transport is {c.transport()!r}, expected {want!r}"
        time.sleep(0.05)


def test_engineio_v4_polling_handshake(server):
    r = requests.get(server.url + "/socket.io/", params={"EIO": "4", "transport": "polling"}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.text.startswith("0{"), r.text
    open_packet = json.loads(r.text[1:])
    assert open_packet["sid"] and "websocket" in open_packet["upgrades"], open_packet
    assert open_packet["pingInterval"] > 0 and open_packet["pingTimeout"] > 0, open_packet


@pytest.mark.parametrize("kind", list(TRANSPORTS))
def test_the_whole_vocabulary_over_one_transport(clients, kind):
    alice = clients("alice", transports=TRANSPORTS[kind])
    bob = clients("bob", transports=TRANSPORTS[kind])
    if kind == "upgrade":
        wait_transport(alice, "websocket")
        wait_transport(bob, "websocket")
    else:
        time.sleep(0.3)
        assert alice.transport() == TRANSPORTS[kind][0]
    room = unique_room(kind)
    alice.ok("check_room", room)
    alice.next("room_created")
    alice.ok("create_room", room + "-b")
    bob.next("update_rooms", lambda l: room + "-b" in l and room in l)
    alice.join(room)
    bob.join(room)
    alice.next("room_message", system("bob has joined the room."))
    assert sorted(alice.next("update_users", lambda u: "bob" in u)) == ["alice", "bob"]
    ack = alice.send(room, f"over {kind}", message_id=f"{kind}-1")
    assert ack["message_id"] == f"{kind}-1" and isinstance(ack["seq"], int)
    assert bob.next("room_message", msg(f"{kind}-1"))["message"] == f"over {kind}"
    alice.next("room_message", msg(f"{kind}-1"))
    alice.ok("edit_message", {"room": room, "message_id": f"{kind}-1", "new_message": "edited"})
    assert bob.next("message_edited", msg(f"{kind}-1"))["new_message"] == "edited"
    alice.ok("delete_message", {"room": room, "message_id": f"{kind}-1"})
    bob.next("message_deleted", msg(f"{kind}-1"))
    bob.fails("join_room", {"room": unique_room("nope"), "user": "bob"}, "room_not_found")
    bob.ok("leave_room", {"room": room, "user": "bob"})
    alice.next("room_message", system("bob has left the room."))
    alice.next("update_users", lambda u: u == ["alice"])
    # After all of that, the transport is still the one we asked for.
    assert alice.transport() == ("websocket" if kind == "upgrade" else kind)


def test_polling_client_stays_on_polling_and_keeps_receiving(clients):
    """Long-polling must deliver pushes that arrive while a GET is parked, for longer than one poll."""
    alice = clients("alice", transports=["polling"])
    bob = clients("bob", transports=["websocket"])
    room = unique_room()
    alice.ok("check_room", room)
    alice.join(room)
    bob.join(room)
    for i in range(20):
        bob.send(room, f"push {i}", message_id=f"push-{i}")
    got = [alice.next("room_message", msg(f"push-{i}"))["message"] for i in range(20)]
    assert got == [f"push {i}" for i in range(20)], "every message arrived with its text"
    # python-engineio runs each packet's handler in its own thread: the room's `seq` carries the order.
    pushed = [p for _, p in alice.all("room_message") if str(p.get("message_id", "")).startswith("push-")]
    assert len(pushed) == 20, "each message exactly once"
    order = [p["message_id"] for p in sorted(pushed, key=lambda p: p["seq"])]
    assert order == [f"push-{i}" for i in range(20)], "the room's order is the send order"
    assert alice.transport() == "polling"


@pytest.mark.parametrize("a_kind,b_kind", [("polling", "websocket"), ("upgrade", "polling"), ("websocket", "upgrade")])
def test_clients_on_different_transports_talk_both_ways(clients, a_kind, b_kind):
    a = clients("alice", transports=TRANSPORTS[a_kind])
    b = clients("bob", transports=TRANSPORTS[b_kind])
    room = unique_room()
    a.ok("check_room", room)
    a.join(room)
    b.join(room)
    a.send(room, "a to b", message_id="ab")
    assert b.next("room_message", msg("ab"))["user"] == "alice"
    b.send(room, "b to a", message_id="ba")
    assert a.next("room_message", msg("ba"))["user"] == "bob"


def test_messages_sent_during_the_upgrade_are_not_lost(clients):
    bob = clients("bob", transports=["websocket"])
    room = unique_room()
    bob.ok("check_room", room)
    bob.join(room)
    alice = clients("alice")  # default: polling, upgrading in the background right now
    alice.ok("join_room", {"room": room, "user": "alice"})
    for i in range(30):
        bob.emit("send_message", {"room": room, "user": "bob", "message": f"u{i}", "message_id": f"u-{i}"})
    got = [alice.next("room_message", msg(f"u-{i}"))["message"] for i in range(30)]
    assert got == [f"u{i}" for i in range(30)]
    wait_transport(alice, "websocket")

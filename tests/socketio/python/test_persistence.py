"""Messages, edits and deletions survive a restart of the server on the same data dir and port."""

import pytest

from confab_harness import msg, unique_room
from conftest import start_server


@pytest.fixture(scope="module")
def server():
    # Overrides conftest's `server`: this module restarts it, so it has its own.
    s = start_server()
    yield s
    s.cleanup()


def test_history_rooms_and_sequence_survive_a_restart(server, clients):
    alice = clients("alice")
    room = unique_room("durable")
    alice.ok("create_room", room)
    alice.join(room)
    alice.send(room, "first", message_id="p-1")
    server_id = alice.send(room, "second, server id")["message_id"]
    alice.send(room, "third", message_id="p-3")
    last = alice.send(room, "fourth", message_id="p-4")
    alice.ok("edit_message", {"room": room, "message_id": "p-3", "new_message": "third, edited"})
    alice.ok("delete_message", {"room": room, "message_id": "p-4"})
    alice.close()
    port = server.port

    server.restart()
    assert server.port == port

    bob = clients("bob")
    bob.ok("check_room", room)
    bob.next("room_exists")
    history = bob.history_on_join(room)
    assert [(m["user"], m["message"], m["message_id"]) for m in history] == [
        ("alice", "first", "p-1"),
        ("alice", "second, server id", server_id),
        ("alice", "third, edited", "p-3"),
    ]
    # The sequence continues after the restart; it does not start over.
    ack = bob.send(room, "after restart", message_id="p-5")
    assert ack["seq"] > last["seq"], (ack, last)
    bob.next("room_message", msg("p-5"))
    # The room list remembers the room too.
    bob.ok("create_room", unique_room("another"))
    assert room in bob.next("update_rooms")


def test_authorship_survives_a_restart(server, clients):
    """After a restart, a message is still its author's: someone else still may not edit it."""
    alice = clients("alice")
    room = unique_room("owned")
    alice.ok("check_room", room)
    alice.join(room)
    alice.send(room, "mine forever", message_id="own-1")
    alice.close()
    server.restart()
    bob = clients("bob")
    bob.join(room)
    bob.fails("edit_message", {"room": room, "message_id": "own-1", "new_message": "now mine"}, "forbidden")
    bob.fails("delete_message", {"room": room, "message_id": "own-1"}, "forbidden")
    carol = clients("carol")
    assert {m["message_id"]: m["message"] for m in carol.history_on_join(room)}["own-1"] == "mine forever"


def test_an_acknowledged_message_survives_a_crash(server, clients):
    """send_message is acked only once the message is durably stored: kill -9 right after the ack
    loses nothing that was acked."""
    alice = clients("alice")
    room = unique_room("crash")
    alice.ok("check_room", room)
    alice.join(room)
    acks = [alice.send(room, f"c{i}", message_id=f"crash-{i}") for i in range(10)]
    alice.ok("edit_message", {"room": room, "message_id": "crash-9", "new_message": "c9 edited"})
    server.restart(hard=True)
    bob = clients("bob")
    history = bob.history_on_join(room)
    assert [(m["message_id"], m["message"]) for m in history] == \
        [(f"crash-{i}", f"c{i}") for i in range(9)] + [("crash-9", "c9 edited")], acks

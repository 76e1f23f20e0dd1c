"""join_room / leave_room, update_users, dropped connections, and history on join."""

import signal
import time

from confab_harness import LEAVE_GRACE_MS, SioClient, msg, send_many, spawn_member, system, unique_room


def new_room(c):
    room = unique_room()
    c.ok("check_room", room)
    return room


def test_join_announces_the_joiner_to_everyone_in_the_room_including_the_joiner(clients):
    alice, bob, outsider = clients("alice"), clients("bob"), clients("olga")
    room = new_room(alice)
    alice.join(room)
    alice.next("update_users", lambda u: u == ["alice"])
    bob.join(room)
    alice.next("room_message", system("bob has joined the room."))
    for c in (alice, bob):
        users = c.next("update_users", lambda u: "bob" in u)
        assert sorted(users) == ["alice", "bob"], users
    outsider.expect_none("room_message")
    outsider.expect_none("update_users", within=0)


def test_leave_room_announces_and_stops_delivery_to_the_leaver(clients):
    alice, bob = clients("alice"), clients("bob")
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    bob.ok("leave_room", {"room": room, "user": "bob"})
    alice.next("room_message", system("bob has left the room."))
    assert alice.next("update_users", lambda u: "bob" not in u) == ["alice"]
    mark = bob.mark()
    alice.send(room, "after bob left")
    bob.expect_none("room_message", lambda m: m["message"] == "after bob left")
    bob.fails("send_message", {"room": room, "user": "bob", "message": "hi"}, "not_joined")
    assert all(ev != "room_message" or p["user"] == "System" for ev, p in bob.since(mark))


def test_leave_room_without_ack_works_like_the_seed(clients):
    alice, bob = clients("alice"), clients("bob")
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    bob.emit("leave_room", {"room": room, "user": "bob"})
    alice.next("room_message", system("bob has left the room."))
    alice.next("update_users", lambda u: u == ["alice"])
    bob.expect_none("error")


def test_disconnect_without_leave_room_is_announced_after_the_grace_period(clients):
    alice, bob = clients("alice"), clients("bob")
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    t0 = time.monotonic()
    bob.close()
    alice.next("room_message", system("bob has left the room."))
    waited = time.monotonic() - t0
    assert waited >= (LEAVE_GRACE_MS / 1000) * 0.8, f"left announced after {waited:.3f}s, before the grace period"
    alice.next("update_users", lambda u: u == ["alice"])


def test_killed_client_process_is_announced_as_leaving(server, clients):
    """A browser tab that crashes sends no goodbye at all: the TCP connection just closes."""
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    token, _, _ = server.guest("carol")
    proc = spawn_member(server, token, room)
    try:
        alice.next("room_message", system("carol has joined the room."))
        alice.next("update_users", lambda u: "carol" in u)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        alice.next("room_message", system("carol has left the room."), timeout=10)
        alice.next("update_users", lambda u: "carol" not in u)
    finally:
        proc.kill()
        proc.wait(5)


def test_a_user_with_two_connections_in_a_room_is_announced_once(server, clients):
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    token, _, _ = server.guest("bob")
    bob1 = SioClient(server, name="bob", token=token)
    bob2 = SioClient(server, name="bob", token=token)
    try:
        bob1.join(room)
        alice.next("room_message", system("bob has joined the room."))
        bob2.ok("join_room", {"room": room, "user": "bob"})
        alice.expect_none("room_message", system("bob has joined the room."))
        for _, users in alice.all("update_users"):
            assert users.count("bob") <= 1, users
        # One of the two connections going away is not the user leaving.
        bob2.close()
        alice.expect_none("room_message", system("bob has left the room."), within=LEAVE_GRACE_MS / 1000 + 0.7)
        # bob1 still receives the room.
        alice.send(room, "still there?")
        bob1.next("room_message", lambda m: m["message"] == "still there?")
    finally:
        bob1.close()
        bob2.close()


def test_history_on_join_is_oldest_first_with_edits_applied_and_deletions_left_out(clients):
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    ids = [f"h-{room}-{i}" for i in range(5)]
    for i, mid in enumerate(ids):
        ack = alice.send(room, f"message {i}", message_id=mid)
        assert ack["message_id"] == mid
    alice.ok("edit_message", {"room": room, "message_id": ids[1], "new_message": "message 1 (edited)"})
    alice.ok("delete_message", {"room": room, "message_id": ids[3]})
    bob = clients("bob")
    history = bob.history_on_join(room)
    assert [{k: m.get(k) for k in ("user", "message", "message_id")} for m in history] == [
        {"user": "alice", "message": "message 0", "message_id": ids[0]},
        {"user": "alice", "message": "message 1 (edited)", "message_id": ids[1]},
        {"user": "alice", "message": "message 2", "message_id": ids[2]},
        {"user": "alice", "message": "message 4", "message_id": ids[4]},
    ], history
    # The history is for the joiner only: alice, already in the room, is not sent it again.
    time.sleep(0.5)
    assert len([p for _, p in alice.all("room_message") if msg(ids[0])(p)]) == 1


def test_history_on_join_is_the_last_100_messages(clients):
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    send_many(alice, room, [(f"n{i}", f"{room}-{i}") for i in range(105)])
    bob = clients("bob")
    history = bob.history_on_join(room)
    assert [m["message"] for m in history] == [f"n{i}" for i in range(5, 105)]


def test_joining_an_empty_room_sends_no_history(clients):
    alice = clients("alice")
    room = new_room(alice)
    assert alice.history_on_join(room) == []


def test_reconnecting_within_the_grace_period_is_neither_a_leave_nor_a_new_join(server, clients):
    """A page reload: the old connection drops and the same session joins again at once."""
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    token, _, _ = server.guest("bob")
    old = SioClient(server, name="bob", token=token, transports=["websocket"])
    new = SioClient(server, name="bob", token=token, transports=["websocket"])
    try:
        old.join(room)
        alice.next("room_message", system("bob has joined the room."))
        old.close()
        new.ok("join_room", {"room": room, "user": "bob"})
        alice.expect_none("room_message", lambda m: m.get("user") == "System" and "bob" in m.get("message", ""),
                          within=LEAVE_GRACE_MS / 1000 + 0.7)
        alice.send(room, "welcome back", message_id="wb-1")
        new.next("room_message", msg("wb-1"))
    finally:
        old.close()
        new.close()

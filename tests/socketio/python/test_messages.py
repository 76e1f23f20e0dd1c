"""send_message / edit_message / delete_message: broadcasts, acks, idempotency, validation, permissions."""

import pytest

from confab_harness import msg, unique_room


@pytest.fixture
def room_of(clients):
    """A new room joined by the given clients, in order."""
    def make(*members):
        room = unique_room()
        members[0].ok("check_room", room)
        for c in members:
            c.join(room)
        return room
    return make


def history_of(clients, room):
    """The room's history as a fresh client sees it on join: {message_id: (user, message)}."""
    viewer = clients("viewer")
    return {m["message_id"]: (m["user"], m["message"]) for m in viewer.history_on_join(room)}


def test_send_message_is_broadcast_to_the_room_sender_included(clients, room_of):
    alice, bob, outsider = clients("alice"), clients("bob"), clients("olga")
    room = room_of(alice, bob)
    ack = alice.send(room, "hello room", message_id="c-hello-1")
    assert ack["ok"] is True and ack["message_id"] == "c-hello-1"
    assert isinstance(ack["seq"], int) and ack["seq"] > 0, ack
    for c in (alice, bob):
        m = c.next("room_message", msg("c-hello-1"))
        assert (m["user"], m["message"]) == ("alice", "hello room"), m
    outsider.expect_none("room_message")


def test_send_ack_seq_increases_with_each_message(clients, room_of):
    alice = clients("alice")
    room = room_of(alice)
    seqs = [alice.send(room, f"m{i}")["seq"] for i in range(3)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3, seqs


def test_send_without_message_id_uses_the_server_id_as_a_string(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    ack = alice.send(room, "no id from me")
    mid = ack["message_id"]
    assert isinstance(mid, str) and mid, ack
    m = bob.next("room_message", lambda m: m["message"] == "no id from me")
    assert m["message_id"] == mid
    # And the id works for editing.
    alice.ok("edit_message", {"room": room, "message_id": mid, "new_message": "edited"})
    assert bob.next("message_edited", msg(mid))["new_message"] == "edited"


def test_acknowledged_message_is_already_in_history(clients, room_of):
    alice = clients("alice")
    room = room_of(alice)
    ack = alice.send(room, "durable", message_id="d-1")
    assert history_of(clients, room)["d-1"] == ("alice", "durable"), ack


def test_resending_the_same_message_id_is_idempotent(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    first = alice.send(room, "only once", message_id="dup-1")
    second = alice.send(room, "only once", message_id="dup-1")
    assert (second["message_id"], second["seq"]) == (first["message_id"], first["seq"])
    bob.next("room_message", msg("dup-1"))
    bob.expect_none("room_message", msg("dup-1"))
    viewer = clients("viewer")
    assert [m["message_id"] for m in viewer.history_on_join(room)].count("dup-1") == 1


@pytest.mark.parametrize("text,code", [
    ("", "text_empty"),
    ("   ", "text_empty"),
    ("x" * 4001, "text_too_long"),
    ("é" * 2001, "text_too_long"),  # 2001 characters but 4002 bytes: the limit is in bytes
])
def test_invalid_message_text_is_refused_and_not_broadcast(clients, room_of, text, code):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.fails("send_message", {"room": room, "user": "alice", "message": text, "message_id": "bad-1"}, code)
    alice.emit("send_message", {"room": room, "user": "alice", "message": text, "message_id": "bad-2"})
    err = alice.next("error")
    assert err["code"] == code and err["message"], err
    bob.expect_none("room_message", lambda m: m["user"] == "alice")
    assert alice.connected


def test_message_of_exactly_4000_bytes_is_accepted(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    text = "é" * 2000
    alice.send(room, text, message_id="max-1")
    assert bob.next("room_message", msg("max-1"))["message"] == text


def test_sending_to_a_room_not_joined_is_refused(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice)
    bob.fails("send_message", {"room": room, "user": "bob", "message": "let me in"}, "not_joined")
    bob.emit("send_message", {"room": room, "user": "bob", "message": "let me in"})
    assert bob.next("error")["code"] == "not_joined"
    alice.expect_none("room_message", lambda m: m["message"] == "let me in")


def test_author_edits_and_the_room_sees_it(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.send(room, "typo", message_id="e-1")
    ack = alice.call("edit_message", {"room": room, "message_id": "e-1", "new_message": "fixed"})
    assert ack["ok"] is True, ack
    for c in (alice, bob):
        assert c.next("message_edited", msg("e-1"))["new_message"] == "fixed"
    assert history_of(clients, room)["e-1"] == ("alice", "fixed")


def test_editing_someone_elses_message_is_forbidden_and_changes_nothing(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.send(room, "mine", message_id="f-1")
    # bob even claims to be alice: the connection's identity decides.
    bob.fails("edit_message", {"room": room, "user": "alice", "message_id": "f-1", "new_message": "pwned"}, "forbidden")
    bob.emit("edit_message", {"room": room, "message_id": "f-1", "new_message": "pwned"})
    assert bob.next("error")["code"] == "forbidden"
    alice.expect_none("message_edited")
    assert history_of(clients, room)["f-1"] == ("alice", "mine")
    # A rejoin shows the same.
    bob.ok("leave_room", {"room": room, "user": "bob"})
    assert {m["message_id"]: m["message"] for m in bob.history_on_join(room)}["f-1"] == "mine"


def test_edit_or_delete_of_an_unknown_message_is_refused(clients, room_of):
    alice = clients("alice")
    room = room_of(alice)
    alice.fails("edit_message", {"room": room, "message_id": "no-such-id", "new_message": "x"}, "message_not_found")
    alice.fails("delete_message", {"room": room, "message_id": "no-such-id"}, "message_not_found")


def test_edit_is_validated_like_a_new_message(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.send(room, "original", message_id="v-1")
    alice.fails("edit_message", {"room": room, "message_id": "v-1", "new_message": ""}, "text_empty")
    alice.fails("edit_message", {"room": room, "message_id": "v-1", "new_message": "x" * 4001}, "text_too_long")
    bob.expect_none("message_edited")
    assert history_of(clients, room)["v-1"] == ("alice", "original")


def test_author_deletes_and_the_message_leaves_history(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.send(room, "keep", message_id="k-1")
    alice.send(room, "regret", message_id="r-1")
    assert alice.call("delete_message", {"room": room, "message_id": "r-1"})["ok"] is True
    for c in (alice, bob):
        c.next("message_deleted", msg("r-1"))
    hist = history_of(clients, room)
    assert "r-1" not in hist and hist["k-1"] == ("alice", "keep")
    # A deleted message can no longer be edited or deleted.
    alice.fails("edit_message", {"room": room, "message_id": "r-1", "new_message": "zombie"}, "message_not_found")
    alice.fails("delete_message", {"room": room, "message_id": "r-1"}, "message_not_found")


def test_deleting_someone_elses_message_is_forbidden_and_changes_nothing(clients, room_of):
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.send(room, "stays", message_id="s-1")
    bob.fails("delete_message", {"room": room, "user": "alice", "message_id": "s-1"}, "forbidden")
    bob.emit("delete_message", {"room": room, "message_id": "s-1"})
    assert bob.next("error")["code"] == "forbidden"
    alice.expect_none("message_deleted")
    assert history_of(clients, room)["s-1"] == ("alice", "stays")


def test_room_owner_may_delete_others_messages_but_not_edit_them(clients):
    owner, alice, bob = clients("owner"), clients("alice"), clients("bob")
    room = unique_room()
    owner.ok("create_room", room)
    for c in (owner, alice, bob):
        c.join(room)
    alice.send(room, "rule breaking", message_id="o-1")
    alice.send(room, "fine", message_id="o-2")
    owner.fails("edit_message", {"room": room, "message_id": "o-2", "new_message": "owner words"}, "forbidden")
    bob.fails("delete_message", {"room": room, "message_id": "o-1"}, "forbidden")
    owner.ok("delete_message", {"room": room, "message_id": "o-1"})
    for c in (owner, alice, bob):
        c.next("message_deleted", msg("o-1"))
    hist = history_of(clients, room)
    assert "o-1" not in hist and hist["o-2"] == ("alice", "fine")


def test_send_edit_delete_without_acks_work_like_the_seed(clients, room_of):
    """The seed's pages emit without ack callbacks; success must still be broadcast and raise no error."""
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    alice.emit("send_message", {"room": room, "user": "alice", "message": "plain", "message_id": "p-1"})
    assert bob.next("room_message", msg("p-1"))["message"] == "plain"
    alice.emit("edit_message", {"room": room, "message_id": "p-1", "new_message": "plainer"})
    assert bob.next("message_edited", msg("p-1"))["new_message"] == "plainer"
    alice.emit("delete_message", {"room": room, "message_id": "p-1"})
    bob.next("message_deleted", msg("p-1"))
    alice.expect_none("error")


def test_message_text_is_delivered_verbatim(clients, room_of):
    """No HTML escaping on the wire: rendering as text is the page's job."""
    alice, bob = clients("alice"), clients("bob")
    room = room_of(alice, bob)
    text = "<b>bold</b> & \"quotes\" 🙂\nsecond line"
    alice.send(room, text, message_id="t-1")
    assert bob.next("room_message", msg("t-1"))["message"] == text

"""Identity comes from the connection (handshake auth token, session cookie, or the first name an
anonymous connection gives), never from the `user` field of later events."""

import pytest

from confab_harness import SioClient, msg, system, unique_room


def new_room(c):
    room = unique_room()
    c.ok("check_room", room)
    return room


@pytest.mark.parametrize("auth", ["token", "cookie"])
def test_session_identity_wins_over_a_spoofed_user_field(clients, auth):
    alice = clients("alice")
    bob = clients("bob", auth=auth)
    room = new_room(alice)
    alice.join(room)
    bob.ok("join_room", {"room": room, "user": "alice"})
    alice.next("room_message", system("bob has joined the room."))
    alice.expect_none("room_message", system("alice has joined the room."))
    users = alice.next("update_users", lambda u: "bob" in u)
    assert sorted(users) == ["alice", "bob"], users
    bob.ok("send_message", {"room": room, "user": "alice", "message": "I am alice, honest", "message_id": "spoof-1"})
    m = alice.next("room_message", msg("spoof-1"))
    assert m["user"] == "bob", m
    bob.ok("leave_room", {"room": room, "user": "alice"})
    alice.next("room_message", system("bob has left the room."))
    assert alice.next("update_users", lambda u: "bob" not in u) == ["alice"]


def test_anonymous_connection_is_named_by_its_first_join_and_keeps_that_name(clients):
    alice = clients("alice")
    carol = clients("carol", auth=None)
    room = new_room(alice)
    alice.join(room)
    carol.join(room, user="carol")
    alice.next("room_message", system("carol has joined the room."))
    carol.ok("send_message", {"room": room, "user": "mallory", "message": "who am I", "message_id": "anon-1"})
    assert alice.next("room_message", msg("anon-1"))["user"] == "carol"
    # In another room too, the name is the session's.
    other = new_room(alice)
    alice.join(other)
    carol.ok("join_room", {"room": other, "user": "mallory"})
    alice.next("room_message", system("carol has joined the room."))
    alice.expect_none("room_message", system("mallory has joined the room."))
    # And she still owns her message.
    carol.ok("edit_message", {"room": room, "message_id": "anon-1", "new_message": "carol, it turns out"})
    assert alice.next("message_edited", msg("anon-1"))["new_message"] == "carol, it turns out"


def test_two_anonymous_guests_with_the_same_name_cannot_touch_each_others_messages(clients):
    sam1 = clients("sam", auth=None)
    sam2 = clients("sam", auth=None)
    room = new_room(sam1)
    sam1.join(room, user="sam")
    sam2.ok("join_room", {"room": room, "user": "sam"})
    sam1.send(room, "sam one's", message_id="same-name-1")
    sam2.fails("edit_message", {"room": room, "message_id": "same-name-1", "new_message": "sam two's"}, "forbidden")
    sam2.fails("delete_message", {"room": room, "message_id": "same-name-1"}, "forbidden")
    sam1.expect_none("message_edited")
    sam1.expect_none("message_deleted", within=0)


def test_two_connections_of_one_session_share_authorship(server, clients):
    token, _, _ = server.guest("dana")
    one = SioClient(server, name="dana", token=token)
    two = SioClient(server, name="dana", token=token)
    try:
        room = new_room(one)
        one.join(room)
        two.ok("join_room", {"room": room, "user": "dana"})
        one.send(room, "from tab one", message_id="tab-1")
        two.ok("edit_message", {"room": room, "message_id": "tab-1", "new_message": "edited in tab two"})
        assert one.next("message_edited", msg("tab-1"))["new_message"] == "edited in tab two"
    finally:
        one.close()
        two.close()


def test_the_guest_api_token_names_the_connection(server, clients):
    """POST /api/guest → {token, user:{id, name}}; that token in the handshake `auth` is the identity."""
    token, user, _ = server.guest("erin")
    assert user["id"].startswith("g_") and user["name"] == "erin"
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    erin = SioClient(server, name="erin", token=token)
    try:
        erin.ok("join_room", {"room": room, "user": "not-erin"})
        alice.next("room_message", system("erin has joined the room."))
    finally:
        erin.close()

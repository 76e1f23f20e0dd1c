"""Private rooms seen from python-socketio: update_rooms never names one to anybody (the lobby's
broadcast carries public rooms only), joining one as a non-member answers exactly like a missing
room, and a member banned over the native protocol gets the System notice and is out of the room."""

from confab_harness import NativeClient, SioClient, unique_room


def test_update_rooms_never_shows_a_private_room_to_a_non_member(clients, natives):
    owner = natives("owner")
    watcher = clients("watcher")
    anonymous = clients("nobody-yet", auth=None)
    secret = unique_room("secret")
    owner.ok("create_room", room=secret, private=True)
    public = unique_room("public")
    watcher.ok("create_room", public)
    for c in (watcher, anonymous):
        names = c.next("update_rooms", lambda l: isinstance(l, list) and public in l)
        assert secret not in names, names
    # Later whole-list updates (another room created) still leave it out.
    later = unique_room("later")
    watcher.ok("create_room", later)
    watcher.next("update_rooms", lambda l: isinstance(l, list) and later in l)
    for _, names in watcher.all("update_rooms"):
        assert secret not in names, names
    # check_room answers a taken name as for any taken name, and reveals nothing else.
    watcher.ok("check_room", secret)
    assert watcher.next("room_exists") is None


def test_joining_a_private_room_answers_like_a_missing_room(clients, natives):
    owner = natives("owner")
    outsider = clients("outsider")
    secret = unique_room("hidden")
    owner.ok("create_room", room=secret, private=True)
    hidden = outsider.call("join_room", {"room": secret, "user": "outsider"})
    missing_name = unique_room("missing")
    missing = outsider.call("join_room", {"room": missing_name, "user": "outsider"})
    assert hidden["ok"] is False and hidden["error"]["code"] == "room_not_found", hidden
    assert hidden["error"]["message"].replace(secret, "X") == missing["error"]["message"].replace(missing_name, "X")
    sent = outsider.call("send_message", {"room": secret, "message": "hi", "user": "outsider"})
    assert sent["error"]["code"] == "room_not_found", sent


def test_a_banned_member_gets_the_notice_and_leaves_the_room(clients, natives, server):
    owner = natives("owner")
    room = unique_room("den")
    owner.ok("create_room", room=room, private=True)
    owner.ok("join", room=room)
    token, _, _ = server.guest("bob")
    code = owner.ok("invite", room=room)["code"]
    bob = NativeClient(server, token)
    bob.ok("accept_invite", code=code)
    bob_sio = SioClient(server, name="bob", token=token)
    try:
        bob_sio.join(room)
        owner.ok("ban", room=room, actor=bob.user["id"])
        notice = bob_sio.next("room_message", lambda m: m.get("user") == "System" and "banned" in m.get("message", ""))
        assert notice["message"] == "owner banned bob from the room.", notice
        owner.ok("send", room=room, text="after the ban")
        bob_sio.expect_none("room_message", lambda m: m.get("message") == "after the ban")
        again = bob_sio.call("join_room", {"room": room})
        assert again["error"]["code"] == "room_not_found", again
    finally:
        bob_sio.close()
        bob.close()

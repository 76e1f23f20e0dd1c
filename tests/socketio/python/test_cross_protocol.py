"""A Socket.IO client and a native /ws client (docs/protocol.md) in one room see each other's
messages, edits and deletions, which are one set of stored messages."""

from confab_harness import msg, unique_room


def is_event(kind, pred=lambda f: True):
    return lambda f: f.get("type") == "event" and f.get("kind") == kind and pred(f)


def setup_room(clients, natives):
    """alice (Socket.IO) and nina (/ws) in a new room that neither of them owns."""
    host = clients("host")
    alice = clients("alice")
    nina = natives("nina")
    room = unique_room("cross")
    host.ok("check_room", room)
    alice.join(room)
    join = nina.ok("join", room=room)
    assert join["room"] == room or join["room"].get("name") == room
    return alice, nina, room


def test_socketio_message_reaches_native_client_with_the_same_seq(clients, natives):
    alice, nina, room = setup_room(clients, natives)
    ack = alice.send(room, "hi from socket.io", message_id="x-sio-1")
    ev = nina.event(is_event("message", lambda f: f["message"]["content"]["text"] == "hi from socket.io"))
    assert ev["room"] == room and ev["actor"]["name"] == "alice", ev
    assert ev["seq"] == ack["seq"], (ev, ack)
    assert ev["message"]["deleted"] is False


def test_native_message_reaches_socketio_client(clients, natives):
    alice, nina, room = setup_room(clients, natives)
    ack = nina.ok("send", room=room, text="hi from /ws")
    m = alice.next("room_message", lambda m: m["message"] == "hi from /ws")
    assert m["user"] == "nina" and m["message_id"] == str(ack["message_id"]), (m, ack)


def test_edits_and_deletes_cross_both_ways(clients, natives):
    alice, nina, room = setup_room(clients, natives)

    # Socket.IO → native: send, edit, delete.
    alice.send(room, "sio original", message_id="x-2")
    created = nina.event(is_event("message", lambda f: f["message"]["content"]["text"] == "sio original"))
    native_id = created["message"]["id"]
    alice.ok("edit_message", {"room": room, "message_id": "x-2", "new_message": "sio edited"})
    edit = nina.event(is_event("edit", lambda f: f["message_id"] == native_id))
    assert edit["content"]["text"] == "sio edited" and edit["actor"]["name"] == "alice", edit
    alice.ok("delete_message", {"room": room, "message_id": "x-2"})
    nina.event(is_event("delete", lambda f: f["message_id"] == native_id))

    # native → Socket.IO: send, edit, delete.
    sent = nina.ok("send", room=room, text="ws original")
    sio_id = str(sent["message_id"])
    assert alice.next("room_message", msg(sio_id))["message"] == "ws original"
    nina.ok("edit", room=room, message_id=sent["message_id"], text="ws edited")
    assert alice.next("message_edited", msg(sio_id))["new_message"] == "ws edited"
    nina.ok("delete", room=room, message_id=sent["message_id"])
    alice.next("message_deleted", msg(sio_id))


def test_ownership_holds_across_protocols(clients, natives):
    alice, nina, room = setup_room(clients, natives)
    sent = nina.ok("send", room=room, text="nina's")
    sio_id = str(sent["message_id"])
    alice.next("room_message", msg(sio_id))
    alice.fails("edit_message", {"room": room, "message_id": sio_id, "new_message": "alice's now"}, "forbidden")
    alice.fails("delete_message", {"room": room, "message_id": sio_id}, "forbidden")

    alice.send(room, "alice's", message_id="own-x")
    created = nina.event(is_event("message", lambda f: f["message"]["content"]["text"] == "alice's"))
    err = nina.request("edit", room=room, message_id=created["message"]["id"], text="nina's now")
    assert err["type"] == "error" and err["code"] == "forbidden", err
    err = nina.request("delete", room=room, message_id=created["message"]["id"])
    assert err["type"] == "error" and err["code"] == "forbidden", err


def test_history_is_one_store_for_both_protocols(clients, natives):
    alice, nina, room = setup_room(clients, natives)
    a = alice.send(room, "one (sio)", message_id="h-1")
    nina.ok("send", room=room, text="two (ws)")
    alice.send(room, "three (sio)", message_id="h-3")
    nina.event(is_event("message", lambda f: f["message"]["content"]["text"] == "three (sio)"))
    alice.ok("edit_message", {"room": room, "message_id": "h-1", "new_message": "one (sio, edited)"})
    alice.ok("delete_message", {"room": room, "message_id": "h-3"})

    viewer = clients("viewer")
    assert [(m["user"], m["message"]) for m in viewer.history_on_join(room)] == [
        ("alice", "one (sio, edited)"), ("nina", "two (ws)")]

    page = nina.ok("history", room=room, after=0, limit=200)
    first = [e["message"] for e in page["events"] if e["kind"] == "message"]
    assert len(first) == 3, page
    assert first[0]["content"]["text"] == "one (sio, edited)" and first[0]["edited_at"], first[0]
    assert first[1]["content"]["text"] == "two (ws)"
    assert first[2]["deleted"] is True, first[2]
    assert a["seq"] == next(e["seq"] for e in page["events"] if e["kind"] == "message")


def test_room_created_over_native_reaches_socketio_lobby(clients, natives):
    """One room-changed notice feeds both protocols' lobbies: a room made over /ws is announced to
    Socket.IO clients as `update_rooms`, and one made over Socket.IO to native lobby subscribers."""
    alice = clients("alice")
    nina = natives("nina")
    nina.ok("rooms", subscribe=True)
    room = unique_room("lobby-ws")
    nina.ok("create_room", room=room)
    names = alice.next("update_rooms", lambda l: isinstance(l, list) and room in l)
    assert room in names

    other = unique_room("lobby-sio")
    alice.ok("create_room", other)
    update = nina.event(lambda f: f.get("type") == "room_update" and f["room"]["name"] == other)
    assert update["room"]["kind"] == "public", update

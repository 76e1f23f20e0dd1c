"""Direct conversations and incoming webhooks from python-socketio (docs/socketio.md, extensions):
accounts registered over the HTTP API, `open_direct` with an acknowledgement, the live
`direct_opened` notice, a conversation nobody else can see, and a Slack-style webhook POST that
Socket.IO members receive as a `room_message`."""

import uuid

import requests

from confab_harness import SioClient, unique_room


def register(server, name):
    """POST /api/auth/register → (username, session token, user)."""
    username = f"{name.lower()}{uuid.uuid4().hex[:8]}"
    r = requests.post(server.url + "/api/auth/register",
                      json={"username": username, "password": "correct horse battery", "display_name": name},
                      timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    return username, body["token"], body["user"]


def test_two_accounts_talk_in_a_direct_conversation_nobody_else_sees(server):
    ann_name, ann_token, _ = register(server, "Ann")
    bob_name, bob_token, _ = register(server, "Bob")
    _, eve_token, _ = register(server, "Eve")
    ann = SioClient(server, name="Ann", token=ann_token)
    bob = SioClient(server, name="Bob", token=bob_token)
    eve = SioClient(server, name="Eve", token=eve_token)
    try:
        opened = ann.ok("open_direct", {"with": [bob_name]})
        room = opened["room"]["name"]
        assert room.startswith("@") and opened["room"]["kind"] == "direct", opened
        assert [m["name"] for m in opened["room"]["members"]] == ["Ann", "Bob"]
        told = bob.next("direct_opened", lambda d: d["room"] == room)
        assert [m["name"] for m in told["members"]] == ["Ann", "Bob"]
        assert bob.ok("open_direct", {"with": [ann_name.upper()]})["room"]["name"] == room, "the same pair, the same room"

        ann.join(room)
        bob.join(room)
        ann.send(room, "just between us", message_id="dm-1")
        got = bob.next("room_message", lambda m: m.get("message") == "just between us")
        assert got["user"] == "Ann" and got["room"] == room
        mine = bob.ok("my_rooms")
        dm = next(r for r in mine["rooms"] if r["name"] == room)
        assert dm["kind"] == "direct" and [m["name"] for m in dm["members"]] == ["Ann"], dm

        eve.fails("join_room", {"room": room, "user": "Eve"}, "room_not_found")
        eve.fails("send_message", {"room": room, "user": "Eve", "message": "hi"}, "room_not_found")
        eve.expect_none("direct_opened")
        assert all(room not in (names or []) for _, names in eve.all("update_rooms"))
        assert room not in requests.get(server.url + "/api/rooms", timeout=5).text
    finally:
        for c in (ann, bob, eve):
            c.close()


def test_a_webhook_message_reaches_socketio_members(server, clients):
    host = clients("host")
    room = unique_room("hook")
    host.ok("check_room", room)
    host.join(room)
    member = clients("mia")
    member.join(room)
    r = requests.post(f"{server.url}/api/rooms/{room}/webhooks", json={"name": "CI"},
                      headers={"Authorization": f"Bearer {host.token}"}, timeout=5)
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    posted = requests.post(url, json={"text": "pipeline green", "username": "GitLab"}, timeout=5)
    assert (posted.status_code, posted.text) == (200, "ok")
    m = member.next("room_message", lambda m: m.get("message") == "pipeline green")
    assert m["user"] == "GitLab" and m["user_id"].startswith("w_"), m
    form = requests.post(url, data={"payload": '{"text": "form encoded"}'}, timeout=5)
    assert form.status_code == 200, form.text
    assert member.next("room_message", lambda m: m.get("message") == "form encoded")["user"] == "CI"
    wrong = requests.post(url[:-1] + ("x" if not url.endswith("x") else "y"), json={"text": "nope"}, timeout=5)
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "webhook_not_found"

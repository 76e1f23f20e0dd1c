"""Accounts on Socket.IO with python-socketio: an API token (`cft_...`) or a signed-in session
(`cfs_...`) in the handshake `auth: {token}` acts as the account; revoking it disconnects the client
after an `error` event with code `session_revoked`; a bad token is a CONNECT_ERROR."""

import pytest
import requests
import socketio

from confab_harness import SioClient, msg, unique_room

PASSWORD = "correct horse battery"


def register(server, username):
    r = requests.post(server.url + "/api/auth/register", json={"username": username, "password": PASSWORD}, timeout=5)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


def api_token(server, session, name):
    r = requests.post(server.url + "/api/account/tokens", json={"name": name},
                      headers={"Authorization": f"Bearer {session}"}, timeout=5)
    assert r.status_code == 201, (r.status_code, r.text)
    return r.json()


def test_an_api_token_in_auth_acts_as_its_account_and_revoking_it_disconnects(server, clients):
    reg = register(server, "botowner")
    made = api_token(server, reg["token"], "ci")
    bot = SioClient(server, name="botowner", token=made["secret"])
    try:
        watcher = clients("watcher")
        room = unique_room()
        watcher.ok("check_room", room)
        watcher.join(room)
        bot.ok("join_room", {"room": room, "user": "someone else"})
        bot.ok("send_message", {"room": room, "user": "spoof", "message": "deployed", "message_id": "tok-1"})
        m = watcher.next("room_message", msg("tok-1"))
        assert m["user"] == "botowner", m

        r = requests.delete(server.url + f"/api/account/tokens/{made['token']['id']}",
                            headers={"Authorization": f"Bearer {reg['token']}"}, timeout=5)
        assert r.status_code == 204, r.text
        err = bot.next("error", lambda e: e.get("code") == "session_revoked")
        assert err["message"], err
        assert bot.disconnected.wait(5), "the revoked token's socket stays connected"
    finally:
        bot.close()


def test_a_session_token_in_auth_works_and_a_bad_one_is_refused(server):
    reg = register(server, "sessionuser")
    ok = SioClient(server, name="sessionuser", token=reg["token"])
    try:
        assert ok.connected
    finally:
        ok.close()
    bad = socketio.Client(reconnection=False)
    refusals = []
    bad.on("connect_error", lambda data: refusals.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        bad.connect(server.url, auth={"token": "cft_not-a-token"}, wait_timeout=5)
    assert refusals and refusals[0]["data"]["code"] == "unauthenticated", refusals
    assert refusals[0]["message"] == "unknown or expired session", refusals
    bad.disconnect()

"""CORS and cross-site WebSocket hijacking: only the server's own origin and the origins listed in
--allowed-origins may use /socket.io/, on both transports."""

import time

import pytest
import requests
import socketio
import websocket

from confab_harness import SioClient, msg, unique_room
from conftest import start_server

ALLOWED = "http://allowed.example"
ALSO_ALLOWED = "http://also.example:8080"
FOREIGN = "http://evil.example"


@pytest.fixture(scope="module")
def cors_server():
    s = start_server(allowed_origins=[ALLOWED, ALSO_ALLOWED])
    yield s
    s.cleanup()


def polling_handshake(srv, origin):
    return requests.get(srv.url + "/socket.io/", params={"EIO": "4", "transport": "polling"},
                        headers={"Origin": origin}, timeout=5)


def preflight(srv, origin):
    return requests.options(srv.url + "/socket.io/", params={"EIO": "4", "transport": "polling"},
                            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "content-type"}, timeout=5)


def ws_status(srv, origin):
    """Status of a raw Engine.IO WebSocket upgrade sent with this Origin (101 when accepted)."""
    try:
        ws = websocket.create_connection(f"ws://{srv.addr}/socket.io/?EIO=4&transport=websocket",
                                         origin=origin, timeout=5)
    except websocket.WebSocketBadStatusException as e:
        return e.status_code
    try:
        assert ws.recv().startswith("0{"), "no Engine.IO open packet"
    finally:
        ws.close()
    return 101


# --- default: no --allowed-origins ------------------------------------------------

def test_default_polling_gives_no_cors_header_to_a_foreign_origin(server):
    r = polling_handshake(server, FOREIGN)
    assert "Access-Control-Allow-Origin" not in r.headers, dict(r.headers)
    r = preflight(server, FOREIGN)
    assert "Access-Control-Allow-Origin" not in r.headers, dict(r.headers)


def test_default_websocket_from_a_foreign_origin_is_refused(server):
    assert ws_status(server, FOREIGN) == 403


def test_default_websocket_from_the_servers_own_origin_is_accepted(server):
    assert ws_status(server, server.url) == 101


def test_default_listed_origin_of_another_server_is_not_allowed_here(server):
    assert ws_status(server, ALLOWED) == 403
    assert "Access-Control-Allow-Origin" not in polling_handshake(server, ALLOWED).headers


# --- --allowed-origins http://allowed.example,http://also.example:8080 ------------

@pytest.mark.parametrize("origin", [ALLOWED, ALSO_ALLOWED])
def test_allowed_origin_gets_cors_headers_on_polling(cors_server, origin):
    r = polling_handshake(cors_server, origin)
    assert r.status_code == 200 and r.text.startswith("0{"), r.text
    assert r.headers.get("Access-Control-Allow-Origin") in (origin, "*"), dict(r.headers)
    p = preflight(cors_server, origin)
    assert p.status_code in (200, 204), p.status_code
    assert p.headers.get("Access-Control-Allow-Origin") in (origin, "*"), dict(p.headers)


def test_foreign_origin_still_refused_when_others_are_allowed(cors_server):
    assert "Access-Control-Allow-Origin" not in polling_handshake(cors_server, FOREIGN).headers
    assert "Access-Control-Allow-Origin" not in preflight(cors_server, FOREIGN).headers
    assert ws_status(cors_server, FOREIGN) == 403
    # A prefix or suffix of an allowed origin is not that origin.
    assert ws_status(cors_server, ALLOWED + ".evil.example") == 403
    assert ws_status(cors_server, "https://allowed.example") == 403


def test_allowed_origin_is_accepted_on_websocket(cors_server):
    assert ws_status(cors_server, ALLOWED) == 101
    assert ws_status(cors_server, cors_server.url) == 101


def test_socketio_clients_from_an_allowed_origin_work_on_both_transports(cors_server):
    room = unique_room()
    tok_a, _, _ = cors_server.guest("alice")
    tok_b, _, _ = cors_server.guest("bob")
    polling = SioClient(cors_server, name="alice", token=tok_a, transports=["polling"], origin=ALLOWED)
    ws = SioClient(cors_server, name="bob", token=tok_b, transports=["websocket"], origin=ALLOWED)
    try:
        polling.ok("check_room", room)
        polling.join(room)
        ws.join(room)
        polling.send(room, "cors ok", message_id="cors-1")
        assert ws.next("room_message", msg("cors-1"))["message"] == "cors ok"
        ws.send(room, "back", message_id="cors-2")
        polling.next("room_message", msg("cors-2"))
    finally:
        polling.close()
        ws.close()


def test_socketio_upgrade_from_an_allowed_origin_reaches_websocket(cors_server):
    tok, _, _ = cors_server.guest("carol")
    c = SioClient(cors_server, name="carol", token=tok, origin=ALLOWED)
    try:
        deadline = time.monotonic() + 5
        while c.transport() != "websocket":
            assert time.monotonic() < deadline, "upgrade from an allowed origin did not happen"
            time.sleep(0.05)
    finally:
        c.close()


def test_socketio_websocket_client_from_a_foreign_origin_cannot_connect(cors_server):
    tok, _, _ = cors_server.guest("mallory")
    with pytest.raises(socketio.exceptions.ConnectionError):
        SioClient(cors_server, name="mallory", token=tok, transports=["websocket"], origin=FOREIGN)

"""Engine.IO behaviour that real clients depend on: heartbeats on every transport, dead clients
detected by heartbeat timeout (and announced as leaving), batched polling payloads, acks in flight
during the upgrade, binary packets answered instead of breaking the connection.

This module's server runs with short heartbeats (--socketio-ping-interval-ms 400,
--socketio-ping-timeout-ms 1200) so that several ping cycles fit in a test."""

import json
import signal
import time

import pytest
import socketio
import websocket

from confab_harness import SioClient, msg, spawn_member, system, unique_room
from conftest import start_server

PING_INTERVAL_MS = 400
PING_TIMEOUT_MS = 1200
TRANSPORTS = {"polling": ["polling"], "websocket": ["websocket"], "upgrade": None}


@pytest.fixture(scope="module")
def server():
    s = start_server(extra_args=["--socketio-ping-interval-ms", str(PING_INTERVAL_MS),
                                 "--socketio-ping-timeout-ms", str(PING_TIMEOUT_MS)])
    yield s
    s.cleanup()


def new_room(c):
    room = unique_room()
    c.ok("check_room", room)
    return room


@pytest.mark.parametrize("kind", list(TRANSPORTS))
def test_heartbeats_keep_an_idle_client_connected(clients, kind):
    alice = clients("alice", transports=TRANSPORTS[kind])
    bob = clients("bob", transports=["websocket"])
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    time.sleep(6 * PING_INTERVAL_MS / 1000)  # six ping cycles of doing nothing
    assert alice.connected, "an idle, healthy client was disconnected"
    bob.expect_none("room_message", system("alice has left the room."), within=0)
    bob.send(room, "still with us?", message_id=f"hb-{kind}")
    alice.next("room_message", msg(f"hb-{kind}"))
    alice.send(room, "yes", message_id=f"hb-{kind}-r")
    bob.next("room_message", msg(f"hb-{kind}-r"))


def test_a_polling_client_that_vanishes_is_detected_and_announced(server, clients):
    """A long-polling client has no TCP connection to lose: only the missed heartbeat tells."""
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    token, _, _ = server.guest("carol")
    proc = spawn_member(server, token, room, transport="polling")
    try:
        alice.next("room_message", system("carol has joined the room."))
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        alice.next("room_message", system("carol has left the room."), timeout=10)
        alice.next("update_users", lambda u: "carol" not in u)
    finally:
        proc.kill()
        proc.wait(5)


def test_a_websocket_client_that_stops_answering_pings_is_dropped_and_announced(server, clients):
    """A half-open connection (the network went away, TCP did not notice) is found by the heartbeat."""
    alice = clients("alice")
    room = new_room(alice)
    alice.join(room)
    token, _, _ = server.guest("dora")
    ws = websocket.create_connection(f"ws://{server.addr}/socket.io/?EIO=4&transport=websocket", timeout=5)
    try:
        assert ws.recv().startswith("0{")
        ws.send("40" + json.dumps({"token": token}))
        assert ws.recv().startswith("40")
        ws.send("421" + json.dumps(["join_room", {"room": room, "user": "dora"}]))
        alice.next("room_message", system("dora has joined the room."))
        # From now on never answer "2" (ping) with "3" (pong).
        alice.next("room_message", system("dora has left the room."), timeout=10)
    finally:
        ws.close()


def test_a_burst_from_a_polling_client_arrives_complete_and_in_order(clients):
    """python-engineio batches queued packets into one POST body (separated by \\x1e)."""
    alice = clients("alice", transports=["polling"])
    bob = clients("bob", transports=["websocket"])
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    for i in range(25):
        alice.emit("send_message", {"room": room, "user": "alice", "message": f"b{i} ✓", "message_id": f"burst-{i}"})
    for i in range(25):
        assert bob.next("room_message", msg(f"burst-{i}"))["message"] == f"b{i} ✓"
    # python-engineio hands each received packet to its own thread, so arrival order at the handler is
    # not the wire order; the room's sequence numbers carry the server's order.
    burst = [p for _, p in bob.all("room_message") if str(p.get("message_id", "")).startswith("burst-")]
    assert len(burst) == 25, "each message exactly once"
    by_seq = [p["message_id"] for p in sorted(burst, key=lambda p: p["seq"])]
    assert by_seq == [f"burst-{i}" for i in range(25)]
    seqs = sorted(p["seq"] for p in burst)
    assert seqs == list(range(seqs[0], seqs[0] + 25)), "consecutive: nothing else interleaved or lost"


def test_acks_in_flight_during_the_upgrade_all_arrive(server, clients):
    bob = clients("bob", transports=["websocket"])
    room = new_room(bob)
    bob.join(room)
    token, _, _ = server.guest("alice")
    alice = SioClient(server, name="alice", token=token)  # default transports: upgrading now
    try:
        acks = {}

        def keep(i):
            return lambda *a: acks.__setitem__(i, a[0] if a else None)

        alice.sio.emit("join_room", {"room": room, "user": "alice"}, callback=keep("join"))
        for i in range(20):
            alice.sio.emit("send_message", {"room": room, "user": "alice", "message": f"a{i}", "message_id": f"up-{i}"},
                           callback=keep(i))
        deadline = time.monotonic() + 5
        while len(acks) < 21 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(acks) == 21, f"acks received: {sorted(map(str, acks))}"
        assert all(a and a.get("ok") for a in acks.values()), acks
        assert [acks[i]["message_id"] for i in range(20)] == [f"up-{i}" for i in range(20)]
        seqs = [acks[i]["seq"] for i in range(20)]
        assert seqs == sorted(seqs) and len(set(seqs)) == 20
        for i in range(20):
            bob.next("room_message", msg(f"up-{i}"))
    finally:
        alice.close()


def binary_setup(clients, kind):
    alice = clients("alice", transports=TRANSPORTS[kind])
    bob = clients("bob")
    room = new_room(alice)
    alice.join(room)
    bob.join(room)
    bad = {"room": room, "user": "alice", "message": b"\x00\x01binary", "message_id": f"bin-{kind}"}
    return alice, bob, room, bad


def usable_after(alice, bob, room, tag):
    bob.expect_none("room_message", lambda m: str(m.get("message_id", "")).startswith("bin-"))
    assert alice.connected
    alice.send(room, "text again", message_id=f"ok-{tag}")
    bob.next("room_message", msg(f"ok-{tag}"))


@pytest.mark.parametrize("kind", ["polling", "websocket"])
def test_binary_payload_without_ack_gets_an_error_event_and_the_connection_survives(clients, kind):
    """The seed never sends binary; a client that does gets an error, not a broken connection."""
    alice, bob, room, bad = binary_setup(clients, kind)
    alice.emit("send_message", bad)
    err = alice.next("error")
    assert err["code"] in ("bad_request", "bad_frame") and err["message"], err
    usable_after(alice, bob, room, f"bin-noack-{kind}")


@pytest.mark.parametrize("kind", ["polling", "websocket"])
def test_binary_payload_with_ack_is_acknowledged_with_an_error(clients, kind):
    alice, bob, room, bad = binary_setup(clients, kind)
    ack = alice.call("send_message", bad)
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    assert ack["error"]["code"] in ("bad_request", "bad_frame") and ack["error"]["message"], ack
    usable_after(alice, bob, room, f"bin-ack-{kind}")


def test_simple_client_works(server):
    """python-socketio's SimpleClient, the way a script would use Confab."""
    token, _, _ = server.guest("sally")
    room = unique_room("simple")
    with socketio.SimpleClient() as sc:
        sc.connect(server.url, auth={"token": token}, wait_timeout=5)
        assert sc.call("check_room", room, timeout=5)["ok"] is True
        event = sc.receive(timeout=5)
        while event[0] != "room_created":  # other events (update_rooms) may come first
            event = sc.receive(timeout=5)
        assert sc.call("join_room", {"room": room, "user": "sally"}, timeout=5)["ok"] is True
        seen = []
        while not any(e[0] == "room_message" and e[1].get("message") == "sally has joined the room." for e in seen):
            seen.append(sc.receive(timeout=5))
        ack = sc.call("send_message", {"room": room, "user": "sally", "message": "simple", "message_id": "sc-1"}, timeout=5)
        assert ack["ok"] is True and ack["message_id"] == "sc-1"
        event = sc.receive(timeout=5)
        while event[0] != "room_message" or event[1].get("message_id") != "sc-1":
            event = sc.receive(timeout=5)
        assert (event[1]["user"], event[1]["message"]) == ("sally", "simple")

"""Test support for the Socket.IO compatibility suite: start the real Confab server,
drive it with the python-socketio client, and speak Confab's native `/ws` protocol.

Everything here talks to a real `$CONFAB_BIN` process on an ephemeral loopback port.
Waits are bounded (`DEFAULT_TIMEOUT`), so a missing event fails the test instead of hanging it.
"""

import atexit
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
import socketio
import websocket

# How long to wait for an event or an ack that should arrive (seconds).
DEFAULT_TIMEOUT = 5.0
# How long to watch for an event that must NOT arrive (seconds).
QUIET_PERIOD = 0.7
# The server's leave grace period in these tests (ms); see --leave-grace-ms.
LEAVE_GRACE_MS = 300

_LISTENING = re.compile(r"listening on (127\.0\.0\.1:\d+)")

# Every server process started, so that none outlives the test run even if a fixture never finishes.
_RUNNING = set()


@atexit.register
def _kill_leftovers():
    for proc in _RUNNING:
        if proc.poll() is None:
            proc.kill()


def unique_room(prefix="room"):
    """A fresh, valid room name, so tests sharing one server never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class ConfabServer:
    """One `$CONFAB_BIN` process. `start()` blocks until it prints its address and
    `/healthz` answers 200; `stop()` always ends it. `restart()` keeps the data dir and port."""

    def __init__(self, data_dir=None, allowed_origins=None, extra_args=()):
        self.bin = os.environ.get("CONFAB_BIN")
        if not self.bin:
            raise RuntimeError("CONFAB_BIN must name the confab server binary")
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="confab-sio-")
        self.allowed_origins = allowed_origins
        self.extra_args = list(extra_args)
        self.proc = None
        self.addr = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"confab-sio-{uuid.uuid4().hex[:8]}.log")
        self._drain = None

    @property
    def url(self):
        return f"http://{self.addr}"

    @property
    def port(self):
        return int(self.addr.rsplit(":", 1)[1])

    def start(self, bind="127.0.0.1:0", timeout=30.0):
        args = [self.bin, "--bind", bind, "--data-dir", self.data_dir,
                "--leave-grace-ms", str(LEAVE_GRACE_MS)]
        if self.allowed_origins:
            args += ["--allowed-origins", ",".join(self.allowed_origins)]
        args += self.extra_args
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        _RUNNING.add(self.proc)
        found = threading.Event()
        holder = {}

        def drain():
            # Keep reading stdout for the whole life of the process so it never blocks on a full pipe.
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace")
                log.write(raw)
                log.flush()
                m = _LISTENING.search(line)
                if m and not found.is_set():
                    holder["addr"] = m.group(1)
                    found.set()
            log.close()

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"confab did not start (args {args}); log:\n{self.log_tail()}")
        self.addr = holder["addr"]
        while True:
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"/healthz never answered 200; log:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, hard=False):
        """SIGTERM (a clean shutdown), or with hard=True SIGKILL (a crash: nothing gets flushed)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if hard:
                self.proc.kill()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._drain:
            self._drain.join(5)
        self.proc = None

    def restart(self, hard=False):
        """Stop (or kill, with hard=True), then start again on the same data dir and the same port."""
        bind = self.addr
        self.stop(hard=hard)
        deadline = time.monotonic() + 15
        while True:
            try:
                return self.start(bind=bind)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            os.remove(self.log_path)
        except OSError:
            pass

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    # --- HTTP API -------------------------------------------------------------
    def guest(self, name):
        """`POST /api/guest` → (token, user, cookie value of confab_session)."""
        r = requests.post(self.url + "/api/guest", json={"name": name}, timeout=5)
        assert r.status_code == 200, (r.status_code, r.text)
        body = r.json()
        assert body["user"]["name"] == name
        return body["token"], body["user"], r.cookies.get("confab_session")


class SioClient:
    """A python-socketio client that records every server event in arrival order.

    `next(event)` returns (and consumes) the first not-yet-consumed event of that name that matches a
    predicate, waiting up to DEFAULT_TIMEOUT; `expect_none` asserts that no such event arrives."""

    def __init__(self, server, *, name=None, token=None, cookie=None, transports=None, headers=None,
                 origin=None, connect=True):
        self.server = server
        # The name this connection is known by: its session's name (token/cookie), or for an
        # anonymous connection the `user` it sends first.
        self.name = name
        # An explicit Origin goes in `headers` (used by both transports); websocket-client would
        # add its own Origin too, so that one is suppressed.
        self.sio = socketio.Client(reconnection=False, request_timeout=5,
                                   websocket_extra_options={"suppress_origin": True} if origin else None)
        self.events = []          # [(event, payload)] in arrival order
        self.consumed = set()     # indexes of events already returned by next()
        self.cond = threading.Condition()
        self.disconnected = threading.Event()
        self.token = token

        @self.sio.on("*")
        def _any(event, *args):
            payload = args[0] if len(args) == 1 else (list(args) if args else None)
            with self.cond:
                self.events.append((event, payload))
                self.cond.notify_all()

        @self.sio.on("disconnect")
        def _disconnect(*_):
            self.disconnected.set()

        self._headers = dict(headers or {})
        if cookie:
            self._headers["Cookie"] = f"confab_session={cookie}"
        if origin:
            self._headers["Origin"] = origin
        self._auth = {"token": token} if token else None
        self._transports = transports
        if connect:
            self.connect()

    def connect(self):
        self.sio.connect(self.server.url, headers=self._headers, auth=self._auth,
                         transports=self._transports, wait_timeout=DEFAULT_TIMEOUT)
        return self

    @property
    def connected(self):
        return self.sio.connected and not self.disconnected.is_set()

    def transport(self):
        return self.sio.transport()

    def close(self):
        try:
            self.sio.disconnect()
        except Exception:
            pass

    # --- sending --------------------------------------------------------------
    def call(self, event, data=None, timeout=DEFAULT_TIMEOUT):
        """Emit with an ack callback; return the ack payload."""
        return self.sio.call(event, data, timeout=timeout)

    def emit(self, event, data=None):
        """Emit without an ack callback."""
        self.sio.emit(event, data)

    def ok(self, event, data=None):
        """Emit with an ack and assert the ack is {"ok": true, ...}."""
        ack = self.call(event, data)
        assert isinstance(ack, dict) and ack.get("ok") is True, f"{event} {data!r} acked {ack!r}"
        return ack

    def fails(self, event, data, code):
        """Emit with an ack and assert {"ok": false, "error": {"code": code, "message": str}}."""
        ack = self.call(event, data)
        assert isinstance(ack, dict) and ack.get("ok") is False, f"{event} {data!r} acked {ack!r}"
        err = ack.get("error")
        assert isinstance(err, dict) and err.get("code") == code, f"{event} {data!r}: want {code}, got {ack!r}"
        assert isinstance(err.get("message"), str) and err["message"], ack
        return err

    # --- receiving ------------------------------------------------------------
    def next(self, event, pred=None, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (ev, payload) in enumerate(self.events):
                    if i in self.consumed or ev != event:
                        continue
                    if pred is None or pred(payload):
                        self.consumed.add(i)
                        return payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no {event!r} event matching within {timeout}s; received: {self.events!r}")
                self.cond.wait(left)

    def expect_none(self, event, pred=None, within=QUIET_PERIOD):
        time.sleep(within)
        with self.cond:
            bad = [(i, p) for i, (ev, p) in enumerate(self.events)
                   if ev == event and i not in self.consumed and (pred is None or pred(p))]
        assert not bad, f"unexpected {event!r} events: {bad!r}"

    def all(self, event=None):
        with self.cond:
            return [(ev, p) for ev, p in self.events if event is None or ev == event]

    def mark(self):
        """A position in the event log, for `since(mark)`."""
        with self.cond:
            return len(self.events)

    def since(self, mark):
        with self.cond:
            return list(self.events[mark:])

    # --- vocabulary shortcuts ---------------------------------------------------
    def join(self, room, user=None):
        """join_room with an ack; wait for our own join notice (it follows the history).
        Returns the ack."""
        ack = self.ok("join_room", {"room": room, "user": user or self.name})
        self.next("room_message", system(f"{self.name} has joined the room."))
        return ack

    def history_on_join(self, room, user=None):
        """Join and return the non-System room_message payloads sent before our join notice, in the
        room's order. python-engineio hands each received packet to its own thread, so the order in
        which handlers record events is not the wire order: Confab's `seq` field gives the order, and
        a short settle lets packets received before the notice finish being recorded."""
        start = self.mark()
        self.join(room, user)
        time.sleep(0.3)
        received = [p for ev, p in self.since(start) if ev == "room_message"]
        notice = next(p for p in received
                      if p.get("user") == "System" and p.get("message") == f"{self.name} has joined the room.")
        history = [p for p in received if p.get("user") != "System" and p["seq"] < notice["seq"]]
        return sorted(history, key=lambda p: p["seq"])

    def send(self, room, text, message_id=None, user=None):
        data = {"room": room, "user": user or self.name, "message": text}
        if message_id is not None:
            data["message_id"] = message_id
        return self.ok("send_message", data)


# Events one connection sends in a burst in these tests: below the server's per-connection
# request burst (--request-burst, 40 by default), so rate limiting never interferes.
PER_CONNECTION_BURST = 30


def send_many(client, room, items):
    """Send [(text, message_id)] to `room` as `client`'s session, spread over fresh connections of the
    same session (the server rate-limits each connection), each acked before the next. The extra
    connections join silently (the session is already in the room) and close afterwards."""
    acks = []
    for i in range(0, len(items), PER_CONNECTION_BURST):
        extra = SioClient(client.server, name=client.name, token=client.token)
        try:
            extra.ok("join_room", {"room": room, "user": client.name})
            for text, mid in items[i:i + PER_CONNECTION_BURST]:
                acks.append(extra.send(room, text, message_id=mid))
        finally:
            extra.close()
    return acks


def system(text):
    """Predicate: a room_message from System with exactly this text."""
    return lambda m: isinstance(m, dict) and m.get("user") == "System" and m.get("message") == text


def msg(message_id):
    """Predicate: a payload whose message_id is this one."""
    return lambda m: isinstance(m, dict) and m.get("message_id") == message_id


class NativeClient:
    """Confab's own protocol at /ws (docs/protocol.md): request/ack by id, events queued."""

    def __init__(self, server, token):
        url = f"ws://{server.addr}/ws?token={token}"
        self.ws = websocket.create_connection(url, timeout=DEFAULT_TIMEOUT)
        self.ids = itertools.count(1)
        self.frames = []
        welcome = self._recv()
        assert welcome.get("type") == "welcome", welcome
        assert welcome.get("user"), f"token not accepted on /ws: {welcome}"
        self.user = welcome["user"]

    def _recv(self, timeout=DEFAULT_TIMEOUT):
        self.ws.settimeout(timeout)
        return json.loads(self.ws.recv())

    def request(self, type_, **fields):
        rid = str(next(self.ids))
        self.ws.send(json.dumps({"type": type_, "id": rid, **fields}))
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no answer to {type_} {fields}")
            frame = self._recv(left)
            if frame.get("id") == rid and frame.get("type") in ("ack", "error"):
                return frame
            self.frames.append(frame)

    def ok(self, type_, **fields):
        frame = self.request(type_, **fields)
        assert frame["type"] == "ack", f"{type_} {fields}: {frame}"
        return frame

    def event(self, pred, timeout=DEFAULT_TIMEOUT):
        """Return (and remove) the first queued or incoming frame matching pred."""
        for i, f in enumerate(self.frames):
            if pred(f):
                return self.frames.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching native frame; queued: {self.frames}")
            try:
                f = self._recv(left)
            except websocket.WebSocketTimeoutException:
                continue
            if pred(f):
                return f
            self.frames.append(f)

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


def spawn_member(server, token, room, transport="websocket"):
    """Start a separate process that joins `room` over Socket.IO and then waits, so a test can
    SIGKILL it and drop the connection without any goodbye (the way a crashed browser tab does)."""
    code = r"""
import sys, time, socketio
url, token, room, transport = sys.argv[1:5]
sio = socketio.Client(reconnection=False)
sio.connect(url, auth={"token": token}, transports=[transport], wait_timeout=5)
ack = sio.call("join_room", {"room": room, "user": "ignored"}, timeout=5)
print("JOINED" if isinstance(ack, dict) and ack.get("ok") else f"FAILED {ack!r}", flush=True)
time.sleep(120)
"""
    p = subprocess.Popen([sys.executable, "-c", code, server.url, token, room, transport],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = {}

    def read():
        line["v"] = p.stdout.readline().decode().strip()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(15)
    if line.get("v") != "JOINED":
        p.kill()
        raise AssertionError(f"member process did not join: {line.get('v')!r} {p.stderr.read1(4000) if p.poll() is not None else ''}")
    return p

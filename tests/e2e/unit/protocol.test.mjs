// The client's protocol layer (ui/protocol.js) under node, against a scripted fake WebSocket: requests
// matched to answers by id, failures as typed errors, reconnection with jittered backoff, bad frames ignored.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { ui } from './ui.mjs';

const { Connection, parseFrame, backoffDelay, ProtocolError } = await import(ui('protocol.js'));

/** A WebSocket stand-in: records what is sent; the test plays the server with `receive` and `drop`. */
class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 1;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  receive(frame) { this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code }); }
}

const welcome = { type: 'welcome', protocol: 1, user: { id: 'g_1', name: 'sam' }, limits: { max_text_bytes: 4000 } };

let current = null;
afterEach(() => current?.close());

function connect(extra = {}) {
  FakeSocket.all = [];
  const seen = { states: [], events: [], welcomes: [], noSession: 0 };
  const conn = new Connection({
    url: 'ws://x/ws',
    WebSocketImpl: FakeSocket,
    random: () => 0,
    handlers: {
      onState: (s, at) => seen.states.push([s, at]),
      onWelcome: (w, resumed) => seen.welcomes.push(resumed),
      onEvent: (e) => seen.events.push(e),
      onNoSession: () => { seen.noSession += 1; },
    },
    ...extra,
  });
  conn.start();
  current = conn;
  return { conn, seen, ws: () => FakeSocket.all[FakeSocket.all.length - 1] };
}

test('parseFrame keeps JSON objects with a type and drops everything else', () => {
  assert.deepEqual(parseFrame('{"type":"ack","id":"1"}'), { type: 'ack', id: '1' });
  for (const bad of ['not json', '[1,2]', '"str"', '{"id":1}', '{"type":5}', 'null']) assert.equal(parseFrame(bad), null, bad);
  assert.equal(parseFrame(new ArrayBuffer(2)), null);
});

test('backoff doubles from 0.5 s to a 15 s cap, jittered between half and all of it', () => {
  assert.equal(backoffDelay(0, 0, () => 1), 500);
  assert.equal(backoffDelay(0, 0, () => 0), 250);
  assert.equal(backoffDelay(3, 0, () => 1), 4000);
  assert.equal(backoffDelay(20, 0, () => 1), 15000);
  assert.equal(backoffDelay(0, 4002, () => 1), 5000, 'rate_limited waits longer');
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
  assert.ok(spread.size > 10, 'random jitter spreads reconnecting clients');
  for (const d of spread) assert.ok(d >= 4000 && d <= 8000, String(d));
});

test('a request resolves with its own ack, and errors reject with the server code', async () => {
  const { conn, ws } = connect();
  ws().receive(welcome);
  assert.equal(conn.state, 'live');
  assert.equal(conn.limits.max_text_bytes, 4000);
  const a = conn.request('send', { room: 'r', text: 'one' });
  const b = conn.request('send', { room: 'r', text: 'two' });
  const [fa, fb] = ws().sent;
  assert.equal(fa.type, 'send');
  assert.notEqual(fa.id, fb.id);
  ws().receive({ type: 'error', id: fb.id, code: 'text_too_long', message: 'too long' });
  ws().receive({ type: 'ack', id: fa.id, seq: 7 });
  assert.equal((await a).seq, 7);
  await assert.rejects(b, (e) => e instanceof ProtocolError && e.code === 'text_too_long');
});

test('a dropped connection rejects what is in flight and reconnects after a backoff, then says resumed', async () => {
  const { conn, seen, ws } = connect();
  ws().receive(welcome);
  const inflight = conn.request('join', { room: 'r' });
  ws().drop(1001);
  await assert.rejects(inflight, (e) => e.code === 'disconnected');
  assert.equal(conn.state, 'reconnecting');
  const [, retryAt] = seen.states.at(-1);
  assert.ok(retryAt > Date.now(), 'the countdown has a target');
  await assert.rejects(conn.request('send', {}), (e) => e.code === 'disconnected', 'nothing is sent while down');
  await new Promise((r) => setTimeout(r, 300)); // random() = 0: 250 ms
  assert.equal(FakeSocket.all.length, 2, 'a second socket was opened');
  ws().receive(welcome);
  assert.deepEqual(seen.welcomes, [false, true]);
  assert.equal(conn.attempt, 0, 'a welcome resets the backoff');
});

test('offline: no attempts until the network returns', async () => {
  let online = true;
  const { conn, ws } = connect({ online: () => online });
  ws().receive(welcome);
  online = false;
  ws().drop();
  assert.equal(conn.state, 'offline');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(FakeSocket.all.length, 1, 'no reconnect attempt while offline');
  online = true;
  conn.retryNow();
  assert.equal(FakeSocket.all.length, 2);
  assert.equal(conn.state, 'reconnecting');
});

test('events are passed on only with a room and a seq; unknown frames and stray answers are ignored', () => {
  const { seen, ws, conn } = connect();
  ws().receive(welcome);
  ws().receive({ type: 'event', room: 'r', seq: 1, kind: 'join' });
  ws().receive({ type: 'event', room: 'r', kind: 'join' });
  ws().receive({ type: 'surprise' });
  ws().receive('garbage');
  ws().receive({ type: 'ack', id: 'nobody' });
  assert.equal(seen.events.length, 1);
  assert.equal(conn.state, 'live');
});

test('a welcome without a user asks for a session and does not go live', () => {
  const { conn, seen, ws } = connect();
  ws().receive({ ...welcome, user: null });
  assert.equal(seen.noSession, 1);
  assert.notEqual(conn.state, 'live');
});

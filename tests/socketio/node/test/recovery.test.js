// Socket.IO connection state recovery (--socketio-recovery-ms, docs/socketio.md): socket.io-client's own
// recovery (pid and offsets) against Confab, on one node and across two nodes sharing PostgreSQL and
// Redis. The client reaches the servers through a TCP proxy standing in for a load balancer; the test
// cuts every connection through it abruptly (no Engine.IO or WebSocket close), as a network would,
// and points it at another node before the client reconnects.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const crypto = require('node:crypto');
const { execFileSync } = require('node:child_process');
const { io } = require('socket.io-client');
const { ConfabServer, TIMEOUT, QUIET, sleep, uniqueRoom, system } = require('../lib/confab');

const DATABASE_URL = process.env.CONFAB_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = `redis://${process.env.CONFAB_TEST_REDIS_ADDR || '127.0.0.1:6379'}`;
const GRACE_MS = 5000;

/** A TCP proxy on 127.0.0.1 to `target` (host:port), which can cut every connection and change target. */
class Balancer {
  constructor(target) { this.target = target; this.links = new Set(); }
  async start() {
    this.server = net.createServer((client) => {
      const [host, port] = this.target.split(':');
      const upstream = net.connect(Number(port), host);
      const link = { client, upstream };
      this.links.add(link);
      client.pipe(upstream).pipe(client);
      const drop = () => { client.destroy(); upstream.destroy(); this.links.delete(link); };
      client.on('error', drop); upstream.on('error', drop); client.on('close', drop); upstream.on('close', drop);
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }
  /** Every connection reset at once (RST, no close handshake of any protocol). */
  cut() { for (const { client, upstream } of this.links) { client.resetAndDestroy(); upstream.resetAndDestroy(); } this.links.clear(); }
  stop() { this.cut(); this.server.close(); }
}

/** A socket.io-client socket through `url` that recovers (reconnection on), recording room events. */
function recoveringClient(url, token, transports = ['websocket']) {
  const socket = io(url, {
    transports, auth: { token }, forceNew: true, timeout: TIMEOUT,
    reconnection: true, reconnectionDelay: 300, reconnectionDelayMax: 300, randomizationFactor: 0,
  });
  const c = { socket, events: [], connects: [], waiters: [] };
  socket.on('connect', () => { c.connects.push({ recovered: socket.recovered, id: socket.id }); c.wake(); });
  socket.onAny((event, data, offset) => { c.events.push({ event, data, offset }); c.wake(); });
  c.wake = () => { for (const w of c.waiters.slice()) w(); };
  c.until = (pred, what, timeout = TIMEOUT) => new Promise((resolve, reject) => {
    const check = () => { if (!pred()) return false; clearTimeout(timer); c.waiters = c.waiters.filter((w) => w !== check); resolve(); return true; };
    const timer = setTimeout(() => { c.waiters = c.waiters.filter((w) => w !== check); reject(new Error(`${what}: ${JSON.stringify(c.events.slice(-20))} connects ${JSON.stringify(c.connects)}`)); }, timeout);
    if (!check()) c.waiters.push(check);
  });
  c.messages = () => c.events.filter((e) => e.event === 'room_message' && e.data.user !== 'System').map((e) => e.data);
  c.call = (event, data) => socket.timeout(TIMEOUT).emitWithAck(event, data);
  return c;
}

/** A writer that is never cut: socket.io-client straight to a node, no recovery involved. */
async function writer(server, name) {
  const { token } = await server.guest(name);
  const socket = io(server.url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
  await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('connect_error', reject); });
  const events = [];
  socket.onAny((event, data) => events.push({ event, data }));
  return { socket, events, call: (event, data) => socket.timeout(TIMEOUT).emitWithAck(event, data) };
}

/** Alice joins `room` through the balancer and sees `before` messages from bob; then the cut, `missed`
 * messages from bob while she is away, her reconnection (through the balancer, wherever it points
 * then), and one live message. Returns what she saw. */
async function cutAndCome_back(balancer, entry, bob, room, { before = 3, missed = 5, retarget } = {}) {
  const { token } = await entry.guest('alice');
  const alice = recoveringClient(balancer.url, token);
  await alice.until(() => alice.connects.length === 1, 'first connect');
  assert.equal(alice.connects[0].recovered, false, 'a first connection is not a recovery');
  const joined = await alice.call('join_room', { room, user: 'alice' });
  assert.equal(joined.ok, true, JSON.stringify(joined));
  for (let i = 0; i < before; i++) assert.equal((await bob.call('send_message', { room, message: `before ${i}`, message_id: `b-${i}` })).ok, true);
  await alice.until(() => alice.messages().length === before, 'messages before the cut');
  const offsets = alice.events.filter((e) => e.event === 'room_message').map((e) => e.offset);
  assert.ok(offsets.every((o) => typeof o === 'string' && /^\d+:\d+$/.test(o)), `every room event carries an offset: ${offsets}`);

  const bobSaw = bob.events.length;
  balancer.cut();
  if (retarget) balancer.target = retarget;
  for (let i = 0; i < missed; i++) assert.equal((await bob.call('send_message', { room, message: `missed ${i}`, message_id: `m-${i}` })).ok, true);
  await alice.until(() => alice.connects.length === 2, 'reconnect');
  await alice.until(() => alice.messages().length === before + missed, 'the missed messages');
  assert.equal((await bob.call('send_message', { room, message: 'live', message_id: 'live' })).ok, true);
  await alice.until(() => alice.messages().some((m) => m.message === 'live'), 'the live message after recovery');
  await sleep(QUIET);
  return { alice, bobSince: bob.events.slice(bobSaw) };
}

/** Alice got every message once, in the room's order, and nobody was told she left or joined. */
function assertExactlyOnce(alice, bobSince, before, missed) {
  const texts = alice.messages().map((m) => m.message);
  const want = [...Array(before).keys()].map((i) => `before ${i}`).concat([...Array(missed).keys()].map((i) => `missed ${i}`), ['live']);
  assert.deepEqual(texts, want, 'every message once, in order');
  const seqs = alice.events.filter((e) => e.event === 'room_message').map((e) => e.data.seq);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'room order');
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicate event');
  const notices = bobSince.filter((e) => e.event === 'room_message' && e.data.user === 'System').map((e) => e.data.message);
  assert.deepEqual(notices, [], 'the recovered member never left: no leave or join notice');
}

describe('connection state recovery on one node (SQLite, no Redis)', () => {
  let server; let balancer; let bob;
  before(async () => {
    server = await new ConfabServer({ leaveGraceMs: GRACE_MS, extraArgs: ['--socketio-recovery-ms', '4000', '--requests-per-second', '0'] }).start();
    balancer = await new Balancer(server.addr).start();
    bob = await writer(server, 'bob');
  });
  after(async () => { bob.socket.close(); balancer.stop(); await server.cleanup(); });

  it('a client cut off gets exactly the events it missed, once, in order, then live ones', async () => {
    const room = uniqueRoom('rec');
    await bob.call('check_room', room);
    assert.equal((await bob.call('join_room', { room, user: 'bob' })).ok, true);
    const { alice, bobSince } = await cutAndCome_back(balancer, server, bob, room);
    assert.equal(alice.connects[1].recovered, true, 'socket.recovered');
    assert.equal(alice.connects[1].id, alice.connects[0].id, 'a recovered socket keeps its id');
    assertExactlyOnce(alice, bobSince, 3, 5);
    alice.socket.close();
  });

  it('a socket in two rooms recovers each room exactly from the one offset it kept', async () => {
    const [r1, r2] = [uniqueRoom('two'), uniqueRoom('two')];
    for (const r of [r1, r2]) {
      await bob.call('check_room', r);
      assert.equal((await bob.call('join_room', { room: r, user: 'bob' })).ok, true);
    }
    const { token } = await server.guest('alice');
    const alice = recoveringClient(balancer.url, token);
    await alice.until(() => alice.connects.length === 1, 'first connect');
    for (const r of [r1, r2]) assert.equal((await alice.call('join_room', { room: r, user: 'alice' })).ok, true);
    const say = async (r, text) => assert.equal((await bob.call('send_message', { room: r, message: text, message_id: text })).ok, true);
    // Interleaved: the offset the client keeps names both rooms, each at what it processed there.
    for (let i = 0; i < 4; i++) await say(i % 2 ? r2 : r1, `before ${i}`);
    await alice.until(() => alice.messages().length === 4, 'messages before the cut');
    balancer.cut();
    for (let i = 0; i < 6; i++) await say(i % 3 ? r1 : r2, `missed ${i}`);
    await alice.until(() => alice.connects.length === 2, 'reconnect');
    assert.equal(alice.connects[1].recovered, true);
    await alice.until(() => alice.messages().length === 10, 'the missed messages of both rooms');
    await sleep(QUIET);
    const inRoom = (r) => alice.messages().filter((m) => m.room === r).map((m) => m.message);
    assert.deepEqual(inRoom(r1), ['before 0', 'before 2', 'missed 1', 'missed 2', 'missed 4', 'missed 5']);
    assert.deepEqual(inRoom(r2), ['before 1', 'before 3', 'missed 0', 'missed 3']);
    alice.socket.close();
  });

  it('after the recovery window the client starts afresh: not recovered, nothing replayed until it rejoins', async () => {
    const short = await new ConfabServer({ leaveGraceMs: GRACE_MS, extraArgs: ['--socketio-recovery-ms', '200'] }).start();
    const lb = await new Balancer(short.addr).start();
    const carol = await writer(short, 'carol');
    try {
      const room = uniqueRoom('exp');
      await carol.call('check_room', room);
      assert.equal((await carol.call('join_room', { room, user: 'carol' })).ok, true);
      const { token } = await short.guest('alice');
      const alice = recoveringClient(lb.url, token);
      await alice.until(() => alice.connects.length === 1, 'first connect');
      assert.equal((await alice.call('join_room', { room, user: 'alice' })).ok, true);
      await carol.call('send_message', { room, message: 'seen', message_id: 's-1' });
      await alice.until(() => alice.messages().length === 1, 'the first message');
      lb.target = '127.0.0.1:1'; // nothing listens: reconnection fails until the window is over
      lb.cut();
      await carol.call('send_message', { room, message: 'while away', message_id: 's-2' });
      await sleep(900);
      lb.target = short.addr;
      await alice.until(() => alice.connects.length === 2, 'reconnect');
      assert.equal(alice.connects[1].recovered, false, 'the window expired');
      const mark = alice.events.length;
      await sleep(QUIET);
      assert.deepEqual(alice.events.slice(mark).filter((e) => e.event === 'room_message'), [], 'nothing replayed to a fresh session');
      // As without recovery: it rejoins and gets the room's history (no offset on history frames).
      assert.equal((await alice.call('join_room', { room, user: 'alice' })).ok, true);
      await alice.until(() => alice.events.slice(mark).some((e) => e.event === 'room_message' && e.data.message === 'while away'), 'history');
      const history = alice.events.slice(mark).filter((e) => e.event === 'room_message' && e.data.user !== 'System');
      assert.deepEqual(history.map((e) => e.data.message), ['seen', 'while away'], 'history once');
      assert.ok(history.every((e) => e.offset === undefined), 'history frames carry no offset');
      alice.socket.close();
    } finally {
      carol.socket.close(); lb.stop(); await short.cleanup();
    }
  });
});

describe('connection state recovery across nodes (PostgreSQL + Redis)', () => {
  const tail = crypto.randomBytes(6).toString('hex');
  const schema = `confab_sio_recovery_${tail}`;
  const nodes = [];
  let balancer; let bob;
  before(async () => {
    for (const id of ['n1', 'n2']) {
      nodes.push(await new ConfabServer({
        leaveGraceMs: GRACE_MS,
        extraArgs: ['--database-url', DATABASE_URL, '--database-schema', schema, '--redis-url', REDIS_URL,
          '--redis-prefix', `confab-test-sio-${tail}:`, '--node-id', id, '--socketio-recovery-ms', '4000', '--requests-per-second', '0'],
      }).start());
    }
    balancer = await new Balancer(nodes[0].addr).start();
    bob = await writer(nodes[1], 'bob');
  });
  after(async () => {
    if (bob) bob.socket.close();
    if (balancer) balancer.stop();
    for (const n of nodes) await n.cleanup();
    try { execFileSync('psql', [DATABASE_URL, '-qc', `DROP SCHEMA IF EXISTS ${schema} CASCADE`], { stdio: 'ignore' }); } catch { /* best effort */ }
  });

  it('a client cut off from node 1 recovers on node 2 with exactly the events it missed, once, in order', async () => {
    const room = uniqueRoom('hop');
    await bob.call('check_room', room);
    assert.equal((await bob.call('join_room', { room, user: 'bob' })).ok, true);
    const { alice, bobSince } = await cutAndCome_back(balancer, nodes[0], bob, room, { before: 3, missed: 8, retarget: nodes[1].addr });
    assert.equal(alice.connects[1].recovered, true, 'socket.recovered on the other node');
    assertExactlyOnce(alice, bobSince, 3, 8);
    // Alice, now on node 2, still sends as herself in the restored room.
    const ack = await alice.call('send_message', { room, message: 'from node 2', message_id: 'a-1' });
    assert.equal(ack.ok, true, JSON.stringify(ack));
    alice.socket.close();
    await bob.socket.timeout(TIMEOUT).emitWithAck('leave_room', { room, user: 'bob' });
  });

  it('a second reconnect with the same pid is not recovered twice', async () => {
    const room = uniqueRoom('once');
    await bob.call('check_room', room);
    assert.equal((await bob.call('join_room', { room, user: 'bob' })).ok, true);
    balancer.target = nodes[0].addr;
    const { alice } = await cutAndCome_back(balancer, nodes[0], bob, room, { before: 1, missed: 1, retarget: nodes[1].addr });
    assert.equal(alice.connects[1].recovered, true);
    // The same pid and offset again, from another connection: the record was taken by the recovery,
    // so this is a fresh session (socket.io-client sends {pid, offset} for a socket that knows a pid).
    const pid = alice.socket._pid;
    const stale = io(nodes[0].url, { transports: ['websocket'], forceNew: true, reconnection: false });
    stale._pid = pid;
    stale._lastOffset = alice.socket._lastOffset;
    await new Promise((resolve, reject) => { stale.once('connect', resolve); stale.once('connect_error', reject); });
    assert.equal(stale.recovered, false, 'a pid already recovered is not recovered twice');
    assert.notEqual(stale._pid, pid);
    stale.close();
    alice.socket.close();
  });
});

// A server without --socketio-recovery-ms sends no pid and no offsets (python-socketio handlers with
// a fixed signature keep working): checked here so that turning it on stays a choice.
describe('recovery off (the default)', () => {
  let server;
  before(async () => { server = await new ConfabServer().start(); });
  after(() => server.cleanup());
  it('no pid in CONNECT, no offset on events', async () => {
    const c = recoveringClient(server.url, (await server.guest('dora')).token);
    await c.until(() => c.connects.length === 1, 'connect');
    assert.equal(c.socket._pid, undefined);
    const room = uniqueRoom('off');
    await c.call('check_room', room);
    assert.equal((await c.call('join_room', { room, user: 'dora' })).ok, true);
    await c.until(() => c.events.some((e) => e.event === 'room_message' && system('dora has joined the room.')(e.data)), 'join notice');
    assert.ok(c.events.every((e) => e.offset === undefined), JSON.stringify(c.events));
    c.socket.close();
  });
});

// Engine.IO details the JavaScript client relies on: heartbeats on every transport, acks in flight
// during the upgrade, non-ASCII text on polling, binary packets answered, and reconnecting a socket.
// This file's server uses short heartbeats so that several ping cycles fit in a test.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { harness, TRANSPORTS, SioClient, uniqueRoom, system, byId, sleep } = require('../lib/confab');

const PING_INTERVAL_MS = 400;
const h = harness({ extraArgs: ['--socketio-ping-interval-ms', String(PING_INTERVAL_MS), '--socketio-ping-timeout-ms', '1200'] });
before(() => h.start());
after(() => h.stop());
afterEach(() => h.closeAll());

async function pair(kind) {
  const a = await h.client('alice', { transports: TRANSPORTS[kind] });
  const b = await h.client('bob', { transports: ['websocket'] });
  const room = uniqueRoom(kind);
  await a.ok('check_room', room);
  await a.join(room);
  await b.join(room);
  return { a, b, room };
}

for (const kind of Object.keys(TRANSPORTS)) {
  describe(`engine.io over ${kind}`, () => {
    it('an idle client survives six heartbeat cycles', async () => {
      const { a, b, room } = await pair(kind);
      let dropped = null;
      a.socket.on('disconnect', (reason) => { dropped = reason; });
      await sleep(6 * PING_INTERVAL_MS);
      assert.equal(dropped, null, `disconnected: ${dropped}`);
      await b.expectNone('room_message', system('alice has left the room.'), 0);
      await b.send(room, 'ping?', `idle-${kind}`);
      await a.next('room_message', byId(`idle-${kind}`));
    });

    it('non-ASCII text, including characters outside the BMP, arrives intact', async () => {
      const { a, b, room } = await pair(kind);
      const text = 'héllo — 你好 — 🙂🚀 — \u{1F9EA}'.repeat(20);
      await a.send(room, text, `utf-${kind}`);
      assert.equal((await b.next('room_message', byId(`utf-${kind}`))).message, text);
      await b.send(room, text + '!', `utf-${kind}-back`);
      assert.equal((await a.next('room_message', byId(`utf-${kind}-back`))).message, text + '!');
    });

    it('a binary payload is answered with an error event and the connection survives', async () => {
      const { a, b, room } = await pair(kind);
      a.emit('send_message', { room, user: 'alice', message: Buffer.from('binary'), message_id: `bin-${kind}` });
      const err = await a.next('error');
      assert.ok(['bad_request', 'bad_frame'].includes(err.code), JSON.stringify(err));
      assert.ok(a.socket.connected);
      await a.send(room, 'text again', `bin-ok-${kind}`);
      await b.next('room_message', byId(`bin-ok-${kind}`));
      await b.expectNone('room_message', byId(`bin-${kind}`), 0);
    });

    it('a binary payload sent with an ack callback is acknowledged with an error', async () => {
      const { a, room } = await pair(kind);
      const ack = await a.call('send_message', { room, user: 'alice', message: Buffer.from('binary'), message_id: `bin-ack-${kind}` });
      assert.equal(ack.ok, false, JSON.stringify(ack));
      assert.ok(['bad_request', 'bad_frame'].includes(ack.error.code), JSON.stringify(ack));
    });
  });
}

describe('upgrade and reconnect', () => {
  it('acks requested while the client upgrades all arrive, in order', async () => {
    const b = await h.client('bob', { transports: ['websocket'] });
    const room = uniqueRoom('upg');
    await b.ok('check_room', room);
    await b.join(room);
    const { token } = await h.server.guest('alice');
    const a = new SioClient(h.server, { name: 'alice', token });
    h.open.push(a);
    await a.connected();
    const acks = await Promise.all([
      a.call('join_room', { room, user: 'alice' }),
      ...Array.from({ length: 20 }, (_, i) => a.call('send_message', { room, user: 'alice', message: `a${i}`, message_id: `up-${i}` })),
    ]);
    assert.ok(acks.every((x) => x.ok === true), JSON.stringify(acks));
    const seqs = acks.slice(1).map((x) => x.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
    for (let i = 0; i < 20; i++) await b.next('room_message', byId(`up-${i}`));
    await a.waitTransport('websocket');
  });

  it('socket.disconnect() then socket.connect() gives a working connection with the same identity', async () => {
    const a = await h.client('alice');
    const b = await h.client('bob');
    const room = uniqueRoom('re');
    await a.ok('check_room', room);
    await b.join(room);
    await a.join(room);
    await a.send(room, 'before', 're-1');
    a.socket.disconnect();
    await sleep(50);
    a.socket.connect();
    await a.connected();
    await a.ok('join_room', { room, user: 'mallory' });
    // Same session: it may still edit the message it sent before reconnecting, under its own name.
    await a.ok('edit_message', { room, message_id: 're-1', new_message: 'after' });
    assert.equal((await b.next('message_edited', byId('re-1'))).new_message, 'after');
    await a.send(room, 'again', 're-2');
    assert.equal((await b.next('room_message', byId('re-2'))).user, 'alice');
  });
});

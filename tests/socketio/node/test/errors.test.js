// Malformed events are answered (ack or `error` event) with a code, and the connection stays usable.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { harness, TRANSPORTS, uniqueRoom, byId } = require('../lib/confab');

const h = harness();
before(() => h.start());
after(() => h.stop());
afterEach(() => h.closeAll());

const ROOM = Symbol('room');
const CASES = [
  ['join_room', ['a string'], 'bad_request'],
  ['join_room', [{}], 'bad_request'],
  ['join_room', [{ room: 42, user: 'x' }], 'bad_request'],
  ['leave_room', [5], 'bad_request'],
  ['send_message', [{ room: ROOM, user: 'x' }], 'bad_request'],
  ['send_message', [{ room: ROOM, user: 'x', message: 7 }], 'bad_request'],
  ['send_message', [], 'bad_request'],
  ['edit_message', [{ room: ROOM, message_id: 'm' }], 'bad_request'],
  ['delete_message', ['m'], 'bad_request'],
  ['check_room', [{ name: 'x' }], 'bad_request'],
  ['create_room', [], 'bad_request'],
  ['frobnicate', [{ room: ROOM }], 'unknown_event'],
];
const fill = (args, room) => args.map((a) => (a && typeof a === 'object' && !Array.isArray(a)
  ? Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v === ROOM ? room : v])) : a));

for (const kind of ['polling', 'websocket']) {
  describe(`malformed events over ${kind}`, () => {
    async function setup() {
      const a = await h.client('alice', { transports: TRANSPORTS[kind] });
      const b = await h.client('bob');
      const room = uniqueRoom('bad');
      await a.ok('check_room', room);
      await a.join(room);
      await b.join(room);
      return { a, b, room };
    }

    for (const [event, args, code] of CASES) {
      it(`${event} ${JSON.stringify(args)} → ${code}, with and without an ack`, async () => {
        const { a, b, room } = await setup();
        const ack = await a.call(event, ...fill(args, room));
        assert.equal(ack.ok, false, JSON.stringify(ack));
        assert.equal(ack.error.code, code);
        assert.ok(typeof ack.error.message === 'string' && ack.error.message);
        a.emit(event, ...fill(args, room));
        const err = await a.next('error');
        assert.equal(err.code, code);
        assert.ok(typeof err.message === 'string' && err.message);
        assert.ok(a.socket.connected, 'connection dropped');
        await a.send(room, 'still works', `ok-${kind}-${event}`);
        await b.next('room_message', byId(`ok-${kind}-${event}`));
      });
    }

    it('a burst of garbage is answered in full and leaves the connection usable', async () => {
      const { a, b, room } = await setup();
      for (const [event, args] of CASES) a.emit(event, ...fill(args, room));
      const codes = [];
      for (let i = 0; i < CASES.length; i++) codes.push((await a.next('error')).code);
      assert.deepEqual(codes.sort(), CASES.map((c) => c[2]).sort());
      await a.send(room, 'after the burst', `burst-${kind}`);
      await b.next('room_message', byId(`burst-${kind}`));
    });
  });
}

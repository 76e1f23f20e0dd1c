// The seed's whole Socket.IO vocabulary, with acks, over each transport:
// long-polling only, WebSocket only, and the client's default (polling, then upgrade).
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { harness, TRANSPORTS, LEAVE_GRACE_MS, uniqueRoom, system, byId, sleep, sendMany } = require('../lib/confab');

const h = harness();
before(() => h.start());
after(() => h.stop());
afterEach(() => h.closeAll());

for (const [kind, transports] of Object.entries(TRANSPORTS)) {
  describe(`over ${kind}`, () => {
    const client = (name, opts = {}) => h.client(name, { transports, ...opts });

    async function roomWith(...members) {
      const room = uniqueRoom(kind);
      await members[0].ok('check_room', room);
      for (const m of members) await m.join(room);
      return room;
    }

    it('uses the requested transport', async () => {
      const c = await client('alice');
      if (kind === 'upgrade') {
        await c.waitTransport('websocket');
      } else {
        await sleep(300);
        assert.equal(c.transport(), kind);
      }
    });

    it('check_room creates a missing room, then answers room_exists', async () => {
      const c = await client('alice');
      const room = uniqueRoom(kind);
      assert.equal((await c.call('check_room', room)).ok, true);
      await c.next('room_created');
      assert.equal((await c.call('check_room', room)).ok, true);
      await c.next('room_exists');
      await c.expectNone('room_created');
    });

    it('create_room broadcasts update_rooms with every room name to every client', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const first = uniqueRoom(kind);
      await a.ok('check_room', first);
      const room = uniqueRoom(kind);
      await a.ok('create_room', room);
      for (const c of [a, b]) {
        const names = await c.next('update_rooms', (l) => Array.isArray(l) && l.includes(room));
        assert.ok(names.includes(first), `update_rooms lacks ${first}: ${names}`);
        assert.ok(names.every((n) => typeof n === 'string'));
      }
    });

    it('refuses invalid room names and unknown rooms', async () => {
      const c = await client('alice');
      for (const bad of ['', 'x'.repeat(65), 'a/b', '<b>']) {
        await c.fails('check_room', bad, 'invalid_room_name');
        await c.fails('create_room', bad, 'invalid_room_name');
      }
      await c.fails('join_room', { room: uniqueRoom('missing'), user: 'alice' }, 'room_not_found');
      c.emit('join_room', { room: uniqueRoom('missing'), user: 'alice' });
      assert.equal((await c.next('error')).code, 'room_not_found');
    });

    it('join_room announces the joiner and updates the user list; leave_room reverses it', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = await roomWith(a, b);
      await a.next('room_message', system('bob has joined the room.'));
      for (const c of [a, b]) {
        const users = await c.next('update_users', (u) => u.includes('bob'));
        assert.deepEqual([...users].sort(), ['alice', 'bob']);
      }
      assert.equal((await b.call('leave_room', { room, user: 'bob' })).ok, true);
      await a.next('room_message', system('bob has left the room.'));
      assert.deepEqual(await a.next('update_users', (u) => !u.includes('bob')), ['alice']);
      await a.send(room, 'bob is gone', 'gone-1');
      await b.expectNone('room_message', byId('gone-1'));
      await b.fails('send_message', { room, user: 'bob', message: 'hi' }, 'not_joined');
    });

    it('send_message is broadcast to the room, sender included, and acked with id and seq after storing', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const outsider = await client('olga');
      const room = await roomWith(a, b);
      const ack = await a.send(room, 'hello', `${kind}-m1`);
      assert.equal(ack.ok, true);
      assert.equal(ack.message_id, `${kind}-m1`);
      assert.ok(Number.isInteger(ack.seq) && ack.seq > 0, JSON.stringify(ack));
      for (const c of [a, b]) {
        const m = await c.next('room_message', byId(`${kind}-m1`));
        assert.equal(m.user, 'alice');
        assert.equal(m.message, 'hello');
      }
      await outsider.expectNone('room_message');
      const second = await a.send(room, 'again');
      assert.ok(second.seq > ack.seq);
      assert.equal(typeof second.message_id, 'string');
      assert.equal((await b.next('room_message', (m) => m.message === 'again')).message_id, second.message_id);
      // Stored before the ack: a newcomer sees both in history.
      const v = await client('viewer');
      const hist = await v.historyOnJoin(room);
      assert.deepEqual(hist.map((m) => m.message_id), [`${kind}-m1`, second.message_id]);
    });

    it('resending a message_id is idempotent', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = await roomWith(a, b);
      const one = await a.send(room, 'once', `${kind}-dup`);
      const two = await a.send(room, 'once', `${kind}-dup`);
      assert.deepEqual([two.message_id, two.seq], [one.message_id, one.seq]);
      await b.next('room_message', byId(`${kind}-dup`));
      await b.expectNone('room_message', byId(`${kind}-dup`));
    });

    it('refuses empty and oversized messages, with an ack or an error event', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = await roomWith(a, b);
      await a.fails('send_message', { room, user: 'alice', message: '' }, 'text_empty');
      await a.fails('send_message', { room, user: 'alice', message: 'x'.repeat(4001) }, 'text_too_long');
      await a.fails('send_message', { room, user: 'alice', message: 'é'.repeat(2001) }, 'text_too_long');
      a.emit('send_message', { room, user: 'alice', message: '' });
      const err = await a.next('error');
      assert.equal(err.code, 'text_empty');
      assert.ok(err.message);
      await b.expectNone('room_message', (m) => m.user === 'alice');
      await a.send(room, 'é'.repeat(2000), `${kind}-max`);
      assert.equal((await b.next('room_message', byId(`${kind}-max`))).message, 'é'.repeat(2000));
    });

    it('the author edits and deletes; the room sees it; history follows', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = await roomWith(a, b);
      await a.send(room, 'keep me', `${kind}-k`);
      await a.send(room, 'typo', `${kind}-e`);
      await a.send(room, 'oops', `${kind}-d`);
      assert.equal((await a.call('edit_message', { room, message_id: `${kind}-e`, new_message: 'fixed' })).ok, true);
      for (const c of [a, b]) assert.equal((await c.next('message_edited', byId(`${kind}-e`))).new_message, 'fixed');
      assert.equal((await a.call('delete_message', { room, message_id: `${kind}-d` })).ok, true);
      for (const c of [a, b]) await c.next('message_deleted', byId(`${kind}-d`));
      const v = await client('viewer');
      const hist = await v.historyOnJoin(room);
      assert.deepEqual(hist.map((m) => [m.user, m.message, m.message_id]),
        [['alice', 'keep me', `${kind}-k`], ['alice', 'fixed', `${kind}-e`]]);
      await a.fails('edit_message', { room, message_id: `${kind}-d`, new_message: 'x' }, 'message_not_found');
      await a.fails('delete_message', { room, message_id: 'nope' }, 'message_not_found');
    });

    it("someone else's edit or delete is forbidden and changes nothing", async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = await roomWith(a, b);
      await a.send(room, 'original', `${kind}-f`);
      await b.fails('edit_message', { room, user: 'alice', message_id: `${kind}-f`, new_message: 'pwned' }, 'forbidden');
      await b.fails('delete_message', { room, user: 'alice', message_id: `${kind}-f` }, 'forbidden');
      b.emit('delete_message', { room, message_id: `${kind}-f` });
      assert.equal((await b.next('error')).code, 'forbidden');
      await a.expectNone('message_edited');
      await a.expectNone('message_deleted', undefined, 0);
      await b.ok('leave_room', { room, user: 'bob' });
      const hist = await b.historyOnJoin(room);
      assert.deepEqual(hist.map((m) => [m.message_id, m.message]), [[`${kind}-f`, 'original']]);
    });

    it("the room's creator may delete others' messages", async () => {
      const owner = await client('owner');
      const a = await client('alice');
      const room = uniqueRoom(kind);
      await owner.ok('create_room', room);
      await owner.join(room);
      await a.join(room);
      await a.send(room, 'spam', `${kind}-spam`);
      await owner.ok('delete_message', { room, message_id: `${kind}-spam` });
      await a.next('message_deleted', byId(`${kind}-spam`));
    });

    it('history on join: oldest first, only the last 100', async () => {
      const a = await client('alice');
      const room = await roomWith(a);
      await sendMany(a, room, Array.from({ length: 103 }, (_, i) => [`n${i}`, `${kind}-h${i}`]));
      const b = await client('bob');
      const hist = await b.historyOnJoin(room);
      assert.deepEqual(hist.map((m) => m.message), Array.from({ length: 100 }, (_, i) => `n${i + 3}`));
      assert.ok(hist.every((m) => m.user === 'alice'));
    });

    it('a connection that drops without leave_room is announced as leaving after the grace period', async () => {
      const a = await client('alice');
      const b = await client('bob');
      await roomWith(a, b);
      const t0 = Date.now();
      b.close();
      await a.next('room_message', system('bob has left the room.'));
      assert.ok(Date.now() - t0 >= LEAVE_GRACE_MS * 0.8, `announced after ${Date.now() - t0} ms`);
      assert.deepEqual(await a.next('update_users', (u) => !u.includes('bob')), ['alice']);
    });

    it('works without ack callbacks, as the seed pages emit', async () => {
      const a = await client('alice');
      const b = await client('bob');
      const room = uniqueRoom(kind);
      a.emit('check_room', room);
      await a.next('room_created');
      a.emit('join_room', { room, user: 'alice' });
      await a.next('room_message', system('alice has joined the room.'));
      b.emit('join_room', { room, user: 'bob' });
      await a.next('room_message', system('bob has joined the room.'));
      a.emit('send_message', { room, user: 'alice', message: 'no ack', message_id: `${kind}-na` });
      assert.equal((await b.next('room_message', byId(`${kind}-na`))).message, 'no ack');
      a.emit('edit_message', { room, message_id: `${kind}-na`, new_message: 'still no ack' });
      assert.equal((await b.next('message_edited', byId(`${kind}-na`))).new_message, 'still no ack');
      a.emit('delete_message', { room, message_id: `${kind}-na` });
      await b.next('message_deleted', byId(`${kind}-na`));
      b.emit('leave_room', { room, user: 'bob' });
      await a.next('room_message', system('bob has left the room.'));
      await a.expectNone('error');
    });
  });
}

describe('mixed transports', () => {
  it('a polling client and a WebSocket client in one room talk both ways', async () => {
    const p = await h.client('alice', { transports: ['polling'] });
    const w = await h.client('bob', { transports: ['websocket'] });
    const room = uniqueRoom('mixed');
    await p.ok('check_room', room);
    await p.join(room);
    await w.join(room);
    await p.send(room, 'from polling', 'mx-1');
    assert.equal((await w.next('room_message', byId('mx-1'))).user, 'alice');
    await w.send(room, 'from websocket', 'mx-2');
    assert.equal((await p.next('room_message', byId('mx-2'))).user, 'bob');
  });

  it('nothing is lost or reordered while a client upgrades from polling to WebSocket', async () => {
    const w = await h.client('bob', { transports: ['websocket'] });
    const room = uniqueRoom('upg');
    await w.ok('check_room', room);
    await w.join(room);
    const u = await h.client('alice');
    await u.ok('join_room', { room, user: 'alice' });
    for (let i = 0; i < 30; i++) w.emit('send_message', { room, user: 'bob', message: `u${i}`, message_id: `upg-${i}` });
    for (let i = 0; i < 30; i++) await u.next('room_message', byId(`upg-${i}`));
    const order = u.events.filter(([ev, p]) => ev === 'room_message' && String(p.message_id || '').startsWith('upg-'))
      .map(([, p]) => p.message_id);
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => `upg-${i}`));
    await u.waitTransport('websocket');
  });
});

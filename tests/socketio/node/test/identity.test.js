// Identity comes from the connection (handshake auth token, confab_session cookie, or the name an
// anonymous connection gives first), never from the `user` field of later events.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { harness, TRANSPORTS, SioClient, uniqueRoom, system, byId } = require('../lib/confab');

const h = harness();
before(() => h.start());
after(() => h.stop());
afterEach(() => h.closeAll());

async function newRoom(c) {
  const room = uniqueRoom('id');
  await c.ok('check_room', room);
  return room;
}

for (const kind of ['polling', 'websocket']) {
  for (const auth of ['token', 'cookie']) {
    describe(`${auth} identity over ${kind}`, () => {
      it('a spoofed user field is ignored: join, message and leave carry the session name', async () => {
        const alice = await h.client('alice');
        const bob = await h.client('bob', { auth, transports: TRANSPORTS[kind] });
        const room = await newRoom(alice);
        await alice.join(room);
        await bob.ok('join_room', { room, user: 'alice' });
        await alice.next('room_message', system('bob has joined the room.'));
        await alice.expectNone('room_message', system('alice has joined the room.'));
        assert.deepEqual([...(await alice.next('update_users', (u) => u.includes('bob')))].sort(), ['alice', 'bob']);
        await bob.ok('send_message', { room, user: 'alice', message: 'trust me', message_id: `spoof-${kind}-${auth}` });
        assert.equal((await alice.next('room_message', byId(`spoof-${kind}-${auth}`))).user, 'bob');
        await bob.ok('leave_room', { room, user: 'alice' });
        await alice.next('room_message', system('bob has left the room.'));
      });
    });
  }
}

describe('anonymous connections', () => {
  it('are named by their first join_room and keep that name', async () => {
    const alice = await h.client('alice');
    const carol = await h.client('carol', { auth: null });
    const room = await newRoom(alice);
    await alice.join(room);
    await carol.join(room, 'carol');
    await alice.next('room_message', system('carol has joined the room.'));
    await carol.ok('send_message', { room, user: 'mallory', message: 'hi', message_id: 'anon-n1' });
    assert.equal((await alice.next('room_message', byId('anon-n1'))).user, 'carol');
  });

  it('two guests who both say "sam" cannot edit or delete each other\'s messages', async () => {
    const sam1 = await h.client('sam', { auth: null });
    const sam2 = await h.client('sam', { auth: null });
    const room = await newRoom(sam1);
    await sam1.join(room, 'sam');
    await sam2.ok('join_room', { room, user: 'sam' });
    await sam1.send(room, 'mine', 'sam-1');
    await sam2.fails('edit_message', { room, message_id: 'sam-1', new_message: 'mine now' }, 'forbidden');
    await sam2.fails('delete_message', { room, message_id: 'sam-1' }, 'forbidden');
    await sam1.expectNone('message_edited');
  });
});

describe('one session, two connections', () => {
  it('is announced once, and either connection may edit the session\'s messages', async () => {
    const alice = await h.client('alice');
    const room = await newRoom(alice);
    await alice.join(room);
    const { token } = await h.server.guest('dana');
    const one = new SioClient(h.server, { name: 'dana', token });
    const two = new SioClient(h.server, { name: 'dana', token, transports: ['websocket'] });
    h.open.push(one, two);
    await one.connected();
    await two.connected();
    await one.join(room);
    await alice.next('room_message', system('dana has joined the room.'));
    await two.ok('join_room', { room, user: 'dana' });
    await alice.expectNone('room_message', system('dana has joined the room.'));
    await one.send(room, 'from one', 'dana-1');
    await two.ok('edit_message', { room, message_id: 'dana-1', new_message: 'edited by two' });
    assert.equal((await alice.next('message_edited', byId('dana-1'))).new_message, 'edited by two');
  });
});

// A socket.io-client connection and a native /ws client (docs/protocol.md) in one room see each
// other's messages, edits and deletions: both protocols share one store.
'use strict';

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { harness, TRANSPORTS, uniqueRoom, byId } = require('../lib/confab');

const h = harness();
before(() => h.start());
after(() => h.stop());
afterEach(() => h.closeAll());

for (const kind of ['polling', 'websocket', 'upgrade']) {
  describe(`Socket.IO (${kind}) with a native /ws client`, () => {
    async function setup() {
      const host = await h.client('host');
      const alice = await h.client('alice', { transports: TRANSPORTS[kind] });
      const nina = await h.native('nina');
      const room = uniqueRoom('cross');
      await host.ok('check_room', room); // neither alice nor nina owns the room
      await alice.join(room);
      await nina.ok('join', { room });
      return { alice, nina, room };
    }

    it('Socket.IO → native: message (same seq), edit, delete', async () => {
      const { alice, nina, room } = await setup();
      const ack = await alice.send(room, 'from socket.io', `sio-${kind}`);
      const ev = await nina.event('message', (f) => f.message.content.text === 'from socket.io');
      assert.equal(ev.room, room);
      assert.equal(ev.actor.name, 'alice');
      assert.equal(ev.seq, ack.seq);
      const id = ev.message.id;
      await alice.ok('edit_message', { room, message_id: `sio-${kind}`, new_message: 'edited in socket.io' });
      const edit = await nina.event('edit', (f) => f.message_id === id);
      assert.equal(edit.content.text, 'edited in socket.io');
      await alice.ok('delete_message', { room, message_id: `sio-${kind}` });
      await nina.event('delete', (f) => f.message_id === id);
    });

    it('native → Socket.IO: message, edit, delete', async () => {
      const { alice, nina, room } = await setup();
      const sent = await nina.ok('send', { room, text: 'from /ws' });
      const sioId = String(sent.message_id);
      const m = await alice.next('room_message', byId(sioId));
      assert.deepEqual([m.user, m.message], ['nina', 'from /ws']);
      await nina.ok('edit', { room, message_id: sent.message_id, text: 'edited on /ws' });
      assert.equal((await alice.next('message_edited', byId(sioId))).new_message, 'edited on /ws');
      await nina.ok('delete', { room, message_id: sent.message_id });
      await alice.next('message_deleted', byId(sioId));
    });

    it('ownership holds across protocols', async () => {
      const { alice, nina, room } = await setup();
      const sent = await nina.ok('send', { room, text: "nina's" });
      await alice.next('room_message', byId(String(sent.message_id)));
      await alice.fails('edit_message', { room, message_id: String(sent.message_id), new_message: 'x' }, 'forbidden');
      await alice.fails('delete_message', { room, message_id: String(sent.message_id) }, 'forbidden');
      await alice.send(room, "alice's", `own-${kind}`);
      const ev = await nina.event('message', (f) => f.message.content.text === "alice's");
      const e1 = await nina.request('edit', { room, message_id: ev.message.id, text: 'y' });
      assert.deepEqual([e1.type, e1.code], ['error', 'forbidden']);
      const e2 = await nina.request('delete', { room, message_id: ev.message.id });
      assert.deepEqual([e2.type, e2.code], ['error', 'forbidden']);
    });

    it('a Socket.IO joiner gets history written by both protocols', async () => {
      const { alice, nina, room } = await setup();
      await alice.send(room, 'one', `hx1-${kind}`);
      await nina.ok('send', { room, text: 'two' });
      const three = await nina.ok('send', { room, text: 'three' });
      await nina.ok('edit', { room, message_id: three.message_id, text: 'three, edited' });
      await nina.ok('delete', { room, message_id: three.message_id });
      const v = await h.client('viewer', { transports: TRANSPORTS[kind] });
      const hist = await v.historyOnJoin(room);
      assert.deepEqual(hist.map((m) => [m.user, m.message]), [['alice', 'one'], ['nina', 'two']]);
    });
  });
}

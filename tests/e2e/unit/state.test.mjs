// Room ordering and counters (ui/state.js) and the timeline window (ui/window.js) under node: every event
// applied once in seq order, gaps held, unread and mention counts, and a bounded window over long history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ui } from './ui.mjs';

const { RoomSeq, RoomState, Store } = await import(ui('state.js'));
const { TimelineWindow, groupRows } = await import(ui('window.js'));

const me = { id: 'g_me', name: 'Sam' };
const other = { id: 'g_o', name: 'Ola' };
const T0 = new Date(2026, 11, 1, 12, 0).getTime();
const msg = (seq, text = `m${seq}`, actor = other, at = T0 + seq * 1000) =>
  ({ type: 'event', room: 'r', seq, at, actor, kind: 'message', message: { id: seq * 10, client_id: null, content: { text }, edited_at: null, deleted: false } });

test('RoomSeq applies in order, drops what it has seen, and holds events past a gap', () => {
  const s = new RoomSeq(3);
  assert.deepEqual(s.accept(msg(2)), [], 'old seq ignored');
  assert.deepEqual(s.accept(msg(3)), [], 'seen seq ignored');
  assert.deepEqual(s.accept(msg(4)).map((e) => e.seq), [4]);
  assert.deepEqual(s.accept(msg(6)), [], 'past a gap: held');
  assert.deepEqual(s.accept(msg(7)), []);
  assert.ok(s.hasGap);
  assert.deepEqual(s.accept(msg(6)), [], 'a duplicate of a held event changes nothing');
  assert.deepEqual(s.accept(msg(5)).map((e) => e.seq), [5, 6, 7], 'the gap filled releases the held events in order');
  assert.ok(!s.hasGap);
  assert.equal(s.last, 7);
  assert.deepEqual(s.accept({ seq: 'x' }), []);
  assert.deepEqual(s.accept(null), []);
});

test('a replay that overlaps live events shows each event once', () => {
  const s = new RoomSeq(0);
  const live = [1, 2, 3].map((n) => msg(n));
  const replay = [2, 3, 4, 5].map((n) => msg(n));
  const applied = [...live, ...replay].flatMap((e) => s.accept(e)).map((e) => e.seq);
  assert.deepEqual(applied, [1, 2, 3, 4, 5]);
});

test('unread counts others\' messages after the read marker; mentions count @name', () => {
  const room = new RoomState('r', { lastRead: 2 });
  room.note(msg(2), me, false);
  room.note(msg(3), me, false);
  room.note(msg(4, 'hey @sam, look'), me, false);
  room.note(msg(5, 'mine', me), me, false);
  room.note(msg(6, 'email sam@example.com is not a mention'), me, false);
  room.note({ ...msg(7), kind: 'join' }, me, false);
  assert.equal(room.unread, 3);
  assert.equal(room.mentions, 1);
  room.note(msg(8), me, true);
  assert.equal(room.unread, 0, 'seeing the room reads it');
  assert.equal(room.lastRead, 8);
});

test('members follow joins and leaves after the list\'s own seq only', () => {
  const room = new RoomState('r');
  room.setMembers([me], 10);
  room.note({ seq: 9, kind: 'leave', actor: me }, me, true);
  assert.ok(room.members.has(me.id), 'an event the list already reflects changes nothing');
  room.note({ seq: 11, kind: 'join', actor: other }, me, true);
  room.note({ seq: 12, kind: 'leave', actor: me }, me, true);
  assert.deepEqual([...room.members.keys()], [other.id]);
});

test('the store notifies once per batch of changes and renames keep order and the open room', async () => {
  const store = new Store();
  let calls = 0;
  store.on(() => { calls += 1; });
  store.addRoom('a');
  store.addRoom('General');
  store.addRoom('c');
  store.active = 'General';
  store.renameRoom('General', 'general');
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls, 1);
  assert.deepEqual([...store.rooms.keys()], ['a', 'general', 'c']);
  assert.equal(store.active, 'general');
  assert.equal(store.findRoom('GENERAL').name, 'general');
});

test('the window holds at most `max` items over a long history, paging both ways without overlap', () => {
  const total = 1000;
  const page = (before) => {
    const from = Math.max(1, before - 50);
    return { events: Array.from({ length: before - from }, (_, i) => msg(from + i)), more: from > 1 };
  };
  const after = (high) => {
    const to = Math.min(total, high + 50);
    return { events: Array.from({ length: to - high }, (_, i) => msg(high + 1 + i)), more: to < total };
  };
  const w = new TimelineWindow({ max: 150 });
  const first = page(total + 1);
  w.setLatest(first.events, total + 1, first.more);
  assert.ok(w.atLatest(total));
  while (w.hasOlder) {
    const p = page(w.low);
    w.prepend(p.events, p.more);
    assert.ok(w.items.length <= 150);
    const seqs = w.items.map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'contiguous');
  }
  assert.equal(w.items[0].seq, 1);
  assert.ok(w.hasNewer && !w.atLatest(total));
  while (w.hasNewer) {
    const p = after(w.high);
    w.append(p.events, p.more);
    assert.ok(w.items.length <= 150);
  }
  assert.equal(w.items.at(-1).seq, total);
  assert.ok(w.atLatest(total));
});

test('live events: appended when they follow the window, edits and deletes change messages in place', () => {
  const w = new TimelineWindow({ max: 3 });
  w.setLatest([msg(1), msg(2)], 3, false);
  assert.ok(w.applyLive(msg(3)));
  assert.ok(w.applyLive({ seq: 4, kind: 'edit', message_id: 10, content: { text: 'edited' }, edited_at: 5, actor: other }));
  assert.equal(w.items[0].message.content.text, 'edited');
  assert.ok(w.applyLive({ seq: 5, kind: 'delete', message_id: 20, actor: other }));
  assert.ok(w.items[1].message.deleted);
  assert.equal(w.high, 5);
  w.applyLive(msg(6), { trim: true });
  assert.deepEqual(w.items.map((e) => e.seq), [2, 3, 6], 'trimmed at the top when following the bottom');
  assert.ok(w.hasOlder);
  assert.equal(w.applyLive(msg(8)), false, 'past a gap: not shown');
  assert.ok(w.hasNewer, 'and the window knows it is behind');
  assert.equal(w.lastMessageBy(other.id).seq, 6);
});

test('grouping: by author within five minutes, a divider per day', () => {
  const day2 = T0 + 24 * 3600_000;
  const items = [
    msg(1, 'a', other, T0),
    msg(2, 'b', other, T0 + 60_000),
    msg(3, 'c', other, T0 + 7 * 60_000),
    msg(4, 'd', me, T0 + 8 * 60_000),
    { seq: 5, kind: 'join', actor: other, at: T0 + 9 * 60_000 },
    msg(6, 'e', other, T0 + 9 * 60_000 + 1),
    msg(7, 'f', other, day2),
  ];
  const rows = groupRows(items);
  assert.deepEqual(rows.map((r) => (r.kind === 'day' ? 'day' : `${r.ev.seq}${r.continued ? '+' : ''}`)),
    ['day', '1', '2+', '3', '4', '5', '6', 'day', '7']);
});

// The client's pure parts of accounts, rooms and DMs under node: the words of moderation lines, what kick,
// ban and role events do to a room's state, a direct conversation's label, the protocol's `direct_opened`
// notice and close reasons that end a session, and the test helpers' TOTP against RFC 6238's own vectors
// (the browser 2FA test relies on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ui } from './ui.mjs';
import { totp } from '../helpers.mjs';

const { systemText, isAccount } = await import(ui('message.js'));
const { RoomState } = await import(ui('state.js'));
const { TimelineWindow } = await import(ui('window.js'));
const { Connection } = await import(ui('protocol.js'));
const { describeAgent } = await import(ui('account.js'));

const olga = { id: 'u_olga', name: 'Olga' };
const trent = { id: 'u_trent', name: 'Trent' };
const me = { id: 'u_me', name: 'Sam', kind: 'user' };
const ev = (seq, kind, fields = {}) => ({ type: 'event', room: 'r', seq, at: seq * 1000, actor: olga, kind, ...fields });

test('moderation events read as who did what to whom', () => {
  assert.equal(systemText(ev(1, 'role', { target: trent, role: 'moderator' })), 'Olga made Trent a moderator');
  assert.equal(systemText(ev(1, 'role', { target: trent, role: 'owner' })), 'Olga made Trent the owner');
  assert.equal(systemText(ev(1, 'role', { target: trent, role: 'member' })), 'Olga made Trent a member (no longer a moderator)');
  assert.equal(systemText(ev(1, 'kick', { target: trent })), 'Olga removed Trent from the room');
  assert.equal(systemText(ev(1, 'ban', { target: trent })), 'Olga banned Trent');
  assert.equal(systemText(ev(1, 'unban', { target: trent })), 'Olga lifted the ban on Trent');
  assert.equal(systemText(ev(1, 'added', { target: trent })), 'Olga added Trent');
  assert.equal(systemText(ev(1, 'added', { target: olga })), 'Olga accepted an invitation');
  assert.equal(systemText(ev(1, 'role', { target: olga, role: 'moderator' })), 'Olga is now a moderator', 'the old owner after a hand-over');
  assert.equal(systemText(ev(1, 'join')), 'Olga joined');
  assert.equal(systemText({ seq: 1, kind: 'leave' }), 'someone left');
});

test('the timeline window shows moderation lines in seq order between messages', () => {
  const win = new TimelineWindow({ max: 150 });
  const msg = (seq) => ev(seq, 'message', { message: { id: seq, content: { text: `m${seq}` }, edited_at: null, deleted: false } });
  win.setLatest([msg(1), ev(2, 'role', { target: trent, role: 'moderator' }), ev(3, 'kick', { target: trent }), msg(4)], 5, false);
  const kinds = win.rows().filter((r) => r.kind === 'item').map((r) => r.ev.kind);
  assert.deepEqual(kinds, ['message', 'role', 'kick', 'message']);
});

test('a kick or ban takes the target out of the member list; a role event about me changes my role only', () => {
  const room = new RoomState('r');
  room.setMembers([olga, trent, me], 10);
  room.role = 'member';
  room.note(ev(11, 'role', { target: trent, role: 'moderator' }), me, false);
  assert.equal(room.role, 'member', 'someone else was promoted');
  room.note(ev(12, 'role', { target: me, role: 'moderator' }), me, false);
  assert.equal(room.role, 'moderator');
  room.note(ev(13, 'kick', { target: trent }), me, false);
  assert.deepEqual([...room.members.keys()].sort(), ['u_me', 'u_olga']);
  room.note(ev(9, 'ban', { target: olga }), me, false);
  assert.ok(room.members.has('u_olga'), 'an event older than the member list changes nothing');
  assert.equal(room.unread, 0, 'moderation lines are not unread messages');
});

test('a direct conversation is named after the other people in it', () => {
  const dm = new RoomState('dm_4f2a');
  assert.equal(dm.label(me), 'dm_4f2a', 'unknown kind: its name');
  dm.kind = 'direct';
  assert.equal(dm.label(me), 'Direct message');
  dm.people = [me, olga];
  assert.equal(dm.label(me), 'Olga');
  dm.people = [me, olga, trent];
  assert.equal(dm.label(me), 'Olga, Trent');
  dm.people = [me];
  assert.equal(dm.label(me), 'Just you');
  assert.equal(isAccount(olga), true);
  assert.equal(isAccount({ id: 'g_1', name: 'guest' }), false);
  assert.equal(isAccount({ id: 'w_1', name: 'ci' }), false);
  assert.equal(isAccount({ id: 'x', name: 'n', kind: 'user' }), true);
});

class FakeSocket {
  static all = [];
  constructor() { this.readyState = 1; this.sent = []; FakeSocket.all.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  receive(frame) { this.onmessage?.({ data: JSON.stringify(frame) }); }
  drop(code, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
}

test('direct_opened reaches onDirect, added_to_room onAdded; a close the page says is final stops reconnecting', async () => {
  FakeSocket.all = [];
  const seen = { direct: [], added: [], closed: [], states: [] };
  const conn = new Connection({
    url: 'ws://x/ws', WebSocketImpl: FakeSocket, random: () => 0,
    handlers: {
      onState: (s) => seen.states.push(s),
      onDirect: (room) => seen.direct.push(room),
      onAdded: (room) => seen.added.push(room),
      onClosed: (code, reason) => { seen.closed.push([code, reason]); return reason === 'session_revoked'; },
    },
  });
  conn.start();
  const ws = FakeSocket.all[0];
  ws.receive({ type: 'welcome', protocol: 1, user: me, limits: {} });
  ws.receive({ type: 'direct_opened', room: 'dm_1', members: [me, olga] });
  ws.receive({ type: 'direct_opened', members: [] }); // no room: ignored
  assert.deepEqual(seen.direct, [{ name: 'dm_1', kind: 'direct', members: [me, olga] }]);
  ws.receive({ type: 'added_to_room', room: 'den', by: olga });
  ws.receive({ type: 'added_to_room', room: { name: 'den' } }); // not a name: ignored
  ws.receive({ type: 'added_to_room', room: 'den', by: 'olga' }); // no actor: the room still counts
  assert.deepEqual(seen.added, [{ name: 'den', by: olga }, { name: 'den', by: null }]);

  ws.drop(4001, 'resync');
  assert.deepEqual(seen.closed, [[4001, 'resync']]);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(FakeSocket.all.length, 2, 'an ordinary close reconnects');
  FakeSocket.all[1].receive({ type: 'welcome', protocol: 1, user: me, limits: {} });
  FakeSocket.all[1].drop(4003, 'session_revoked');
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(FakeSocket.all.length, 2, 'session_revoked: no new connection');
  assert.equal(seen.states.at(-1), 'offline');
  conn.close();
});

test('the test helpers compute TOTP codes as RFC 6238 appendix B says (SHA-1, 8 digits)', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'; // "12345678901234567890"
  const vectors = [[59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'], [1234567890, '89005924'],
    [2000000000, '69279037'], [20000000000, '65353130']];
  for (const [t, code] of vectors) assert.equal(totp(secret, { time: t * 1000, digits: 8 }), code, `T=${t}`);
  assert.equal(totp(secret, { time: 59000 }), '287082', 'six digits: the last six of the same number');
});

test('sessions are listed by browser and system, not by the raw User-Agent', () => {
  assert.equal(describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36'), 'Chrome on Linux');
  assert.equal(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'), 'Firefox on Windows');
  assert.equal(describeAgent('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'), 'Safari on iOS');
  assert.equal(describeAgent('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0'), 'Edge on Windows');
  assert.equal(describeAgent('curl/8.5.0'), 'curl/8.5.0');
  assert.equal(describeAgent(''), 'An unknown browser');
});

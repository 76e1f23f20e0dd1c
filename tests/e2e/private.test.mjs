// Private rooms in the browser: created from the room browser, joined through a copied invite link, never
// shown to anyone else (a third person's page text and every byte their browser receives are checked), and
// moderated from the room settings: moderator appointed, kick, ban (the banned person's view drops the room
// at once and the link no longer lets them in), unban, and an incoming webhook shown once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newAccount, waitConnected, openRoom, sendMessage, messageWithText, systemLines, eventually,
  recordTraffic, memberNames, newPerson, openRoomSettings, memberRow, createPrivate,
} from './helpers.mjs';

const ctx = serverAndBrowser();
const ROOM = 'skunkworks-7f3q';

async function inviteLink(page) {
  await openRoomSettings(page);
  await page.getByTestId('create-invite').click();
  const url = await page.getByTestId('invite-url').inputValue();
  await page.getByTestId('room-dialog-close').click();
  return url;
}

test('a private room: invite link for the second person, nothing at all for the third', { timeout: 90000 }, async () => {
  const alice = await newAccount(ctx.browser, ctx.server, { username: 'alice' });
  const bob = await newAccount(ctx.browser, ctx.server, { username: 'bob' });
  const carol = await newAccount(ctx.browser, ctx.server, { username: 'carol' });
  // Carol's browser is recorded from its first request: page, API answers, every WebSocket frame.
  const c = await carol.newPage();
  const traffic = recordTraffic(c);
  await c.goto('/');
  await waitConnected(c);

  const a = await alice.newPage('/');
  await waitConnected(a);
  await createPrivate(a, ROOM);
  assert.match(await a.getByTestId('room-title').textContent(), new RegExp(ROOM));
  const url = await inviteLink(a);
  assert.match(url, new RegExp(`^${ctx.server.url}/invite/.+`));
  assert.equal(url.includes(ROOM), false, 'the link does not spell out the room');

  // Bob opens the link signed in: he is in the room, and it is in his sidebar.
  const b = await bob.newPage(url);
  await b.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  await waitConnected(b);
  assert.equal(new URL(b.url()).pathname, `/chat-room/${ROOM}`);
  await b.locator('[data-testid="room-item"]', { hasText: ROOM }).waitFor();
  await sendMessage(b, 'bob is in');
  await messageWithText(a, 'bob is in').waitFor();
  await sendMessage(a, 'welcome, bob');
  await messageWithText(b, 'welcome, bob').waitFor();
  // A private room is not in the public room browser, not even for its members.
  const browse = await alice.newPage('/');
  await waitConnected(browse);
  await browse.getByTestId('directory-status').waitFor();
  assert.equal(await browse.locator('[data-testid="directory-item"]', { hasText: ROOM }).count(), 0);

  // Carol, signed in and connected the whole time, never saw the room's name.
  await c.reload();
  await waitConnected(c);
  await c.getByTestId('directory-status').filter({ hasText: /rooms?|No rooms/ }).waitFor();
  await new Promise((r) => setTimeout(r, 500)); // lobby updates are coalesced; let any stray one arrive
  assert.equal((await c.locator('body').innerText()).includes(ROOM), false, 'not in the page text');
  assert.equal((await c.content()).includes(ROOM), false, 'not in the DOM');
  assert.ok(traffic.count() > 5, `carol's browser received traffic (${traffic.count()} items)`);
  assert.equal(traffic.text().includes(ROOM), false, 'not in any response or frame carol received');
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors, ...carol.pageErrors], []);
});

test('moderation from the room settings: moderator, kick, ban drops the room live, unban', { timeout: 120000 }, async () => {
  const room = 'moderated-9k';
  const owner = await newAccount(ctx.browser, ctx.server, { username: 'olga' });
  const mod = await newAccount(ctx.browser, ctx.server, { username: 'mike' });
  const troll = await newAccount(ctx.browser, ctx.server, { username: 'trent' });
  const o = await owner.newPage('/');
  await waitConnected(o);
  await createPrivate(o, room);
  const url = await inviteLink(o);
  const m = await mod.newPage(url);
  await m.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  const t = await troll.newPage(url);
  await t.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  await waitConnected(t);

  // The owner appoints a moderator; everyone in the room sees the line.
  await openRoomSettings(o);
  await memberRow(o, 'mike').getByTestId('make-moderator').click();
  await eventually(async () => assert.equal(await memberRow(o, 'mike').getAttribute('data-role'), 'moderator'));
  await o.getByTestId('room-dialog-close').click();
  await systemLines(m, 'olga made mike a moderator').waitFor();
  await systemLines(t, 'olga made mike a moderator').waitFor();
  // A member has no moderation controls.
  await openRoomSettings(t);
  assert.equal(await t.getByTestId('kick').count(), 0);
  assert.equal(await t.getByTestId('ban').count(), 0);
  assert.equal(await t.getByTestId('create-invite').count(), 0);
  await t.getByTestId('room-dialog-close').click();

  // The moderator kicks: the kicked person's view drops the room at once.
  await openRoomSettings(m);
  assert.equal(await memberRow(m, 'olga').getByTestId('kick').count(), 0, 'a moderator cannot kick the owner');
  await memberRow(m, 'trent').getByTestId('kick').click();
  await systemLines(o, 'mike removed trent from the room').waitFor();
  await t.getByTestId('view-browse').waitFor();
  await t.getByTestId('browse-notice').filter({ hasText: `mike removed you from ${room}` }).waitFor();
  assert.equal(await t.locator('[data-testid="room-item"]', { hasText: room }).count(), 0);
  await eventually(async () => assert.equal((await memberNames(o).allTextContents()).includes('trent'), false));

  // Kicked is not banned: the link lets him back in. Then the moderator bans him.
  await t.goto(url);
  await t.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  await waitConnected(t);
  await sendMessage(t, 'back again');
  await messageWithText(m, 'back again').waitFor();
  await m.getByTestId('room-dialog-close').click().catch(() => {});
  await openRoomSettings(m);
  await memberRow(m, 'trent').getByTestId('ban').click();
  await m.getByTestId('confirm-ban').click();
  await systemLines(o, 'mike banned trent').waitFor();
  await t.getByTestId('view-browse').waitFor();
  await t.getByTestId('browse-notice').filter({ hasText: `mike banned you from ${room}` }).waitFor();
  assert.equal(await t.locator('[data-testid="room-item"]', { hasText: room }).count(), 0);
  // Banned: the invite link no longer opens the room, and a reload does not bring it back.
  await t.goto(url);
  await t.getByTestId('invite-error').waitFor();
  await t.goto('/');
  await waitConnected(t);
  assert.equal(await t.locator('[data-testid="room-item"]', { hasText: room }).count(), 0);

  // The ban is listed for moderators, and lifting it is a line in the room too.
  await m.locator('[data-testid="room-ban"]').first().waitFor();
  await m.locator('[data-testid="room-ban"]').getByTestId('unban').click();
  await systemLines(o, 'mike lifted the ban on trent').waitFor();
  await eventually(async () => assert.equal(await m.locator('[data-testid="room-ban"]').count(), 0));
  await t.goto(url);
  await t.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  assert.deepEqual([...owner.pageErrors, ...mod.pageErrors, ...troll.pageErrors], []);
});

test('an incoming webhook: URL shown once, Slack JSON posts to the room, revoked', { timeout: 60000 }, async () => {
  const room = 'builds';
  const owner = await newAccount(ctx.browser, ctx.server, { username: 'wendy' });
  const o = await owner.newPage('/');
  await waitConnected(o);
  await o.getByTestId('create-name').fill(room);
  await o.getByTestId('create-submit').click();
  await o.getByTestId('composer').waitFor();
  await openRoomSettings(o, 'webhook-name');
  await o.getByTestId('webhook-name').fill('ci');
  await o.getByTestId('webhook-create').click();
  const hook = await o.getByTestId('webhook-url').inputValue();
  assert.match(hook, new RegExp(`^${ctx.server.url}/hooks/`));
  await o.locator('[data-testid="webhook"]', { hasText: 'ci' }).waitFor();
  await o.getByTestId('room-dialog-close').click();

  const post = (text) => fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text, username: 'CI' }) });
  assert.ok((await post('build 41 passed')).ok);
  await messageWithText(o, 'build 41 passed').waitFor();
  // A webhook may post under anyone's display name (Slack's `username`), so its messages are tagged and
  // a person's are not: one posting as the owner herself cannot pass for her.
  await sendMessage(o, 'from wendy herself');
  assert.ok((await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'posing as wendy', username: 'wendy' }) })).ok);
  await messageWithText(o, 'posing as wendy').waitFor();
  const tagged = (text) => messageWithText(o, text).getByTestId('webhook-tag').count();
  assert.equal(await tagged('posing as wendy'), 1);
  assert.equal(await tagged('build 41 passed'), 1);
  assert.equal(await tagged('from wendy herself'), 0);

  // Shown once: reopened, the dialog lists the webhook by name and nowhere its URL.
  await openRoomSettings(o, 'webhook-name');
  await o.locator('[data-testid="webhook"]', { hasText: 'ci' }).waitFor();
  assert.equal(await o.getByTestId('webhook-url').count(), 0);
  assert.equal((await o.content()).includes(new URL(hook).pathname), false);
  await o.locator('[data-testid="webhook"]', { hasText: 'ci' }).getByTestId('revoke-webhook').click();
  await eventually(async () => assert.equal(await o.locator('[data-testid="webhook"]').count(), 0));
  assert.equal((await post('after revoke')).ok, false);
  assert.deepEqual(owner.pageErrors, []);
});

test('the invite page asks a signed-out visitor to sign in, then opens the room', { timeout: 60000 }, async () => {
  const room = 'after-sign-in';
  const host = await newAccount(ctx.browser, ctx.server, { username: 'henry' });
  const guestToBe = await newAccount(ctx.browser, ctx.server, { username: 'ivy' });
  const h = await host.newPage('/');
  await waitConnected(h);
  await createPrivate(h, room);
  const url = await inviteLink(h);
  // Ivy is signed out in this browser (a fresh context has no cookie) and signs in from the invite page.
  const visitor = await newPerson(ctx.browser, ctx.server);
  const v = await visitor.newPage(url);
  await v.getByTestId('panel-signin').waitFor();
  await v.getByTestId('welcome-notice').filter({ hasText: 'invitation' }).waitFor();
  await v.getByTestId('signin-username').fill('ivy');
  await v.getByTestId('signin-password').fill(guestToBe.password);
  await v.getByTestId('signin-submit').click();
  await v.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  assert.equal(new URL(v.url()).pathname, `/chat-room/${room}`);
  const o = await openRoom(host, room);
  await sendMessage(o, 'hello ivy');
  await messageWithText(v, 'hello ivy').waitFor();
});

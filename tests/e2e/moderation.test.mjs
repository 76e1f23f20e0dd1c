// Roles in a private room, seen by everyone in it at once: the owner hands the room over (the old owner's
// settings lose the owner's controls, the new owner's gain them, both see the lines); a moderator deletes
// someone else's message; the owner demotes the moderator, whose open settings and timeline lose the
// moderator's controls live; a person added by username sees the room arrive in their sidebar while a third
// person never receives its name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newAccount, waitConnected, sendMessage, messageWithText, systemLines, eventually,
  recordTraffic, axeViolations, openRoomSettings, memberRow, createPrivate,
} from './helpers.mjs';

const ctx = serverAndBrowser();

/** The owner's page makes an invite link; each of `people` opens it and is in the room. */
async function inviteIn(ownerPage, people) {
  await openRoomSettings(ownerPage);
  await ownerPage.getByTestId('create-invite').click();
  const url = await ownerPage.getByTestId('invite-url').inputValue();
  await ownerPage.getByTestId('room-dialog-close').click();
  const pages = [];
  for (const person of people) {
    const page = await person.newPage(url);
    await page.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
    await waitConnected(page);
    pages.push(page);
  }
  return pages;
}

test('handing the room over: the old owner loses the owner\'s controls, the new one has them, both see it', { timeout: 90000 }, async () => {
  const room = 'handover-4c';
  const olga = await newAccount(ctx.browser, ctx.server, { username: 'olga' });
  const mike = await newAccount(ctx.browser, ctx.server, { username: 'mike' });
  const o = await olga.newPage('/');
  await waitConnected(o);
  await createPrivate(o, room);
  const [m] = await inviteIn(o, [mike]);

  await openRoomSettings(o);
  assert.match(await o.getByTestId('room-role').textContent(), /You are the owner/);
  await memberRow(o, 'mike').getByTestId('transfer').click();
  await memberRow(o, 'mike').getByTestId('confirm-transfer').click();

  // Both see the two lines: the new owner's, then the old owner's own new role.
  for (const page of [o, m]) {
    await systemLines(page, 'olga made mike the owner').waitFor();
    await systemLines(page, 'olga is now a moderator').waitFor();
  }
  // Olga's open dialog follows: she is a moderator, with no owner's control left.
  await eventually(async () => assert.match(await o.getByTestId('room-role').textContent(), /You are a moderator/));
  await eventually(async () => assert.equal(await memberRow(o, 'mike').getAttribute('data-role'), 'owner'));
  assert.equal(await o.getByTestId('transfer').count(), 0, 'no hand-over');
  assert.equal(await o.getByTestId('make-moderator').count(), 0);
  assert.equal(await o.getByTestId('unmake-moderator').count(), 0);
  assert.equal(await memberRow(o, 'mike').getByTestId('kick').count(), 0, 'a moderator cannot kick the owner');
  assert.equal(await o.getByTestId('create-invite').count(), 1, 'still a moderator: invites');
  await o.getByTestId('room-dialog-close').click();

  // Mike's settings are the owner's now: he can hand it back and unmake olga as a moderator.
  await openRoomSettings(m);
  assert.match(await m.getByTestId('room-role').textContent(), /You are the owner/);
  assert.equal(await memberRow(m, 'olga').getAttribute('data-role'), 'moderator');
  assert.equal(await memberRow(m, 'olga').getByTestId('transfer').count(), 1);
  assert.equal(await memberRow(m, 'olga').getByTestId('unmake-moderator').count(), 1);
  // And the server agrees: olga may no longer change roles.
  const refused = await o.evaluate(async ([name, id]) => (await fetch(`/api/rooms/${encodeURIComponent(name)}/owner`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ actor_id: id }),
  })).json(), [room, olga.user.id]);
  assert.equal(refused.error.code, 'forbidden');
  assert.deepEqual([...olga.pageErrors, ...mike.pageErrors], []);
});

test('a moderator deletes someone else\'s message; demoted, their open views lose the controls live', { timeout: 120000 }, async () => {
  const room = 'demotion-8x';
  const owner = await newAccount(ctx.browser, ctx.server, { username: 'oscar' });
  const mod = await newAccount(ctx.browser, ctx.server, { username: 'maria' });
  const member = await newAccount(ctx.browser, ctx.server, { username: 'tom' });
  const o = await owner.newPage('/');
  await waitConnected(o);
  await createPrivate(o, room);
  const [m, t] = await inviteIn(o, [mod, member]);

  await openRoomSettings(o);
  await memberRow(o, 'maria').getByTestId('make-moderator').click();
  await systemLines(m, 'oscar made maria a moderator').waitFor();
  await o.getByTestId('room-dialog-close').click();

  await sendMessage(t, 'spam spam spam');
  await sendMessage(t, 'a fine message');
  await sendMessage(m, 'from the moderator');
  const spamOnM = messageWithText(m, 'spam spam spam');
  await spamOnM.waitFor();
  await messageWithText(t, 'from the moderator').waitFor();
  // The moderator has Delete (not Edit) on tom's messages; tom, a member, nothing on hers.
  assert.equal(await spamOnM.getByTestId('delete-button').count(), 1);
  assert.equal(await spamOnM.getByTestId('edit-button').count(), 0);
  assert.equal(await messageWithText(t, 'from the moderator').getByTestId('delete-button').count(), 0);
  await spamOnM.getByTestId('delete-button').click();
  await spamOnM.getByTestId('confirm-delete').waitFor();
  assert.deepEqual(await axeViolations(m), [], 'a moderator\'s Delete on someone else\'s message, asking to confirm');
  await spamOnM.getByTestId('confirm-delete').click();
  // Gone for everyone, the author included.
  for (const page of [t, o, m]) {
    await eventually(async () => assert.equal(await messageWithText(page, 'spam spam spam').count(), 0));
    await page.locator('[data-testid="message"][data-deleted="true"]').first().waitFor();
  }
  const fine = messageWithText(m, 'a fine message');
  assert.equal(await fine.getByTestId('delete-button').count(), 1);

  // Maria's settings are open (a moderator's: kick, ban, invite) when the owner demotes her.
  await openRoomSettings(m);
  assert.equal(await memberRow(m, 'tom').getByTestId('kick').count(), 1);
  assert.equal(await m.getByTestId('create-invite').count(), 1);
  await openRoomSettings(o);
  await memberRow(o, 'maria').getByTestId('unmake-moderator').click();
  await eventually(async () => assert.equal(await memberRow(o, 'maria').getAttribute('data-role'), 'member'));
  await systemLines(t, 'oscar made maria a member (no longer a moderator)').waitFor();
  await systemLines(m, 'oscar made maria a member (no longer a moderator)').waitFor();
  // Without a reload or reopening anything: her dialog and her timeline are a member's.
  await eventually(async () => assert.match(await m.getByTestId('room-role').textContent(), /You are a member/));
  assert.equal(await m.getByTestId('kick').count(), 0);
  assert.equal(await m.getByTestId('ban').count(), 0);
  assert.equal(await m.getByTestId('create-invite').count(), 0);
  assert.equal(await m.getByTestId('add-member-name').count(), 0);
  await m.getByTestId('room-dialog-close').click();
  await eventually(async () => assert.equal(await fine.getByTestId('delete-button').count(), 0));
  assert.equal(await messageWithText(m, 'from the moderator').getByTestId('delete-button').count(), 1, 'her own stay hers');
  assert.deepEqual([...owner.pageErrors, ...mod.pageErrors, ...member.pageErrors], []);
});

test('added by username: the room appears in their sidebar live; a third person never receives its name', { timeout: 90000 }, async () => {
  const room = 'added-live-2q9';
  const olga = await newAccount(ctx.browser, ctx.server, { username: 'olivia' });
  const bob = await newAccount(ctx.browser, ctx.server, { username: 'bruno' });
  const carol = await newAccount(ctx.browser, ctx.server, { username: 'cleo' });
  // Cleo's browser is recorded from its first request; she is connected the whole time.
  const c = await carol.newPage();
  const traffic = recordTraffic(c);
  await c.goto('/');
  await waitConnected(c);
  const b = await bob.newPage('/');
  await waitConnected(b);
  await b.evaluate(() => { window.__samePage = true; });
  assert.equal(await b.locator('[data-testid="room-item"]', { hasText: room }).count(), 0);

  const o = await olga.newPage('/');
  await waitConnected(o);
  await createPrivate(o, room);
  await sendMessage(o, 'before bruno came');
  await openRoomSettings(o);
  await o.getByTestId('add-member-name').fill('nobody-by-that-name');
  await o.getByTestId('add-member').click();
  await o.getByTestId('room-dialog-error').filter({ hasText: /no account/ }).waitFor();
  await o.getByTestId('add-member-name').fill('Bruno');
  await o.getByTestId('add-member').click();
  await eventually(async () => assert.equal(await memberRow(o, 'bruno').getAttribute('data-role'), 'member'));
  await o.getByTestId('room-dialog-close').click();
  await systemLines(o, 'olivia added bruno').waitFor();

  // Bruno, on the room browser, did nothing: the room is in his sidebar, in the same page.
  const item = b.locator('[data-testid="room-item"]', { hasText: room });
  await item.waitFor({ timeout: 10000 });
  assert.equal(await b.evaluate(() => window.__samePage), true, 'no reload');
  await item.locator('a').click();
  await b.getByTestId('composer').waitFor();
  await messageWithText(b, 'before bruno came').waitFor();
  await sendMessage(b, 'thanks for adding me');
  await messageWithText(o, 'thanks for adding me').waitFor();

  await c.reload();
  await waitConnected(c);
  await new Promise((r) => setTimeout(r, 500)); // lobby updates are coalesced; let any stray one arrive
  assert.equal((await c.locator('body').innerText()).includes(room), false, 'not in the page text');
  assert.equal(await c.locator('[data-testid="room-item"]', { hasText: room }).count(), 0);
  assert.ok(traffic.count() > 5, `cleo's browser received traffic (${traffic.count()} items)`);
  assert.equal(traffic.text().includes(room), false, 'not in any response or frame cleo received');
  assert.deepEqual([...olga.pageErrors, ...bob.pageErrors, ...carol.pageErrors], []);
});

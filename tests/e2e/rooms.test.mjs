// Unknown rooms, bad room names, the name prompt on the room page, and history paging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser,
  createRoom,
  newPerson,
  openRoom,
  eventually,
  memberNames,
  messageWithText,
  sendMessage,
  shownMessages,
  rawConnect,
  rawRequest,
  rawSend,
  rawClose,
} from './helpers.mjs';

const ctx = serverAndBrowser();

test('an unknown room offers to create it; the room page asks for a name first', { timeout: 60000 }, async () => {
  const carol = await newPerson(ctx.browser, ctx.server); // no session yet
  const page = await carol.newPage('/chat-room/nope');

  // No session: the page asks for a display name inline.
  await page.getByTestId('name-gate').waitFor();
  await page.getByLabel('Display name', { exact: true }).fill('carol');
  await page.getByTestId('gate-submit').click();

  const notFound = page.getByTestId('not-found');
  await notFound.waitFor();
  assert.match(await notFound.textContent(), /This room does not exist/);
  assert.equal(await page.getByTestId('back-to-lobby').getAttribute('href'), '/');
  assert.ok(await page.getByTestId('chat').isHidden());

  // Nothing was created by looking.
  const other = await newPerson(ctx.browser, ctx.server, { name: 'dave' });
  const raw = await other.newPage('/healthz');
  await rawConnect(raw);
  const before = await rawRequest(raw, 'rooms', { subscribe: false });
  assert.equal(before.type, 'ack', JSON.stringify(before));
  assert.ok(!before.rooms.some((r) => r.name === 'nope'), 'looking must not create the room');

  await page.getByRole('button', { name: 'Create it' }).click();
  await page.getByTestId('composer').waitFor();
  await eventually(async () => assert.deepEqual(await memberNames(page).allTextContents(), ['carol']));
  await sendMessage(page, 'first!');
  await messageWithText(page, 'first!').waitFor();
  await eventually(async () => assert.equal(await page.getByTestId('pending-message').count(), 0));

  const afterCreate = await rawRequest(raw, 'rooms', { subscribe: false });
  assert.ok(afterCreate.rooms.some((r) => r.name === 'nope'));
  await rawClose(raw);
  assert.deepEqual(carol.pageErrors, []);
});

test('the lobby shows the ctx.server\'s invalid_room_name next to the form', { timeout: 60000 }, async () => {
  const erin = await newPerson(ctx.browser, ctx.server, { name: 'erin' });
  const page = await erin.newPage('/');
  await page.getByTestId('room-list').locator('[data-room="nope"]').waitFor();
  await page.getByLabel('Room', { exact: true }).fill('no/slashes!');
  await page.getByRole('button', { name: 'Join or create' }).click();
  const error = page.getByTestId('room-error');
  await error.waitFor();
  assert.match(await error.textContent(), /Room names/);
  assert.equal(new URL(page.url()).pathname, '/');

  // A display name the ctx.server refuses is shown next to the name field.
  await page.getByLabel('Display name', { exact: true }).fill('x'.repeat(40));
  await page.getByLabel('Room', { exact: true }).fill('fine room');
  await page.getByRole('button', { name: 'Join or create' }).click();
  await page.getByTestId('name-error').waitFor();
  assert.equal(new URL(page.url()).pathname, '/');

  // A name with a space works and is encoded in the URL.
  await page.getByLabel('Display name', { exact: true }).fill('erin');
  await page.getByLabel('Room', { exact: true }).fill('fine room');
  await page.getByRole('button', { name: 'Join or create' }).click();
  await page.waitForURL('**/chat-room/fine%20room');
  await page.getByTestId('composer').waitFor();
  assert.equal(await page.getByTestId('room-title').textContent(), 'fine room');
  assert.deepEqual(erin.pageErrors, []);
});

test('history: the last 50 on open, older pages on demand, each event once', { timeout: 90000 }, async () => {
  const frank = await newPerson(ctx.browser, ctx.server, { name: 'frank' });
  const raw = await frank.newPage('/healthz');
  await rawConnect(raw);
  const created = await rawRequest(raw, 'join', { room: 'long', create: true });
  assert.equal(created.type, 'ack', JSON.stringify(created));
  const total = 120;
  for (let i = 1; i <= total; i++) await rawSend(raw, 'long', `msg ${String(i).padStart(3, '0')}`);
  await rawClose(raw);

  const page = await openRoom(frank, 'long');
  await messageWithText(page, 'msg 120').waitFor();
  const first = await shownMessages(page);
  assert.ok(first.length >= 50 && first.length <= 52, `first page shows ~50 items, got ${first.length}`);
  assert.equal(await messageWithText(page, 'msg 001').count(), 0);
  await page.getByTestId('load-older').waitFor();

  // Page back with the control, then by scrolling to the top.
  await page.getByTestId('load-older').click();
  await eventually(async () => assert.ok((await shownMessages(page)).length > first.length));
  for (let i = 0; i < 10 && (await messageWithText(page, 'msg 001').count()) === 0; i++) {
    await page.getByTestId('message-scroller').evaluate((s) => { s.scrollTop = 0; });
    await page.waitForTimeout(300);
  }
  await messageWithText(page, 'msg 001').waitFor();
  await page.getByTestId('history-start').waitFor();

  const shown = await shownMessages(page);
  const texts = shown.filter((m) => m.kind === 'message').map((m) => m.text);
  assert.deepEqual(
    texts,
    Array.from({ length: total }, (_, i) => `msg ${String(i + 1).padStart(3, '0')}`),
  );
  const seqs = shown.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assert.equal(new Set(seqs).size, seqs.length);
  assert.deepEqual(frank.pageErrors, []);
});

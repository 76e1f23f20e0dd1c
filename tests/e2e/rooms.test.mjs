// Unknown rooms, bad room and display names, and history paging by scrolling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newPerson, openRoom, eventually, memberNames, messageWithText, sendMessage, shownMessages,
  rawConnect, rawRequest, rawSend, rawClose,
} from './helpers.mjs';

const ctx = serverAndBrowser();

test('an unknown room offers to create it; a deep link without a session asks for a name first', { timeout: 60000 }, async () => {
  const carol = await newPerson(ctx.browser, ctx.server); // no session yet
  const page = await carol.newPage('/chat-room/nope');

  await page.getByTestId('view-welcome').waitFor();
  await page.getByLabel('Display name', { exact: true }).fill('carol');
  await page.getByTestId('name-submit').click();

  const missing = page.getByTestId('view-missing');
  await missing.waitFor();
  assert.match(await missing.textContent(), /This room does not exist/);
  assert.equal(await page.getByTestId('back-to-rooms').getAttribute('href'), '/');
  assert.ok(await page.getByTestId('view-room').isHidden());

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

test('the server\'s invalid_room_name and invalid_name show next to their fields', { timeout: 60000 }, async () => {
  const erin = await newPerson(ctx.browser, ctx.server);
  const page = await erin.newPage('/');
  await page.getByLabel('Display name', { exact: true }).fill('x'.repeat(40));
  await page.getByTestId('name-submit').click();
  await page.getByTestId('name-error').waitFor();
  assert.match(await page.getByTestId('name-error').textContent(), /1 to 32 characters/);

  await page.getByLabel('Display name', { exact: true }).fill('erin');
  await page.getByTestId('name-submit').click();
  await page.getByTestId('directory').locator('[data-room="nope"]').waitFor();
  await page.getByLabel('Create a room').fill('no/slashes!');
  await page.getByRole('button', { name: 'Create' }).click();
  const error = page.getByTestId('create-error');
  await error.waitFor();
  assert.match(await error.textContent(), /Room names/);
  assert.equal(new URL(page.url()).pathname, '/');

  // A name with a space works and is encoded in the URL.
  await page.getByLabel('Create a room').fill('fine room');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL('**/chat-room/fine%20room');
  await page.getByTestId('composer').waitFor();
  assert.equal(await page.getByTestId('room-title').textContent(), '# fine room');
  assert.deepEqual(erin.pageErrors, []);
});

test('history: the latest page on open, older pages as you scroll up, each event once, place kept', { timeout: 90000 }, async () => {
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
  assert.ok(first.length >= 50 && first.length <= 102, `the first pages show 50-100 items, got ${first.length}`);
  assert.equal(await messageWithText(page, 'msg 001').count(), 0);

  // Scrolling up loads older pages above, and the message the reader was looking at stays in place.
  const scroller = page.getByTestId('message-scroller');
  const oldest = first.find((m) => m.kind === 'message');
  const anchor = messageWithText(page, oldest.text);
  await scroller.evaluate((s) => { s.scrollTop = 0; });
  await eventually(async () => assert.ok((await shownMessages(page)).length > first.length));
  const box = await anchor.boundingBox();
  assert.ok(box && box.y > 0, `the reader's message is not pushed out of view by the page above (y=${box?.y})`);
  for (let i = 0; i < 20 && (await messageWithText(page, 'msg 001').count()) === 0; i++) {
    await scroller.evaluate((s) => { s.scrollTop = 0; });
    await page.waitForTimeout(200);
  }
  await messageWithText(page, 'msg 001').waitFor();
  await page.getByTestId('history-start').waitFor();

  const shown = await shownMessages(page);
  assert.deepEqual(shown.filter((m) => m.kind === 'message').map((m) => m.text),
    Array.from({ length: total }, (_, i) => `msg ${String(i + 1).padStart(3, '0')}`));
  const seqs = shown.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
  assert.equal(new Set(seqs).size, seqs.length);

  // Scrolled up, a new message does not move the reader: the jump button counts it and goes there.
  const jump = page.getByTestId('jump-latest');
  await jump.waitFor();
  const scrollBefore = await scroller.evaluate((s) => s.scrollTop);
  const gina = await newPerson(ctx.browser, ctx.server, { name: 'gina' });
  const g = await openRoom(gina, 'long');
  await sendMessage(g, 'news while frank reads old history');
  await eventually(async () => assert.equal(await page.getByTestId('jump-count').textContent(), '1'));
  assert.equal(await scroller.evaluate((s) => s.scrollTop), scrollBefore, 'the reader stays where they were');
  await jump.click();
  await eventually(async () => assert.ok(await jump.isHidden()));
  const last = messageWithText(page, 'news while frank reads old history');
  assert.ok(await last.isVisible());
  const lastBox = await last.boundingBox();
  const view = await scroller.boundingBox();
  assert.ok(lastBox.y + lastBox.height <= view.y + view.height + 1, 'the newest message is in view');
  // The live region read the message out.
  assert.equal(await page.getByTestId('announcer').textContent(), 'gina: news while frank reads old history');
  assert.deepEqual([...frank.pageErrors, ...gina.pageErrors], []);
});

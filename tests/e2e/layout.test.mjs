// Themes and widths: the theme follows the system until the person picks one (kept across a reload);
// at 360 px the sidebar is a drawer and nothing overflows sideways; wide screens show the member list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, createRoom, newPerson, openRoom, messageWithText, sendMessage, eventually } from './helpers.mjs';

const ctx = serverAndBrowser();
const theme = (page) => page.evaluate(() => document.documentElement.dataset.theme);
const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);

test('the theme follows the system, and a manual choice wins and survives a reload', { timeout: 60000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const page = await alice.newPage();
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/');
  assert.equal(await theme(page), 'dark');
  const dark = await background(page);
  await page.emulateMedia({ colorScheme: 'light' });
  await eventually(async () => assert.equal(await theme(page), 'light'), { timeout: 2000 });
  assert.notEqual(await background(page), dark, 'the colours change with the theme');

  // The quick switch picks dark by hand; the system's light no longer applies, even after a reload.
  await page.getByTestId('theme-toggle').click();
  assert.equal(await theme(page), 'dark');
  assert.equal(await page.getByTestId('theme-toggle').getAttribute('aria-label'), 'Switch to the light theme');
  await page.reload();
  assert.equal(await theme(page), 'dark');

  // Settings: back to following the system.
  await page.getByTestId('settings-button').click();
  await page.getByLabel('Follow the system').check();
  assert.equal(await theme(page), 'light');
  await page.getByTestId('settings-close').click();
  await page.emulateMedia({ colorScheme: 'dark' });
  await eventually(async () => assert.equal(await theme(page), 'dark'), { timeout: 2000 });
  assert.deepEqual(alice.pageErrors, []);
});

test('at 360 px the sidebar is a drawer, chat works, and nothing overflows sideways', { timeout: 60000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const bob = await newPerson(ctx.browser, ctx.server, { name: 'bob', viewport: { width: 360, height: 740 } });
  await createRoom(alice, 'phones').then((p) => p.close());
  const a = await openRoom(alice, 'phones');
  await createRoom(bob, 'other room').then((p) => p.close());
  const b = await openRoom(bob, 'phones');

  const sidebar = b.getByTestId('sidebar');
  assert.ok(await sidebar.isHidden(), 'the sidebar is collapsed');
  const overflow = () => b.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(await overflow(), 0);
  await sendMessage(a, `a long word that must wrap: ${'x'.repeat(120)} and https://example.com/${'y'.repeat(80)}`);
  await messageWithText(b, `a long word that must wrap: ${'x'.repeat(120)} and https://example.com/${'y'.repeat(80)}`).waitFor();
  assert.equal(await overflow(), 0, 'long words and links wrap');
  const box = await b.getByTestId('composer').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 360, 'the composer fits');
  await sendMessage(b, 'sent from a phone');
  await messageWithText(a, 'sent from a phone').waitFor();

  // The menu button opens the drawer; Esc closes it and gives the focus back; picking a room closes it.
  const open = b.getByTestId('open-sidebar');
  await open.click();
  await sidebar.waitFor({ state: 'visible' });
  assert.equal(await open.getAttribute('aria-expanded'), 'true');
  await b.keyboard.press('Escape');
  await sidebar.waitFor({ state: 'hidden' });
  assert.equal(await b.evaluate(() => document.activeElement.dataset.testid), 'open-sidebar');
  await open.click();
  await b.locator('[data-testid="room-item"][data-room="other room"] a').click();
  await b.waitForURL('**/chat-room/other%20room');
  await sidebar.waitFor({ state: 'hidden' });
  assert.equal(await b.getByTestId('room-title').textContent(), '# other room');
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

test('a wide screen shows the members beside the conversation; narrower ones on demand', { timeout: 60000 }, async () => {
  const carol = await newPerson(ctx.browser, ctx.server, { name: 'carol', viewport: { width: 1440, height: 900 } });
  const c = await openRoom(carol, 'phones');
  const panel = c.getByTestId('members-panel');
  await panel.waitFor({ state: 'visible' });
  await c.setViewportSize({ width: 1024, height: 768 });
  await panel.waitFor({ state: 'hidden' });
  await c.getByTestId('members-toggle').click();
  await panel.waitFor({ state: 'visible' });
  assert.equal(await c.getByTestId('members-toggle').getAttribute('aria-expanded'), 'true');
  assert.deepEqual(carol.pageErrors, []);
});

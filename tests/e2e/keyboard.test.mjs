// The whole flow by keyboard alone, with a second person watching: create a room, send, new line, edit the
// last message with Up, cancel with Esc, delete through the message menu, switch rooms from the sidebar.
// Every focused control shows a visible focus ring.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, newPerson, openRoom, eventually, messageWithText, waitConnected } from './helpers.mjs';

const ctx = serverAndBrowser();

const focused = (page) => page.evaluate(() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    testid: el.dataset?.testid || el.id || el.tagName,
    ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
  };
});

/** Presses Tab (or Shift+Tab) until the element with `testid` has focus; fails after `max` presses. */
async function tabTo(page, testid, { back = false, max = 40 } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    if (f.testid === testid) return f;
  }
  throw new Error(`${testid} not reachable by ${back ? 'Shift+' : ''}Tab`);
}

test('create, send, edit with Up, cancel with Esc, delete and switch rooms by keyboard', { timeout: 90000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const bob = await newPerson(ctx.browser, ctx.server, { name: 'bob' });
  const a = await alice.newPage('/');
  await waitConnected(a);
  const kb = a.keyboard;

  // The room browser puts the focus in the create field; a skip link is the first stop.
  assert.equal((await focused(a)).testid, 'create-name');
  await kb.type('keys');
  await kb.press('Enter');
  await a.waitForURL('**/chat-room/keys');
  await a.getByTestId('composer').waitFor();
  await eventually(async () => assert.equal((await focused(a)).testid, 'composer'));
  const b = await openRoom(bob, 'keys');

  await kb.type('typed on a keyboard');
  await kb.press('Shift+Enter');
  await kb.type('with a second line');
  await kb.press('Enter');
  await messageWithText(b, 'typed on a keyboard\nwith a second line').waitFor();
  await kb.type('second message');
  await kb.press('Enter');
  await messageWithText(b, 'second message').waitFor();
  await eventually(async () => assert.equal(await a.getByTestId('pending-message').count(), 0));

  // Up in the empty box edits the newest own message; Esc cancels and gives the box back.
  await kb.press('ArrowUp');
  assert.equal((await focused(a)).testid, 'edit-input');
  assert.equal(await a.getByTestId('edit-input').inputValue(), 'second message');
  await kb.type(' (changed?)');
  await kb.press('Escape');
  assert.equal((await focused(a)).testid, 'composer');
  assert.equal(await messageWithText(a, 'second message').count(), 1);
  await kb.press('ArrowUp');
  await kb.press('End');
  await kb.type(', edited');
  await kb.press('Enter');
  await messageWithText(b, 'second message, edited').waitFor();
  assert.equal((await focused(a)).testid, 'composer');

  // The message menu is reachable by Shift+Tab from the box, with a visible focus ring.
  const ring = await tabTo(a, 'delete-button', { back: true });
  assert.ok(ring.ring, 'the focused menu button shows a focus ring');
  await kb.press('Enter');
  assert.equal((await focused(a)).testid, 'confirm-delete');
  await kb.press('Enter');
  await eventually(async () => assert.equal(await b.locator('[data-testid="message"][data-deleted="true"]').count(), 1));

  // Switch rooms from the sidebar: Tab to the link, Enter.
  await a.goto('/chat-room/other');
  await a.getByTestId('create-missing').focus();
  await kb.press('Enter');
  await a.getByTestId('composer').waitFor();
  await a.getByTestId('room-filter').focus();
  await kb.type('key');
  const link = a.locator('[data-testid="room-item"][data-room="keys"] a');
  assert.equal(await a.locator('[data-testid="room-item"]').count(), 1, 'the filter narrows the list');
  assert.equal(await a.getByTestId('my-rooms').textContent(), '#keys');
  for (let i = 0; i < 10 && !(await link.evaluate((l) => l === document.activeElement)); i++) await kb.press('Tab');
  assert.ok((await focused(a)).ring, 'the focused room link shows a focus ring');
  await kb.press('Enter');
  await a.waitForURL('**/chat-room/keys');
  await messageWithText(a, 'typed on a keyboard\nwith a second line').waitFor();
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

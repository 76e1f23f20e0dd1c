// Several rooms on one connection: switching without reloading the page, unread and mention badges
// (live and across a reload), a draft per room across a reload, and the offline queue across a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, createRoom, newPerson, openRoom, eventually, messageWithText, sendMessage, shownMessages,
  waitConnected, sleep,
} from './helpers.mjs';

const ctx = serverAndBrowser();
const roomLink = (page, room) => page.locator(`[data-testid="room-item"][data-room="${room}"] a`);
const badge = (page, room, id) => page.locator(`[data-testid="room-item"][data-room="${room}"] [data-testid="${id}"]`);

let alice;
let bob;

test('switching rooms keeps one connection and the page; unread and mention badges follow', { timeout: 90000 }, async () => {
  alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  bob = await newPerson(ctx.browser, ctx.server, { name: 'bob' });
  const a = await createRoom(alice, 'alpha');
  await createRoom(alice, 'beta').then((p) => p.close());
  const sockets = [];
  a.on('websocket', (ws) => sockets.push(ws.url()));
  await a.reload();
  await waitConnected(a);
  await a.evaluate(() => { window.__samePage = true; });
  await roomLink(a, 'beta').waitFor();

  const b = await openRoom(bob, 'beta');
  await sendMessage(b, 'beta one');
  await sendMessage(b, 'hey @alice, a question');
  await sendMessage(b, 'beta three');
  await eventually(async () => {
    assert.equal(await badge(a, 'beta', 'unread-count').textContent(), '3');
    assert.equal(await badge(a, 'beta', 'mention-count').textContent(), '@1');
  });
  assert.ok(await badge(a, 'alpha', 'unread-count').isHidden(), 'the open room has no badge');

  // Open beta from the sidebar: no page load, the same connection, the badge cleared, the messages shown.
  await roomLink(a, 'beta').click();
  await a.waitForURL('**/chat-room/beta');
  await messageWithText(a, 'beta three').waitFor();
  assert.equal(await a.getByTestId('room-title').textContent(), '# beta');
  await eventually(async () => assert.ok(await badge(a, 'beta', 'unread-count').isHidden()));
  assert.equal(await roomLink(a, 'beta').getAttribute('aria-current'), 'page');

  // A message seen live in the open room is read: it does not count once the person moves on.
  await sendMessage(b, 'seen live in beta');
  await messageWithText(a, 'seen live in beta').waitFor();

  // Messages in the room left behind now count there.
  const b2 = await openRoom(bob, 'alpha');
  await sendMessage(b2, 'alpha news');
  await eventually(async () => assert.equal(await badge(a, 'alpha', 'unread-count').textContent(), '1'));
  await roomLink(a, 'alpha').click();
  await messageWithText(a, 'alpha news').waitFor();
  assert.ok(await badge(a, 'beta', 'unread-count').isHidden(), 'what was seen live is not unread');
  // Back and forward go through the history stack, still in the same page.
  await a.goBack();
  await a.waitForURL('**/chat-room/beta');
  await messageWithText(a, 'beta one').waitFor();
  assert.equal(await messageWithText(a, 'alpha news').count(), 0, 'only the open room is shown');
  await a.goForward();
  await messageWithText(a, 'alpha news').waitFor();

  assert.equal(await a.evaluate(() => window.__samePage), true, 'the page never reloaded');
  assert.equal(sockets.length, 1, `one WebSocket for every room: ${sockets}`);

  // Unread counts survive a reload: what arrived while the page was closed counts after the read marker.
  await a.close();
  await sendMessage(b, 'while you were away');
  await sendMessage(b, '@alice are you there?');
  const again = await openRoom(alice, 'alpha');
  await eventually(async () => {
    assert.equal(await badge(again, 'beta', 'unread-count').textContent(), '2');
    assert.equal(await badge(again, 'beta', 'mention-count').textContent(), '@1');
  });
  await again.close();
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

test('a draft per room survives switching and a reload', { timeout: 60000 }, async () => {
  const a = await openRoom(alice, 'alpha');
  await a.getByTestId('composer').fill('half a thought for alpha');
  await roomLink(a, 'beta').click();
  await a.waitForURL('**/chat-room/beta');
  assert.equal(await a.getByTestId('composer').inputValue(), '');
  await a.getByTestId('composer').fill('beta draft\nsecond line');
  await sleep(400); // drafts are saved a quarter second after the last keystroke
  await a.reload();
  await waitConnected(a);
  assert.equal(await a.getByTestId('composer').inputValue(), 'beta draft\nsecond line');
  await roomLink(a, 'alpha').click();
  assert.equal(await a.getByTestId('composer').inputValue(), 'half a thought for alpha');
  // Sending clears that room's draft for good.
  await a.getByTestId('composer').press('Enter');
  await messageWithText(a, 'half a thought for alpha').waitFor();
  await a.reload();
  await waitConnected(a);
  assert.equal(await a.getByTestId('composer').inputValue(), '');
  await a.close();
  assert.deepEqual(alice.pageErrors, []);
});

test('messages written offline wait in a queue that survives a reload, then go once and in order', { timeout: 90000 }, async () => {
  const a = await openRoom(alice, 'alpha');
  const watcher = await openRoom(bob, 'alpha');
  const watcherBeta = await openRoom(bob, 'beta');
  await alice.context.setOffline(true);
  await ctx.server.restart({ signal: 'SIGKILL' });
  await eventually(async () => assert.equal(await a.getByTestId('connection-state').getAttribute('data-state'), 'offline'));
  assert.equal(await a.getByTestId('connection-text').textContent(), 'Offline');

  for (const text of ['queued 1', 'queued 2', 'queued 3']) await sendMessage(a, text);
  await roomLink(a, 'beta').click();
  await sendMessage(a, 'queued in beta');
  const pending = await a.getByTestId('pending-message').allTextContents();
  assert.equal(pending.length, 1, 'the open room shows its own queued messages');
  assert.match(pending[0], /Waiting for the connection/);
  const saved = await a.evaluate(() => JSON.parse(localStorage.getItem('confab.outbox')).map((e) => e.text));
  assert.deepEqual(saved, ['queued 1', 'queued 2', 'queued 3', 'queued in beta']);

  // The page goes away before the network comes back.
  await a.close();
  await alice.context.setOffline(false);
  const back = await openRoom(alice, 'alpha');
  await messageWithText(watcher, 'queued 3').waitFor({ timeout: 20000 });
  await messageWithText(watcherBeta, 'queued in beta').waitFor();
  await eventually(async () => {
    assert.equal(await back.getByTestId('pending-message').count(), 0);
    assert.equal(await back.evaluate(() => JSON.parse(localStorage.getItem('confab.outbox')).length), 0);
  });
  for (const page of [watcher, back]) {
    const texts = (await shownMessages(page)).filter((m) => m.kind === 'message').map((m) => m.text);
    assert.deepEqual(texts.filter((t) => t.startsWith('queued')), ['queued 1', 'queued 2', 'queued 3'], 'once each, in order');
  }
  assert.equal(await messageWithText(watcherBeta, 'queued in beta').count(), 1);
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

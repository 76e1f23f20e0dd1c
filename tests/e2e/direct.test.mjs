// Direct messages in the browser: started from a person's name (the member list, a message's author), the
// same pair always gets the same conversation, it appears live in the other person's sidebar with an unread
// badge, and nobody else sees it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newAccount, waitConnected, createRoom, openRoom, sendMessage, messageWithText, eventually,
  recordTraffic, showMembers,
} from './helpers.mjs';

const ctx = serverAndBrowser();

test('a DM from a member name: live in the other sidebar with an unread badge, same room both ways', { timeout: 90000 }, async () => {
  const alice = await newAccount(ctx.browser, ctx.server, { username: 'alice', displayName: 'Alice' });
  const bob = await newAccount(ctx.browser, ctx.server, { username: 'bob', displayName: 'Bob' });
  const eve = await newAccount(ctx.browser, ctx.server, { username: 'eve', displayName: 'Eve' });
  const a = await createRoom(alice, 'lobby');
  await waitConnected(a);
  const b = await openRoom(bob, 'lobby');
  const e = await eve.newPage();
  const traffic = recordTraffic(e);
  await e.goto('/chat-room/lobby');
  await e.getByTestId('composer').waitFor({ state: 'visible' });
  await waitConnected(e);
  // Bob looks at the room browser: the DM must reach his sidebar while he is elsewhere.
  await b.getByTestId('browse-rooms').click();
  await b.getByTestId('view-browse').waitFor();

  // Alice starts it from Bob's name in the member list.
  await showMembers(a);
  const bobInList = a.locator('[data-testid="member"]', { hasText: 'Bob' });
  await bobInList.waitFor();
  await bobInList.getByTestId('member-dm').click();
  await eventually(async () => assert.match(await a.getByTestId('room-title').textContent(), /@ Bob/));
  const dmPath = new URL(a.url()).pathname;
  assert.match(dmPath, /^\/chat-room\//);
  assert.notEqual(dmPath, '/chat-room/lobby');
  await a.getByTestId('composer').waitFor({ state: 'visible' });
  await a.locator('[data-testid="dm-item"]', { hasText: 'Bob' }).waitFor();
  await sendMessage(a, 'psst, bob');
  await messageWithText(a, 'psst, bob').waitFor();

  // Bob's sidebar shows the conversation, named after Alice, with one unread message, without a reload.
  const item = b.locator('[data-testid="dm-item"]', { hasText: 'Alice' });
  await item.waitFor({ timeout: 15000 });
  await eventually(async () => assert.equal(await item.getByTestId('unread-count').textContent(), '1'));
  await item.getByTestId('dm-link').click();
  await messageWithText(b, 'psst, bob').waitFor();
  assert.equal(new URL(b.url()).pathname, dmPath);
  await eventually(async () => assert.equal(await item.getByTestId('unread-count').isHidden(), true));
  await sendMessage(b, 'hi alice');
  await messageWithText(a, 'hi alice').waitFor();

  // From Bob's side, starting it from Alice's name as a message author opens the same conversation.
  const lobby = await openRoom(bob, 'lobby');
  const ap = await openRoom(alice, 'lobby');
  await sendMessage(ap, 'ping from the lobby');
  const author = messageWithText(lobby, 'ping from the lobby').getByTestId('message-author');
  await author.waitFor();
  await author.click();
  await eventually(async () => assert.equal(new URL(lobby.url()).pathname, dmPath));
  await messageWithText(lobby, 'psst, bob').waitFor();
  assert.equal(await lobby.locator('[data-testid="dm-item"]').count(), 1, 'one conversation per pair');

  // Eve, in the same public room the whole time, saw nothing of it.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await e.locator('[data-testid="dm-item"]').count(), 0);
  for (const secret of ['psst, bob', 'hi alice', decodeURIComponent(dmPath.slice('/chat-room/'.length))]) {
    assert.equal(traffic.text().includes(secret), false, `eve's browser never received ${secret}`);
  }
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors, ...eve.pageErrors], []);
});

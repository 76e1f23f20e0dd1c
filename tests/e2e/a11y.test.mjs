// axe-core on every state of the app, in both themes and at phone width: no serious or critical
// violation (contrast, names, labels, roles) anywhere a person can get to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, createRoom, newPerson, openRoom, messageWithText, sendMessage, axeViolations, waitConnected,
} from './helpers.mjs';

const ctx = serverAndBrowser();

async function check(page, state) {
  const violations = await axeViolations(page);
  assert.deepEqual(violations, [], `axe: ${state}`);
}

for (const scheme of ['light', 'dark']) {
  test(`axe finds nothing serious in any page state (${scheme} theme)`, { timeout: 120000 }, async () => {
    const newcomer = await newPerson(ctx.browser, ctx.server);
    await newcomer.context.emulateMedia?.({ colorScheme: scheme });
    const welcome = await newcomer.newPage('/');
    await welcome.emulateMedia({ colorScheme: scheme });
    await welcome.getByTestId('view-welcome').waitFor();
    assert.equal(await welcome.evaluate(() => document.documentElement.dataset.theme), scheme);
    await check(welcome, 'welcome');
    await welcome.getByTestId('name-submit').click();
    await welcome.getByTestId('name-error').waitFor();
    await check(welcome, 'welcome with an error');

    const alice = await newPerson(ctx.browser, ctx.server, { name: `alice-${scheme}` });
    const bob = await newPerson(ctx.browser, ctx.server, { name: `bob-${scheme}` });
    const browse = await alice.newPage('/');
    await browse.emulateMedia({ colorScheme: scheme });
    await waitConnected(browse);
    await check(browse, 'room browser');

    const room = `a11y-${scheme}`;
    const a = await createRoom(alice, room);
    await a.emulateMedia({ colorScheme: scheme });
    const b = await openRoom(bob, room);
    await sendMessage(a, 'a message with a link https://example.com and @bob');
    await sendMessage(b, 'an answer');
    await messageWithText(a, 'an answer').waitFor();
    await check(a, 'room with messages');

    await messageWithText(a, 'a message with a link https://example.com and @bob').hover();
    await check(a, 'message menu shown');
    const mine = messageWithText(a, 'a message with a link https://example.com and @bob');
    await mine.getByTestId('edit-button').click();
    await check(a, 'editing a message');
    await mine.getByTestId('edit-input').press('Escape');
    await mine.getByTestId('delete-button').click();
    await check(a, 'confirming a delete');
    await mine.getByTestId('cancel-delete').click();

    await a.getByTestId('settings-button').click();
    await a.getByTestId('settings-dialog').waitFor();
    await check(a, 'settings dialog');
    await a.getByTestId('settings-close').click();

    const missing = await alice.newPage('/chat-room/nowhere');
    await missing.emulateMedia({ colorScheme: scheme });
    await missing.getByTestId('view-missing').waitFor();
    await check(missing, 'room that does not exist');

    await a.setViewportSize({ width: 360, height: 740 });
    await check(a, 'phone width');
    await a.getByTestId('open-sidebar').click();
    await a.getByTestId('sidebar').waitFor();
    await check(a, 'phone width, room list open');

    await alice.context.setOffline(true);
    await ctx.server.restart({ signal: 'SIGKILL' });
    await a.getByTestId('close-sidebar').click();
    await a.locator('[data-testid="connection-state"][data-state="offline"]').waitFor();
    await sendMessage(a, 'written offline');
    await a.getByTestId('pending-message').waitFor();
    await check(a, 'offline with a queued message');
    await alice.context.setOffline(false);
    await waitConnected(a, 20000);
    assert.deepEqual([...alice.pageErrors, ...bob.pageErrors, ...newcomer.pageErrors], []);
  });
}

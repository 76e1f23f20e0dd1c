// Two people chat in one room through the UI; one of them leaves. Also writes the screenshots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  Server,
  launchBrowser,
  newPerson,
  eventually,
  messageWithText,
  messageContaining,
  systemLines,
  memberNames,
  waitConnected,
  sendMessage,
  shownMessages,
  screenshotDir,
  myUserId,
} from './helpers.mjs';

let server;
let browser;
let alice;
let bob;
let alicePage;
let bobPage;
let lobbyPage;

before(async () => {
  server = await Server.start();
  browser = await launchBrowser();
  alice = await newPerson(browser, server);
  bob = await newPerson(browser, server);
});

after(async () => {
  await browser?.close();
  await server?.dispose();
});

test('two people chat live: lobby, join notices, member lists, messages', { timeout: 90000 }, async () => {
  // Alice has no session yet: the lobby creates one from the form and creates the room.
  alicePage = await alice.newPage('/');
  await alicePage.getByTestId('rooms-status').filter({ hasText: 'display name' }).waitFor();
  await alicePage.getByLabel('Display name', { exact: true }).fill('alice');
  await alicePage.getByLabel('Room', { exact: true }).fill('general');
  await alicePage.getByRole('button', { name: 'Join or create' }).click();
  await alicePage.waitForURL('**/chat-room/general');
  await waitConnected(alicePage);
  await eventually(async () => assert.deepEqual(await memberNames(alicePage).allTextContents(), ['alice']));
  assert.equal(await alicePage.evaluate(() => localStorage.getItem('confab.displayName')), 'alice');

  // Bob picks a name (Enter with no room), sees the room in the lobby list with Alice in it, and clicks it.
  bobPage = await bob.newPage('/');
  await bobPage.getByLabel('Display name', { exact: true }).fill('bob');
  await bobPage.getByLabel('Display name', { exact: true }).press('Enter');
  const listed = bobPage.locator('[data-testid="room-item"][data-room="general"]');
  await listed.waitFor();
  await eventually(async () =>
    assert.equal(await listed.getByTestId('room-members').getAttribute('data-count'), '1'),
  );
  await listed.getByRole('link').click();
  await bobPage.waitForURL('**/chat-room/general');
  await waitConnected(bobPage);
  await bobPage.getByTestId('composer').waitFor();

  // Each sees the other's join notice and both names in the member list.
  await systemLines(alicePage, 'bob joined').waitFor();
  await systemLines(bobPage, 'alice joined').waitFor();
  await eventually(async () => {
    assert.deepEqual((await memberNames(alicePage).allTextContents()).sort(), ['alice', 'bob']);
    assert.deepEqual((await memberNames(bobPage).allTextContents()).sort(), ['alice', 'bob']);
  });
  assert.equal(await alicePage.getByTestId('member-count').textContent(), '2');

  // Messages go both ways, live, exactly once; Shift+Enter makes a newline.
  await sendMessage(alicePage, 'hi bob, welcome to #general');
  await messageWithText(bobPage, 'hi bob, welcome to #general').waitFor();
  const fromAlice = messageWithText(bobPage, 'hi bob, welcome to #general');
  assert.equal(await fromAlice.getByTestId('message-author').textContent(), 'alice');
  assert.equal(await fromAlice.getAttribute('data-author-id'), await myUserId(alicePage));

  const composer = bobPage.getByTestId('composer');
  await composer.fill('hello alice!');
  await composer.press('Shift+Enter');
  await composer.pressSequentially('second line');
  assert.equal(await messageContaining(alicePage, 'second line').count(), 0, 'Shift+Enter must not send');
  await composer.press('Enter');
  const multi = messageContaining(alicePage, 'second line');
  await multi.waitFor();
  assert.equal(await multi.getByTestId('message-text').textContent(), 'hello alice!\nsecond line');

  await sendMessage(alicePage, 'how are you?');
  await sendMessage(bobPage, 'great, thanks. the new server is fast');
  await messageContaining(alicePage, 'the new server is fast').waitFor();
  await messageWithText(bobPage, 'how are you?').waitFor();

  for (const page of [alicePage, bobPage]) {
    await eventually(async () => {
      assert.equal(await page.getByTestId('pending-message').count(), 0, 'nothing left in the outbox');
      const shown = await shownMessages(page);
      const seqs = shown.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'items are in seq order');
      assert.equal(new Set(seqs).size, seqs.length, 'no seq shown twice');
      const texts = shown.filter((m) => m.kind === 'message').map((m) => m.text);
      assert.deepEqual(texts, [
        'hi bob, welcome to #general',
        'hello alice!\nsecond line',
        'how are you?',
        'great, thanks. the new server is fast',
      ]);
    });
  }

  // Screenshots for the docs: the room with two people, and the lobby.
  mkdirSync(screenshotDir, { recursive: true });
  await alicePage.screenshot({ path: path.join(screenshotDir, 'room.png') });
  lobbyPage = await alice.newPage('/');
  const general = lobbyPage.locator('[data-testid="room-item"][data-room="general"]');
  await general.waitFor();
  await eventually(async () =>
    assert.equal(await general.getByTestId('room-members').getAttribute('data-count'), '2'),
  );
  await lobbyPage.screenshot({ path: path.join(screenshotDir, 'lobby.png') });

  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

test('a person who closes the page leaves: notice, member list, lobby count', { timeout: 60000 }, async () => {
  assert.ok(bobPage && alicePage && lobbyPage, 'needs the previous test');
  await bobPage.close();
  // Leave grace is 300 ms; allow for scheduling.
  await systemLines(alicePage, 'bob left').waitFor({ timeout: 5000 });
  await eventually(async () => assert.deepEqual(await memberNames(alicePage).allTextContents(), ['alice']), {
    timeout: 5000,
  });
  assert.equal(await alicePage.getByTestId('member-count').textContent(), '1');
  // The lobby (subscribed with `rooms`) follows through room_update events.
  const general = lobbyPage.locator('[data-testid="room-item"][data-room="general"]');
  await eventually(async () =>
    assert.equal(await general.getByTestId('room-members').getAttribute('data-count'), '1'),
  );
  assert.deepEqual(alice.pageErrors, []);
});

test('the Leave button leaves at once and goes back to the lobby', { timeout: 60000 }, async () => {
  assert.ok(alicePage, 'needs the first test');
  const bobAgain = await bob.newPage('/chat-room/general');
  await bobAgain.getByTestId('composer').waitFor();
  await eventually(async () =>
    assert.deepEqual((await memberNames(bobAgain).allTextContents()).sort(), ['alice', 'bob']),
  );
  await alicePage.getByRole('button', { name: 'Leave' }).click();
  await alicePage.waitForURL((url) => url.pathname === '/');
  await systemLines(bobAgain, 'alice left').waitFor();
  await eventually(async () => assert.deepEqual(await memberNames(bobAgain).allTextContents(), ['bob']));
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

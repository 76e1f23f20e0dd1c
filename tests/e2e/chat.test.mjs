// Two people chat in one room through the UI, starting from nothing: the welcome page, the room browser,
// join notices, member lists, live messages exactly once and in order; then one leaves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server, launchBrowser, newPerson, eventually, messageWithText, messageContaining, systemLines, memberNames,
  waitConnected, sendMessage, shownMessages, myUserId,
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

/** The room browser's entry for `room`. */
const listed = (page, room) => page.locator(`[data-testid="directory-item"][data-room="${room}"]`);

test('two people chat live: welcome, room browser, join notices, member lists, messages', { timeout: 90000 }, async () => {
  // Alice has no session: the app asks for a name, then shows the room browser, where she creates a room.
  alicePage = await alice.newPage('/');
  await alicePage.getByTestId('view-welcome').waitFor();
  await alicePage.getByLabel('Display name', { exact: true }).fill('alice');
  await alicePage.getByLabel('Display name', { exact: true }).press('Enter');
  await alicePage.getByTestId('view-browse').waitFor();
  await waitConnected(alicePage);
  await alicePage.getByLabel('Create a room').fill('general');
  await alicePage.getByRole('button', { name: 'Create' }).click();
  await alicePage.waitForURL('**/chat-room/general');
  await alicePage.getByTestId('composer').waitFor();
  await eventually(async () => assert.deepEqual(await memberNames(alicePage).allTextContents(), ['alice']));
  assert.equal(await alicePage.evaluate(() => JSON.parse(localStorage.getItem('confab.displayName'))), 'alice');
  // The room is in her sidebar, marked as the open one.
  const mine = alicePage.locator('[data-testid="room-item"][data-room="general"] a');
  assert.equal(await mine.getAttribute('aria-current'), 'page');

  // Bob picks a name, sees the room in the browser with Alice in it, and opens it.
  bobPage = await bob.newPage('/');
  await bobPage.getByLabel('Display name', { exact: true }).fill('bob');
  await bobPage.getByTestId('name-submit').click();
  await listed(bobPage, 'general').waitFor();
  await eventually(async () =>
    assert.equal(await listed(bobPage, 'general').getByTestId('room-members').getAttribute('data-count'), '1'));
  await listed(bobPage, 'general').getByRole('link').click();
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
  const fromAlice = messageWithText(bobPage, 'hi bob, welcome to #general');
  await fromAlice.waitFor();
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
  await sendMessage(alicePage, 'grouped under one header');
  await sendMessage(bobPage, 'great, thanks. the new server is fast');
  await messageContaining(alicePage, 'the new server is fast').waitFor();
  await messageWithText(bobPage, 'grouped under one header').waitFor();

  for (const page of [alicePage, bobPage]) {
    await eventually(async () => {
      assert.equal(await page.getByTestId('pending-message').count(), 0, 'nothing left in the outbox');
      const shown = await shownMessages(page);
      const seqs = shown.map((m) => m.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'items are in seq order');
      assert.equal(new Set(seqs).size, seqs.length, 'no seq shown twice');
      assert.deepEqual(shown.filter((m) => m.kind === 'message').map((m) => m.text), [
        'hi bob, welcome to #general', 'hello alice!\nsecond line', 'how are you?', 'grouped under one header',
        'great, thanks. the new server is fast',
      ]);
    });
  }
  // Grouping: Alice's two messages in a row share one header; a day divider heads the day.
  const second = messageWithText(bobPage, 'grouped under one header');
  assert.match(await second.getAttribute('class'), /continued/);
  assert.doesNotMatch(await messageWithText(bobPage, 'how are you?').getAttribute('class'), /continued/);
  assert.equal(await bobPage.getByTestId('day-divider').first().textContent(), 'Today');
  // Absolute time on hover, relative time beside the name.
  const time = fromAlice.getByTestId('message-time');
  assert.match(await time.getAttribute('title'), /\d{4}/);
  assert.equal(await fromAlice.locator('.rel').textContent(), 'just now');
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

test('a person who closes the page leaves: notice, member list, room browser count', { timeout: 60000 }, async () => {
  assert.ok(bobPage && alicePage, 'needs the previous test');
  lobbyPage = await alice.newPage('/');
  const general = listed(lobbyPage, 'general');
  await eventually(async () => assert.equal(await general.getByTestId('room-members').getAttribute('data-count'), '2'));
  await bobPage.close();
  await systemLines(alicePage, 'bob left').waitFor({ timeout: 5000 });
  await eventually(async () => assert.deepEqual(await memberNames(alicePage).allTextContents(), ['alice']), { timeout: 5000 });
  assert.equal(await alicePage.getByTestId('member-count').textContent(), '1');
  // The room browser (subscribed with `rooms`) follows through room_update events.
  await eventually(async () => assert.equal(await general.getByTestId('room-members').getAttribute('data-count'), '1'));
  await lobbyPage.close();
  assert.deepEqual(alice.pageErrors, []);
});

test('the Leave button leaves at once, drops the room from the sidebar and shows the room browser', { timeout: 60000 }, async () => {
  assert.ok(alicePage, 'needs the first test');
  const bobAgain = await bob.newPage('/chat-room/general');
  await bobAgain.getByTestId('composer').waitFor();
  await eventually(async () => assert.deepEqual((await memberNames(bobAgain).allTextContents()).sort(), ['alice', 'bob']));
  await alicePage.getByRole('button', { name: 'Leave' }).click();
  await alicePage.waitForURL((url) => url.pathname === '/');
  await alicePage.getByTestId('view-browse').waitFor();
  await systemLines(bobAgain, 'alice left').waitFor();
  await eventually(async () => assert.deepEqual(await memberNames(bobAgain).allTextContents(), ['bob']));
  assert.equal(await alicePage.locator('[data-testid="room-item"][data-room="general"]').count(), 0);
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

// The server restarts while a page is open: the page shows reconnecting, comes back, resumes from the last
// seq it applied (missed messages, edits, deletes, joins and leaves appear exactly once), delivers what was
// typed while disconnected, and history survives the restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Server,
  serverAndBrowser,
  createRoom,
  newPerson,
  openRoom,
  eventually,
  messageWithText,
  systemLines,
  memberNames,
  sendMessage,
  shownMessages,
  waitConnected,
  myUserId,
  sleep,
  rawConnect,
  rawRequest,
  rawSend,
} from './helpers.mjs';

const ctx = serverAndBrowser();

const state = (page) => page.getByTestId('connection-state').getAttribute('data-state');

test('reconnect after a ctx.server restart resumes without gaps or duplicates', { timeout: 120000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const bob = await newPerson(ctx.browser, ctx.server, { name: 'bob' });
  const dave = await newPerson(ctx.browser, ctx.server, { name: 'dave' });

  const a = await createRoom(alice, 'resume');
  await waitConnected(a);
  const b = await openRoom(bob, 'resume');

  await sendMessage(a, 'before restart');
  await sendMessage(b, 'bob before restart');
  await messageWithText(a, 'bob before restart').waitFor();
  await messageWithText(b, 'before restart').waitFor();
  const aliceId = await myUserId(a);
  const bobMsgId = await messageWithText(b, 'bob before restart').getAttribute('data-message-id');

  // Keep Alice's ctx.browser from reconnecting until we let it (new connections fail while offline), so that
  // what happens next is really missed by her page and must come back through `join` with `since`.
  await alice.context.setOffline(true);
  await ctx.server.restart({ signal: 'SIGKILL' });

  // The browser reports no network: the page says offline and makes no attempts.
  await eventually(async () => assert.equal(await state(a), 'offline'));
  // Typed while disconnected: queued, shown as pending.
  await sendMessage(a, 'typed while offline');
  const pending = a.getByTestId('pending-message').filter({ hasText: 'typed while offline' });
  await pending.waitFor();
  assert.equal(await pending.getAttribute('data-status'), 'queued');

  // Bob's page reconnects by itself; meanwhile he writes, edits and deletes; Dave comes and goes.
  await waitConnected(b, 20000);
  await sendMessage(b, 'missed 1');
  await sendMessage(b, 'missed 2');
  await sendMessage(b, 'missed 3');
  await messageWithText(b, 'missed 3').waitFor();
  await eventually(async () => assert.equal(await b.getByTestId('pending-message').count(), 0));

  const bobOld = b.locator(`[data-testid="message"][data-message-id="${bobMsgId}"]`);
  await bobOld.getByTestId('edit-button').click();
  await bobOld.getByTestId('edit-input').fill('bob edited while alice was away');
  await bobOld.getByTestId('edit-input').press('Enter');
  await eventually(async () =>
    assert.equal(await bobOld.getByTestId('message-text').textContent(), 'bob edited while alice was away'),
  );
  const missed2 = messageWithText(b, 'missed 2');
  const missed2Id = await missed2.getAttribute('data-message-id');
  await missed2.getByTestId('delete-button').click();
  await missed2.getByTestId('confirm-delete').click();
  await eventually(async () =>
    assert.equal(
      await b.locator(`[data-message-id="${missed2Id}"]`).getAttribute('data-deleted'),
      'true',
    ),
  );

  const d = await openRoom(dave, 'resume');
  await systemLines(b, 'dave joined').waitFor();
  await d.close();
  await systemLines(b, 'dave left').waitFor({ timeout: 5000 });

  // Alice really missed all of it so far.
  assert.equal(await state(a), 'offline');
  assert.equal(await messageWithText(a, 'missed 1').count(), 0);

  // Back online: reconnected, everything missed shown once, the queued message delivered once.
  await alice.context.setOffline(false);
  await waitConnected(a, 20000);
  await messageWithText(a, 'missed 3').waitFor();
  await eventually(async () => {
    assert.equal(await messageWithText(a, 'missed 1').count(), 1);
    assert.equal(await messageWithText(a, 'missed 3').count(), 1);
    assert.equal(await messageWithText(a, 'missed 2').count(), 0, 'deleted while away');
    assert.equal(await a.locator(`[data-message-id="${missed2Id}"]`).count(), 1);
    const old = a.locator(`[data-testid="message"][data-message-id="${bobMsgId}"]`);
    assert.equal(await old.getByTestId('message-text').textContent(), 'bob edited while alice was away');
    assert.ok(await old.getByTestId('edited-mark').isVisible());
    assert.equal(await systemLines(a, 'dave joined').count(), 1);
    assert.equal(await systemLines(a, 'dave left').count(), 1);
    assert.deepEqual((await memberNames(a).allTextContents()).sort(), ['alice', 'bob']);
  });

  await eventually(async () => {
    assert.equal(await a.getByTestId('pending-message').count(), 0, 'outbox drained');
    assert.equal(await messageWithText(a, 'typed while offline').count(), 1);
    assert.equal(await messageWithText(b, 'typed while offline').count(), 1);
  });
  const delivered = messageWithText(b, 'typed while offline');
  assert.equal(await delivered.getAttribute('data-author-id'), aliceId);

  const shown = await shownMessages(a);
  const seqs = shown.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in seq order');
  assert.equal(new Set(seqs).size, seqs.length, 'no event shown twice');
  // Both pages applied the same events up to the same seq.
  await eventually(async () => {
    const lastA = Number(await a.getByTestId('message-list').getAttribute('data-last-seq'));
    const lastB = Number(await b.getByTestId('message-list').getAttribute('data-last-seq'));
    assert.ok(lastA >= Math.max(...seqs), `data-last-seq ${lastA} covers what is shown`);
    assert.equal(lastA, lastB);
  });

  // The guest session survived the restart: Alice is still Alice and still owns her messages.
  assert.equal(await myUserId(a), aliceId, 'guest session should survive a ctx.server restart');
  assert.equal(await messageWithText(a, 'before restart').first().getByTestId('edit-button').count(), 1);

  // Live traffic still flows both ways after the resume.
  await sendMessage(b, 'after resume');
  await messageWithText(a, 'after resume').waitFor();

  // History persisted across the restart: a reload shows the old and the new.
  await a.reload();
  await a.getByTestId('composer').waitFor();
  for (const text of ['before restart', 'bob edited while alice was away', 'missed 1', 'missed 3', 'typed while offline', 'after resume']) {
    await messageWithText(a, text).waitFor();
    assert.equal(await messageWithText(a, text).count(), 1, text);
  }
  assert.equal(await messageWithText(a, 'missed 2').count(), 0);

  await sleep(100);
  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors, ...dave.pageErrors], []);
});

test('a graceful shutdown (going_away) also reconnects and resumes', { timeout: 60000 }, async () => {
  const erin = await newPerson(ctx.browser, ctx.server, { name: 'erin' });
  const e = await openRoom(erin, 'resume');
  await sendMessage(e, 'erin before graceful restart');
  await messageWithText(e, 'erin before graceful restart').waitFor();
  const seen = [];
  const poll = setInterval(() => state(e).then((s) => seen.push(s)).catch(() => {}), 25);
  try {
    await ctx.server.stop('SIGTERM');
    await eventually(async () => assert.notEqual(await state(e), 'live'));
    // While the server is down the page counts down to its next attempt.
    await eventually(async () => assert.match(await e.getByTestId('connection-text').textContent(), /^Reconnecting in \d+ s$/));
    assert.ok(await e.getByTestId('retry-now').isVisible());
    await ctx.server.startAgain();
    await waitConnected(e, 20000);
  } finally {
    clearInterval(poll);
  }
  assert.ok(seen.includes('reconnecting'), `states seen: ${[...new Set(seen)]}`);
  assert.equal(await messageWithText(e, 'erin before graceful restart').count(), 1);
  await sendMessage(e, 'erin after graceful restart');
  await eventually(async () => assert.equal(await messageWithText(e, 'erin after graceful restart').count(), 1));
  await eventually(async () => assert.equal(await e.getByTestId('pending-message').count(), 0));
  assert.deepEqual(erin.pageErrors, []);
});

test('more missed than max_replay (complete: false): everything missed still shows, once', { timeout: 90000 }, async () => {
  const small = await Server.start({ extraArgs: ['--max-replay', '5'] });
  try {
    const gina = await newPerson(ctx.browser, small, { name: 'gina' });
    const hank = await newPerson(ctx.browser, small, { name: 'hank' });
    const g = await createRoom(gina, 'busy');
    await sendMessage(g, 'gina was here');
    await messageWithText(g, 'gina was here').waitFor();

    const raw = await hank.newPage('/healthz');
    await rawConnect(raw);
    assert.equal((await rawRequest(raw, 'join', { room: 'busy' })).type, 'ack');

    // Gina's page loses its connection (we close it from the page's side by going offline and restarting
    // the ctx.server) and misses 30 messages: more than --max-replay 5.
    await gina.context.setOffline(true);
    await small.restart({ signal: 'SIGKILL' });
    await eventually(async () => assert.equal(await state(g), 'offline'));
    await rawConnect(raw); // the old raw socket died with the ctx.server
    assert.equal((await rawRequest(raw, 'join', { room: 'busy' })).type, 'ack');
    for (let i = 1; i <= 30; i++) await rawSend(raw, 'busy', `burst ${String(i).padStart(2, '0')}`);

    await gina.context.setOffline(false);
    await waitConnected(g, 20000);
    await messageWithText(g, 'burst 30').waitFor();
    await eventually(async () => {
      const texts = (await shownMessages(g)).filter((m) => m.kind === 'message').map((m) => m.text);
      assert.deepEqual(texts, [
        'gina was here',
        ...Array.from({ length: 30 }, (_, i) => `burst ${String(i + 1).padStart(2, '0')}`),
      ]);
    });
    const seqs = (await shownMessages(g)).map((m) => m.seq);
    assert.equal(new Set(seqs).size, seqs.length);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));

    // Live again afterwards.
    await rawSend(raw, 'busy', 'live after the jump');
    await messageWithText(g, 'live after the jump').waitFor();
    assert.deepEqual([...gina.pageErrors, ...hank.pageErrors], []);
  } finally {
    await small.dispose();
  }
});

// An idle guest session expires (--guest-idle-days) while the browser is away: on the next visit the page
// gets 401 from /api/me, starts a new guest session with the remembered name by itself, and the old
// messages still show their author. Time is moved by editing `last_seen` in the stopped server's database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  serverAndBrowser,
  createRoom,
  newPerson,
  messageWithText,
  sendMessage,
  waitConnected,
  myUserId,
  sleep,
} from './helpers.mjs';

const ctx = serverAndBrowser({ extraArgs: ['--guest-idle-days', '30', '--guest-sweep-interval-ms', '200'] });

/** Sets the actor's last_seen to `days` days ago (python3's sqlite3; the server is stopped). */
function seenDaysAgo(dataDir, id, days) {
  const script = `import sqlite3,sys,time
db = sqlite3.connect(sys.argv[1])
at = int(time.time() * 1000) - int(sys.argv[3]) * 86400000
n = db.execute("UPDATE actors SET last_seen = ?, created_at = MIN(created_at, ?) WHERE id = ?", (at, at, sys.argv[2])).rowcount
db.commit()
assert n == 1, n`;
  execFileSync('python3', ['-c', script, path.join(dataDir, 'confab.db'), id, String(days)]);
}

test('an expired guest session is replaced by a new one with the same name; old messages keep their author', { timeout: 60000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const page = await createRoom(alice, 'expiry');
  await waitConnected(page);
  await sendMessage(page, 'written before the expiry');
  await messageWithText(page, 'written before the expiry').waitFor();
  const oldId = await myUserId(page);
  assert.ok(oldId);

  // The browser is away: its page is closed (an open page would reconnect to the restarted server
  // at once, and a session in use is seen, so it would not expire).
  const url = page.url();
  await page.close();
  await ctx.server.stop('SIGTERM');
  seenDaysAgo(ctx.server.dataDir, oldId, 40);
  await ctx.server.startAgain();
  await sleep(600); // the first sweep runs at start-up

  const gone = await alice.context.request.get('/api/me');
  assert.equal(gone.status(), 401, 'the old session no longer works');
  const back = await alice.context.newPage();
  await back.goto(url);
  await waitConnected(back);
  const newId = await myUserId(back);
  assert.ok(newId && newId !== oldId, `a new guest session (${newId}), not the expired one (${oldId})`);
  const old = messageWithText(back, 'written before the expiry');
  await old.waitFor();
  await sendMessage(back, 'written after the expiry');
  await messageWithText(back, 'written after the expiry').waitFor();
  assert.equal(await old.getAttribute('data-author-id'), oldId, 'the old message keeps its author');
  assert.equal(await old.getByTestId('message-author').textContent(), 'alice');
  assert.equal(await messageWithText(back, 'written after the expiry').getAttribute('data-author-id'), newId);
  assert.deepEqual(alice.pageErrors, []);
});

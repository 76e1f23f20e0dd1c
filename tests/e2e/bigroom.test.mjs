// A room with 100,000 messages: the page opens on the latest, keeps only a window of messages in the DOM
// while the reader scrolls back through the history, and jumps back to the latest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, newPerson, openRoom, messageWithText, eventually } from './helpers.mjs';

const TOTAL = Number(process.env.BIGROOM_MESSAGES || 100000);
const ctx = serverAndBrowser({ extraArgs: ['--requests-per-second', '0', '--outbound-queue', '200000'] });

/** Fills `room` through the native protocol from inside `page` (its cookie and origin), pipelined. */
async function fill(page, room, total) {
  return page.evaluate(async ([room, total]) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    let acks = 0;
    let errors = 0;
    let waiting = null;
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.type === 'ack' && String(m.id).startsWith('s')) acks += 1;
      else if (m.type === 'error') errors += 1;
      if (waiting && acks + errors >= waiting.n) waiting.resolve();
    };
    ws.send(JSON.stringify({ type: 'join', id: 'j', room, create: true }));
    const started = performance.now();
    const batch = 1000;
    for (let sent = 0; sent < total; sent += batch) {
      const n = Math.min(batch, total - sent);
      for (let i = 0; i < n; i++) {
        const k = sent + i + 1;
        ws.send(JSON.stringify({ type: 'send', id: `s${k}`, room, text: `message ${k}` }));
      }
      await new Promise((resolve) => { waiting = { n: sent + n, resolve }; if (acks + errors >= sent + n) resolve(); });
    }
    ws.close();
    return { acks, errors, ms: Math.round(performance.now() - started) };
  }, [room, total]);
}

const domCount = (page) => page.locator('[data-testid="message-list"] > li[data-seq]').count();
const range = (page) => page.getByTestId('message-list').evaluate((l) => ({ low: Number(l.dataset.low), high: Number(l.dataset.high) }));

test(`a room of ${TOTAL} messages scrolls with only a window of them in the DOM`, { timeout: 300000 }, async (t) => {
  const filler = await newPerson(ctx.browser, ctx.server, { name: 'filler' });
  const raw = await filler.newPage('/healthz');
  const filled = await fill(raw, 'huge', TOTAL);
  assert.deepEqual([filled.acks, filled.errors], [TOTAL, 0], JSON.stringify(filled));
  t.diagnostic(`filled ${TOTAL} messages in ${filled.ms} ms (debug build, one pipelined connection)`);
  await raw.close();

  const reader = await newPerson(ctx.browser, ctx.server, { name: 'reader' });
  const t0 = Date.now();
  const page = await openRoom(reader, 'huge');
  await messageWithText(page, `message ${TOTAL}`).waitFor();
  t.diagnostic(`opened on the latest message in ${Date.now() - t0} ms`);
  assert.ok(await domCount(page) <= 160, 'opens with one page or so');

  // Scroll back like a reader: each time the top is reached, an older page loads above.
  const scroller = page.getByTestId('message-scroller');
  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (window.__frames.length < 100000) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const pages = 40;
  const started = Date.now();
  let previous = await range(page);
  let maxDom = 0;
  for (let i = 0; i < pages; i++) {
    await scroller.evaluate((s) => s.scrollBy(0, -s.scrollTop - 1));
    await eventually(async () => assert.ok((await range(page)).low < previous.low, 'an older page loaded'), { timeout: 5000, interval: 20 });
    previous = await range(page);
    maxDom = Math.max(maxDom, await domCount(page));
  }
  const perPage = (Date.now() - started) / pages;
  const frames = await page.evaluate(() => window.__frames.slice(1));
  const longFrames = frames.filter((f) => f > 50).length;
  t.diagnostic(`${pages} older pages: ${perPage.toFixed(0)} ms each; DOM at most ${maxDom} rows; ` +
    `${frames.length} frames, ${longFrames} longer than 50 ms, longest ${Math.max(...frames).toFixed(0)} ms`);
  assert.ok(maxDom <= 160, `the DOM holds a window, not the history (${maxDom} rows)`);
  assert.ok(previous.low < TOTAL - 1500, `scrolled back through ${TOTAL - previous.low} events`);
  assert.ok(previous.high < TOTAL, 'the newest messages were dropped from the DOM');
  assert.equal(await messageWithText(page, `message ${TOTAL}`).count(), 0);
  const seqs = await page.locator('[data-testid="message-list"] > li[data-seq]').evaluateAll((l) => l.map((n) => Number(n.dataset.seq)));
  assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), 'the window is contiguous: no gap, no repeat');

  // Scrolling down again brings newer pages back below.
  await scroller.evaluate((s) => { s.scrollTop = s.scrollHeight; });
  await eventually(async () => assert.ok((await range(page)).high > previous.high), { timeout: 5000 });

  // Jump to latest: straight back to the newest message, still a window.
  await page.getByTestId('jump-latest').click();
  await messageWithText(page, `message ${TOTAL}`).waitFor();
  assert.ok(await domCount(page) <= 160);
  await eventually(async () => assert.ok(await page.getByTestId('jump-latest').isHidden()));
  assert.deepEqual(reader.pageErrors, []);
});

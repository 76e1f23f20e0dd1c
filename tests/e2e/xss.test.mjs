// User text is rendered as text: markup in messages and display names never becomes HTML.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, createRoom, newPerson, openRoom, messageWithText, memberNames, systemLines, sendMessage, sleep, eventually } from './helpers.mjs';

const ctx = serverAndBrowser();

test('markup in messages and names shows as literal text; nothing runs', { timeout: 60000 }, async () => {
  const evilName = '<img src=x onerror=alert(2)>';
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const mallory = await newPerson(ctx.browser, ctx.server, { name: evilName });

  const a = await createRoom(alice, 'safe');
  const m = await openRoom(mallory, 'safe');

  const payloads = [
    '<img src=x onerror=alert(1)>',
    '<script>alert(3)</script>',
    '<b>bold?</b> &amp; <a href="javascript:alert(4)">link</a>',
    'https://example.com/"><img src=x onerror=alert(6)> and javascript:alert(7)',
  ];
  for (const text of payloads) await sendMessage(m, text);

  for (const text of payloads) {
    const shown = messageWithText(a, text);
    await shown.waitFor();
    assert.equal(await shown.getByTestId('message-text').textContent(), text);
    assert.equal(await shown.getByTestId('message-author').textContent(), evilName);
  }
  await eventually(async () => assert.ok((await memberNames(a).allTextContents()).includes(evilName)));
  await systemLines(a, `${evilName} joined`).waitFor();

  // The same text edited in: still text.
  const own = messageWithText(m, '<script>alert(3)</script>');
  await own.getByTestId('edit-button').click();
  await own.getByTestId('edit-input').fill('<svg onload=alert(5)>');
  await own.getByTestId('save-edit').click();
  await messageWithText(a, '<svg onload=alert(5)>').waitFor();

  await sleep(500); // give an onerror handler, had one been created, the time to fire
  for (const page of [a, m]) {
    assert.equal(await page.locator('[data-testid="message-list"] img').count(), 0);
    const injected = ':is([data-testid="message-list"], [data-testid="member-list"], [data-testid="my-rooms"]) :is(img, script, svg, b, iframe, a[href^="javascript"])';
    assert.equal(await page.locator(injected).count(), 0);
    // The one link is a real anchor that opens in a new tab without a handle on this page.
    const link = page.getByTestId('message-link');
    assert.equal(await link.count(), 1);
    assert.equal(await link.getAttribute('href'), 'https://example.com/');
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.match(await link.getAttribute('rel'), /noopener/);
  }
  // After a reload, from history: the same.
  await a.reload();
  await messageWithText(a, '<img src=x onerror=alert(1)>').waitFor();
  await sleep(300);
  assert.equal(await a.locator('[data-testid="message-list"] :is(img, svg)').count(), 0);

  assert.deepEqual([...alice.dialogs, ...mallory.dialogs], [], 'no dialog may open');
  assert.deepEqual([...alice.pageErrors, ...mallory.pageErrors], []);
});

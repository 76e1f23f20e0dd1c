// axe-core on the views accounts brought, in both themes: sign-in, register with an error, the two-factor
// step, the settings dialog of an account (with a new token and the two-factor setup open), the room settings
// of an owner (invite link and webhook shown), an invitation that cannot be used, a DM in the sidebar, and the
// sign-in page at phone width. No serious or critical violation; everything reachable by keyboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newPerson, newAccount, axeViolations, waitConnected, signInWithForm, totpFromUrl, showMembers,
} from './helpers.mjs';

const ctx = serverAndBrowser();

async function check(page, state) {
  assert.deepEqual(await axeViolations(page), [], `axe: ${state}`);
}

for (const scheme of ['light', 'dark']) {
  test(`axe finds nothing serious in the account, room settings and DM views (${scheme} theme)`, { timeout: 150000 }, async () => {
    const visitor = await newPerson(ctx.browser, ctx.server);
    const w = await visitor.newPage('/');
    await w.emulateMedia({ colorScheme: scheme });
    await w.getByTestId('view-welcome').waitFor();
    await w.getByTestId('show-signin').click();
    await check(w, 'sign-in');
    await signInWithForm(w, { username: 'nobody', password: 'wrong password' });
    await w.getByTestId('signin-error').waitFor();
    await check(w, 'sign-in with an error');
    await w.getByTestId('show-register').click();
    await w.getByTestId('register-username').fill(`x${scheme}`);
    await w.getByTestId('register-password').fill('1');
    await w.getByTestId('register-submit').click();
    await w.getByTestId('register-error').waitFor();
    await check(w, 'register with an error');

    const owner = await newAccount(ctx.browser, ctx.server, { username: `owner-${scheme}` });
    const friend = await newAccount(ctx.browser, ctx.server, { username: `friend-${scheme}` });
    const o = await owner.newPage('/');
    await o.emulateMedia({ colorScheme: scheme });
    await waitConnected(o);
    await check(o, 'room browser with the private option');
    await o.getByTestId('create-name').fill(`a11y-private-${scheme}`);
    await o.getByTestId('create-private').check();
    await o.getByTestId('create-submit').click();
    await o.getByTestId('composer').waitFor();

    await o.getByTestId('settings-button').click();
    await o.getByTestId('settings-dialog').waitFor();
    await o.getByTestId('session').first().waitFor();
    await check(o, 'account settings');
    await o.getByTestId('token-name').fill('bot');
    await o.getByTestId('token-create').click();
    await o.getByTestId('token-secret').waitFor();
    await o.getByTestId('two-factor-setup').click();
    const url = await o.getByTestId('two-factor-url').inputValue();
    await check(o, 'account settings: a new token and the two-factor setup');
    await o.getByTestId('two-factor-code').fill(totpFromUrl(url));
    await o.getByTestId('two-factor-enable').click();
    await o.getByTestId('recovery-codes').waitFor();
    await check(o, 'account settings: recovery codes');
    await o.getByTestId('settings-close').click();

    await o.getByTestId('room-settings-button').click();
    await o.getByTestId('room-member').first().waitFor();
    await o.getByTestId('create-invite').click();
    const invite = await o.getByTestId('invite-url').inputValue();
    await o.getByTestId('webhook-name').fill('ci');
    await o.getByTestId('webhook-create').click();
    await o.getByTestId('webhook-url').waitFor();
    await check(o, 'room settings of an owner');
    await o.getByTestId('room-dialog-close').click();

    const f = await friend.newPage(invite);
    await f.emulateMedia({ colorScheme: scheme });
    await f.getByTestId('composer').waitFor({ state: 'visible' });
    await showMembers(o);
    await o.locator('[data-testid="member"]', { hasText: `friend-${scheme}` }).getByTestId('member-dm').click();
    await o.locator('[data-testid="dm-item"]').waitFor();
    await check(o, 'a direct conversation');
    await f.locator('[data-testid="dm-item"]').waitFor();
    await check(f, 'a direct conversation in the sidebar');

    const bad = await friend.newPage('/invite/not-a-code');
    await bad.emulateMedia({ colorScheme: scheme });
    await bad.getByTestId('invite-error').waitFor();
    await check(bad, 'an invitation that cannot be used');

    // Two-factor step of sign-in, at phone width.
    const phone = await newPerson(ctx.browser, ctx.server, { viewport: { width: 360, height: 740 } });
    const p = await phone.newPage('/');
    await p.emulateMedia({ colorScheme: scheme });
    await signInWithForm(p, { username: `owner-${scheme}`, password: owner.password });
    await p.getByTestId('signin-code').waitFor();
    await check(p, 'two-factor step at phone width');
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth > innerWidth);
    assert.equal(overflow, false, 'no sideways scrolling at 360 px');
    assert.deepEqual([...visitor.pageErrors, ...owner.pageErrors, ...friend.pageErrors, ...phone.pageErrors], []);
  });
}

test('sign-in by keyboard alone: Tab order reaches every field, Enter submits', { timeout: 60000 }, async () => {
  const person = await newAccount(ctx.browser, ctx.server, { username: 'keys' });
  const fresh = await newPerson(ctx.browser, ctx.server);
  const page = await fresh.newPage('/');
  await page.getByTestId('view-welcome').waitFor();
  await page.getByTestId('show-signin').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('panel-signin').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'signin-username');
  await page.keyboard.type('keys');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'signin-password');
  await page.keyboard.type(person.password);
  await page.keyboard.press('Enter');
  await waitConnected(page);
});

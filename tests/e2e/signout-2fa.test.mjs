// Undoing what accounts.test.mjs sets up, in two browsers of one person: two-factor sign-in turned off again
// (a wrong password is refused, then the next sign-in in another browser asks for no code), and "Sign out
// everywhere" in one browser ending the other's session live, which then shows the sign-in page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newPerson, newAccount, signInWithForm, waitConnected, totpFromUrl, eventually, openSettings,
} from './helpers.mjs';

const ctx = serverAndBrowser();
const PASSWORD = 'correct horse battery staple';

const status = (page) => page.evaluate(async () => (await fetch('/api/me')).status);

test('two-factor turned on, then off: the next sign-in elsewhere needs no code', { timeout: 90000 }, async () => {
  const ada = await newAccount(ctx.browser, ctx.server, { username: 'ada', password: PASSWORD });
  const page = await ada.newPage('/');
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('two-factor-setup').click();
  const url = await page.getByTestId('two-factor-url').inputValue();
  await page.getByTestId('two-factor-code').fill(totpFromUrl(url));
  await page.getByTestId('two-factor-enable').click();
  await page.getByTestId('recovery-codes').waitFor();
  await page.getByTestId('two-factor-status').filter({ hasText: 'On' }).waitFor();

  // On: a second browser's sign-in stops at the code step.
  const other = await newPerson(ctx.browser, ctx.server);
  const second = await other.newPage('/');
  await signInWithForm(second, { username: 'ada', password: PASSWORD });
  await second.getByTestId('signin-code').waitFor();
  assert.equal(await status(second), 401);

  // Turning it off takes the password: a wrong one is refused and nothing changes.
  await page.getByTestId('two-factor-password').fill('not the password');
  await page.getByTestId('two-factor-disable').click();
  await page.getByTestId('two-factor-error').filter({ hasText: 'The password is not right.' }).waitFor();
  await page.getByTestId('two-factor-status').filter({ hasText: 'On' }).waitFor();
  await page.getByTestId('two-factor-password').fill(PASSWORD);
  await page.getByTestId('two-factor-disable').click();
  await page.getByTestId('two-factor-status').filter({ hasText: 'Off' }).waitFor();
  assert.equal(await page.getByTestId('two-factor-setup').isVisible(), true, 'it can be set up again');
  const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
  assert.equal(me.two_factor, false);
  // Still off after a reload: the server keeps it.
  await page.getByTestId('settings-close').click();
  await page.reload();
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('two-factor-status').filter({ hasText: 'Off' }).waitFor();

  // A fresh browser signs in with the password alone.
  const third = await newPerson(ctx.browser, ctx.server);
  const p3 = await third.newPage('/');
  await signInWithForm(p3, { username: 'ada', password: PASSWORD });
  await waitConnected(p3);
  assert.equal(await p3.getByTestId('signin-code').isVisible(), false);
  assert.equal(await status(p3), 200);
  assert.deepEqual([...ada.pageErrors, ...other.pageErrors, ...third.pageErrors], []);
});

test('sign out everywhere in one browser: the other, left alone, shows the sign-in page at once', { timeout: 60000 }, async () => {
  const laptop = await newAccount(ctx.browser, ctx.server, { username: 'grace', password: PASSWORD });
  const phone = await newPerson(ctx.browser, ctx.server, { viewport: { width: 360, height: 740 } });
  const p = await phone.newPage('/');
  await signInWithForm(p, { username: 'grace', password: PASSWORD });
  await waitConnected(p);

  const l = await laptop.newPage('/');
  await waitConnected(l);
  await openSettings(l);
  await eventually(async () => assert.equal(await l.getByTestId('session').count(), 2));
  await l.getByTestId('sign-out-everywhere').click();

  // Here: the sign-in page, saying what happened.
  await l.getByTestId('view-welcome').waitFor();
  await l.getByTestId('welcome-notice').filter({ hasText: 'You signed out on every device.' }).waitFor();
  assert.equal(await status(l), 401);
  // There, with nothing touched: the server closes the open connection (session_revoked) and the page goes
  // to the sign-in page, saying why.
  await p.getByTestId('view-welcome').waitFor({ timeout: 10000 });
  await p.getByTestId('welcome-notice').filter({ hasText: 'signed out' }).waitFor();
  assert.equal(await p.getByTestId('panel-signin').isVisible(), true);
  assert.equal(await status(p), 401);
  // Neither session comes back: signing in again is a new session, and only one.
  await signInWithForm(p, { username: 'grace', password: PASSWORD });
  await waitConnected(p);
  const sessions = await p.evaluate(async () => (await (await fetch('/api/account/sessions')).json()).sessions);
  assert.equal(sessions.length, 1);
  assert.deepEqual([...laptop.pageErrors, ...phone.pageErrors], []);
});

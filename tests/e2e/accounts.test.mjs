// Accounts in the browser, the way a person meets them: register, sign out and in, a wrong password, two-factor
// sign-in with a code computed here (RFC 6238), a session revoked from one browser signing the other out live,
// an API token shown once, and what the welcome view offers when the server refuses guests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser, newPerson, newAccount, signInWithForm, waitConnected, totpFromUrl, eventually, Server, sameOrigin,
  sleep, openSettings,
} from './helpers.mjs';

const ctx = serverAndBrowser();
const PASSWORD = 'correct horse battery staple';

test('register, sign out and sign in again through the pages', { timeout: 60000 }, async () => {
  const ada = await newPerson(ctx.browser, ctx.server);
  const page = await ada.newPage('/');
  await page.getByTestId('view-welcome').waitFor();
  // Guests are on by default: the name form is there, with the way to an account beside it.
  assert.equal(await page.getByTestId('name-form').isVisible(), true);
  await page.getByTestId('show-register').click();
  await page.getByTestId('register-username').fill('ada');
  await page.getByTestId('register-display').fill('Ada L.');
  await page.getByTestId('register-password').fill(PASSWORD);
  await page.getByTestId('register-submit').click();
  await waitConnected(page);
  assert.equal(await page.getByTestId('me').textContent(), 'Ada L.');
  const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
  assert.equal(me.kind, 'user');
  assert.equal(me.username, 'ada');

  await openSettings(page);
  await page.getByTestId('account-text').filter({ hasText: '@ada' }).waitFor();
  await page.getByTestId('sign-out').click();
  await page.getByTestId('view-welcome').waitFor();
  await page.getByTestId('welcome-notice').filter({ hasText: 'You signed out' }).waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
  // Signed out is signed out: a reload does not bring the session back, nor make a guest of the person.
  await page.reload();
  await page.getByTestId('view-welcome').waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);

  await signInWithForm(page, { username: 'ada', password: PASSWORD });
  await waitConnected(page);
  assert.equal(await page.getByTestId('me').textContent(), 'Ada L.');
  assert.deepEqual(ada.pageErrors, []);
});

test('a wrong password and an unknown account get the same message; the password is not kept', { timeout: 30000 }, async () => {
  await newAccount(ctx.browser, ctx.server, { username: 'grace', password: PASSWORD });
  const stranger = await newPerson(ctx.browser, ctx.server);
  const page = await stranger.newPage('/');
  await page.getByTestId('view-welcome').waitFor();
  await signInWithForm(page, { username: 'grace', password: 'not the password' });
  const error = page.getByTestId('signin-error');
  await error.filter({ hasText: 'Wrong username or password.' }).waitFor();
  await signInWithForm(page, { username: 'nobody-has-this-name', password: 'not the password' });
  await eventually(async () => assert.equal(await error.textContent(), 'Wrong username or password.'));
  assert.equal(await page.getByTestId('view-welcome').isVisible(), true);
  assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
  await signInWithForm(page, { username: 'grace', password: PASSWORD });
  await waitConnected(page);
});

test('two-factor: turned on in settings with a computed code, then asked for at sign-in', { timeout: 90000 }, async () => {
  const linus = await newAccount(ctx.browser, ctx.server, { username: 'linus', password: PASSWORD });
  const page = await linus.newPage('/');
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('two-factor-setup').click();
  const secret = await page.getByTestId('two-factor-secret').inputValue();
  const url = await page.getByTestId('two-factor-url').inputValue();
  assert.match(url, /^otpauth:\/\/totp\//);
  assert.equal(new URL(url).searchParams.get('secret'), secret, 'the key shown is the one in the link');
  // A wrong code is refused and nothing changes.
  await page.getByTestId('two-factor-code').fill('000000' === totpFromUrl(url) ? '111111' : '000000');
  await page.getByTestId('two-factor-enable').click();
  await page.getByTestId('two-factor-error').waitFor();
  const used = new Set();
  // The server accepts each 30 s step's code once: a later use waits for the next step's code.
  const nextCode = async () => {
    while (used.has(totpFromUrl(url))) await sleep(500);
    const code = totpFromUrl(url);
    used.add(code);
    return code;
  };
  await page.getByTestId('two-factor-code').fill(await nextCode());
  await page.getByTestId('two-factor-enable').click();
  await page.getByTestId('recovery-codes').waitFor();
  const codes = await page.getByTestId('recovery-code').allTextContents();
  assert.ok(codes.length >= 5, `recovery codes shown: ${codes.length}`);
  assert.equal(new Set(codes).size, codes.length, 'recovery codes differ');
  await page.getByTestId('two-factor-status').filter({ hasText: 'On' }).waitFor();

  // Shown once: the dialog opened again has no codes and no key.
  await page.getByTestId('settings-close').click();
  await page.reload();
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('two-factor-status').filter({ hasText: 'On' }).waitFor();
  assert.equal(await page.getByTestId('recovery-codes').count(), 0);
  assert.equal(await page.getByTestId('two-factor-secret').count(), 0);
  await page.getByTestId('sign-out').click();
  await page.getByTestId('view-welcome').waitFor();

  // Sign in: the password alone leads to the code step; a wrong code is refused; the right one signs in.
  await signInWithForm(page, { username: 'linus', password: PASSWORD });
  await page.getByTestId('signin-code').waitFor();
  assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
  await page.getByTestId('signin-code').fill(totpFromUrl(url) === '123456' ? '654321' : '123456');
  await page.getByTestId('signin-submit').click();
  await page.getByTestId('signin-error').filter({ hasText: /code/i }).waitFor();
  await page.getByTestId('signin-code').fill(await nextCode());
  await page.getByTestId('signin-submit').click();
  await waitConnected(page);

  // A recovery code works once in place of the app's code.
  const other = await newPerson(ctx.browser, ctx.server);
  const second = await other.newPage('/');
  await signInWithForm(second, { username: 'linus', password: PASSWORD });
  await second.getByTestId('signin-code').fill(codes[0]);
  await second.getByTestId('signin-submit').click();
  await waitConnected(second);
  assert.deepEqual([...linus.pageErrors, ...other.pageErrors], []);
});

test('a session revoked in one browser signs the other out at once, without a reload', { timeout: 60000 }, async () => {
  const laptop = await newAccount(ctx.browser, ctx.server, { username: 'margaret', password: PASSWORD });
  const phone = await newPerson(ctx.browser, ctx.server, { viewport: { width: 360, height: 740 } });
  const p = await phone.newPage('/');
  await signInWithForm(p, { username: 'margaret', password: PASSWORD });
  await waitConnected(p);
  await p.evaluate(() => { window.__samePage = true; });

  const l = await laptop.newPage('/');
  await waitConnected(l);
  await openSettings(l);
  const sessions = l.getByTestId('session');
  await eventually(async () => assert.equal(await sessions.count(), 2));
  assert.equal(await l.locator('[data-testid="session"][data-current="true"]').count(), 1);
  await l.locator('[data-testid="session"][data-current="false"]').getByTestId('revoke-session').click();
  await eventually(async () => assert.equal(await sessions.count(), 1));

  // The phone's open connection is closed by the server: the page shows the sign-in page and says why.
  await p.getByTestId('view-welcome').waitFor({ timeout: 10000 });
  await p.getByTestId('welcome-notice').filter({ hasText: 'signed out' }).waitFor();
  assert.equal(await p.getByTestId('panel-signin').isVisible(), true);
  assert.equal(await p.evaluate(async () => (await fetch('/api/me')).status), 401);
  // The laptop stays signed in.
  assert.equal(await l.evaluate(async () => (await fetch('/api/me')).status), 200);
  assert.deepEqual([...laptop.pageErrors, ...phone.pageErrors], []);
});

test('an API token: created in settings, shown once, works as a bearer token, revoked', { timeout: 60000 }, async () => {
  const bot = await newAccount(ctx.browser, ctx.server, { username: 'botowner', password: PASSWORD });
  const page = await bot.newPage('/');
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('token-name').fill('ci-bot');
  await page.getByTestId('token-create').click();
  const secret = await page.getByTestId('token-secret').inputValue();
  assert.ok(secret.length >= 20, 'a long secret');
  await page.locator('[data-testid="token"]', { hasText: 'ci-bot' }).waitFor();

  // The token acts as its owner on the HTTP API, with no cookie.
  const asBot = await fetch(`${ctx.server.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(asBot.status, 200);
  assert.equal((await asBot.json()).user.username, 'botowner');

  // Shown once: after a reload the list has the token's name and nowhere its secret.
  await page.getByTestId('settings-close').click();
  await page.reload();
  await waitConnected(page);
  await openSettings(page);
  await page.locator('[data-testid="token"]', { hasText: 'ci-bot' }).waitFor();
  assert.equal(await page.getByTestId('token-secret').count(), 0);
  assert.equal((await page.content()).includes(secret), false, 'the secret is not in the page');
  const listed = await page.evaluate(async () => (await fetch('/api/account/tokens')).text());
  assert.equal(listed.includes(secret), false, 'the secret is not in the token list');

  await page.locator('[data-testid="token"]', { hasText: 'ci-bot' }).getByTestId('revoke-token').click();
  await eventually(async () => assert.equal(await page.locator('[data-testid="token"]', { hasText: 'ci-bot' }).count(), 0));
  const after = await fetch(`${ctx.server.url}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(after.status, 401);
});

test('display name and password change from settings', { timeout: 60000 }, async () => {
  const person = await newAccount(ctx.browser, ctx.server, { username: 'barbara', password: PASSWORD });
  const page = await person.newPage('/');
  await waitConnected(page);
  await openSettings(page);
  await page.getByTestId('account-display-name').fill('Barbara L.');
  await page.getByTestId('display-name-save').click();
  await page.getByTestId('display-name-status').filter({ hasText: 'Saved' }).waitFor();
  await eventually(async () => assert.equal(await page.getByTestId('me').textContent(), 'Barbara L.'));

  await page.getByTestId('password-current').fill('wrong');
  await page.getByTestId('password-new').fill('an even longer passphrase');
  await page.getByTestId('password-save').click();
  await page.getByTestId('password-error').waitFor();
  await page.getByTestId('password-current').fill(PASSWORD);
  await page.getByTestId('password-save').click();
  await page.getByTestId('password-status').filter({ hasText: 'Password changed' }).waitFor();
  const login = (password) => fetch(`${ctx.server.url}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...sameOrigin(ctx.server) },
    body: JSON.stringify({ username: 'barbara', password }),
  });
  assert.equal((await login(PASSWORD)).status, 401);
  assert.equal((await login('an even longer passphrase')).status, 200);
});

test('with guests off the welcome view is the sign-in page only; by invitation it asks for the code', { timeout: 60000 }, async () => {
  const server = await Server.start({ extraArgs: ['--guests', 'off', '--registration', 'invite'] });
  try {
    const person = await newPerson(ctx.browser, server);
    const page = await person.newPage('/');
    await page.getByTestId('view-welcome').waitFor();
    assert.equal(await page.getByTestId('panel-signin').isVisible(), true);
    assert.equal(await page.getByTestId('name-form').isVisible(), false);
    assert.equal(await page.getByTestId('show-guest').isVisible(), false);
    // No guest session sneaks in: the page made none.
    assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
    const guest = await page.evaluate(async () => (await fetch('/api/guest', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }),
    })).json());
    assert.equal(guest.error.code, 'guests_not_allowed');

    await page.getByTestId('show-register').click();
    assert.equal(await page.getByTestId('register-invite').isVisible(), true);
    await page.getByTestId('register-username').fill('newcomer');
    await page.getByTestId('register-password').fill(PASSWORD);
    await page.getByTestId('register-invite').fill('not-a-real-code');
    await page.getByTestId('register-submit').click();
    await page.getByTestId('register-error').filter({ hasText: 'invitation' }).waitFor();

    const closed = await Server.start({ extraArgs: ['--guests', 'off', '--registration', 'closed'] });
    try {
      const p2 = await (await newPerson(ctx.browser, closed)).newPage('/');
      await p2.getByTestId('panel-signin').waitFor();
      assert.equal(await p2.getByTestId('show-register').isVisible(), false);
    } finally {
      await closed.dispose();
    }
  } finally {
    await server.dispose();
  }
});

test('a guest signs in from settings: the page starts over as the account, without the guest rooms', { timeout: 60000 }, async () => {
  await newAccount(ctx.browser, ctx.server, { username: 'katherine', password: PASSWORD });
  const guest = await newPerson(ctx.browser, ctx.server, { name: 'kat-as-guest' });
  const page = await guest.newPage('/chat-room/guest-corner');
  await page.getByTestId('create-missing').click();
  await page.getByTestId('composer').waitFor();
  await page.locator('[data-testid="room-item"]', { hasText: 'guest-corner' }).waitFor();
  await page.getByTestId('browse-rooms').click();
  await page.getByTestId('view-browse').waitFor();
  await openSettings(page);
  await page.getByTestId('account-text').filter({ hasText: 'guest' }).waitFor();
  await page.getByTestId('account-signin').click();
  await page.getByTestId('panel-signin').waitFor();
  await signInWithForm(page, { username: 'katherine', password: PASSWORD });
  await eventually(async () => {
    const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
    assert.equal(me.username, 'katherine');
  });
  await waitConnected(page);
  assert.equal(await page.getByTestId('me').textContent(), 'katherine');
  assert.equal(await page.locator('[data-testid="room-item"]', { hasText: 'guest-corner' }).count(), 0);
  assert.deepEqual(guest.pageErrors, []);
});

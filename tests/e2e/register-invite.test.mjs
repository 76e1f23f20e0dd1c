// Registration invites in the browser: the link `POST /api/admin/invites` answers (`/register?invite=CODE`)
// opens the register form with the code filled in, the newcomer registers and is signed in, and the same code
// a second time is refused with a message; on a server with open registration the link is the register form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, newPerson, waitConnected, Server, sameOrigin, axeViolations } from './helpers.mjs';

const ctx = serverAndBrowser();
const PASSWORD = 'correct horse battery staple';

/** An administrator made with `confab admin create-admin` on the running server, signed in over HTTP; returns
 * a function that makes a registration invite and resolves with the answer (`{code, url, expires_at}`). */
async function administrator(server, username) {
  const made = await server.admin(['create-admin', username], `${PASSWORD}\n`);
  assert.ok(made.ok, `confab admin create-admin: ${made.stdout} ${made.stderr}`);
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...sameOrigin(server) },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  assert.equal(login.status, 200, await login.clone().text());
  const { token } = await login.json();
  return async () => {
    const res = await fetch(`${server.url}/api/admin/invites`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...sameOrigin(server) }, body: '{}',
    });
    assert.equal(res.status, 201, await res.clone().text());
    return res.json();
  };
}

/** Registers through the form that the invite link opened (its code already filled in). */
async function registerFromLink(page, username) {
  await page.getByTestId('register-username').fill(username);
  await page.getByTestId('register-password').fill(PASSWORD);
  await page.getByTestId('register-submit').click();
}

test('--registration invite: the link fills the code, registers and signs in; used once, it is refused', { timeout: 90000 }, async () => {
  const server = await Server.start({ extraArgs: ['--registration', 'invite'] });
  try {
    const invite = await administrator(server, 'root');
    const { code, url } = await invite();
    assert.equal(url, `/register?invite=${code}`, 'the answer is the link');

    const newcomer = await newPerson(ctx.browser, server);
    const page = await newcomer.newPage(url);
    await page.getByTestId('panel-register').waitFor();
    assert.equal(await page.getByTestId('register-invite').isVisible(), true);
    assert.equal(await page.getByTestId('register-invite').inputValue(), code, 'the code is filled in');
    assert.equal(await page.getByTestId('name-form').isVisible(), false, 'the register form, not the guest name');
    await registerFromLink(page, 'newcomer');
    await waitConnected(page);
    const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
    assert.equal(me.username, 'newcomer');
    assert.equal(me.kind, 'user');
    assert.equal(await page.getByTestId('me').textContent(), 'newcomer');
    // The registration link served: the address is the room browser's.
    assert.equal(new URL(page.url()).pathname, '/');
    await page.getByTestId('view-browse').waitFor();

    // The same code again (one use): refused with a message, and nobody is signed in.
    const second = await newPerson(ctx.browser, server);
    const p2 = await second.newPage(url);
    await p2.getByTestId('panel-register').waitFor();
    assert.equal(await p2.getByTestId('register-invite').inputValue(), code);
    await registerFromLink(p2, 'latecomer');
    await p2.getByTestId('register-error').filter({ hasText: 'This invitation code is not valid, used up or expired.' }).waitFor();
    assert.equal(await p2.evaluate(async () => (await fetch('/api/me')).status), 401);
    assert.equal(await p2.getByTestId('view-welcome').isVisible(), true);
    assert.deepEqual(await axeViolations(p2), [], 'the register form from a link, with its error');

    // A fresh code from the administrator lets the same person in from the same form.
    const fresh = await invite();
    await p2.getByTestId('register-invite').fill(fresh.code);
    await p2.getByTestId('register-submit').click();
    await waitConnected(p2);
    assert.equal(await p2.getByTestId('me').textContent(), 'latecomer');
    assert.deepEqual([...newcomer.pageErrors, ...second.pageErrors], []);
  } finally {
    await server.dispose();
  }
});

test('open registration: the link is the register form (no code needed), even for a returning guest', { timeout: 60000 }, async () => {
  const invite = await administrator(ctx.server, 'admin');
  const { url } = await invite();
  const res = await fetch(`${ctx.server.url}${url}`);
  assert.equal(res.status, 200, 'the link is a page of the app');
  assert.match(res.headers.get('content-type'), /^text\/html/);

  const person = await newPerson(ctx.browser, ctx.server);
  const page = await person.newPage('/');
  // Someone who was here as a guest before: the browser remembers the name and would make a guest session.
  await page.getByTestId('display-name').fill('was-a-guest');
  await page.getByTestId('name-submit').click();
  await waitConnected(page);
  await page.goto(url);
  await page.getByTestId('panel-register').waitFor();
  assert.equal(await page.getByTestId('register-invite').isVisible(), false, 'open registration asks for no code');
  await registerFromLink(page, 'opener');
  await waitConnected(page);
  await page.getByTestId('view-browse').waitFor();
  const me = await page.evaluate(async () => (await (await fetch('/api/me')).json()).user);
  assert.equal(me.username, 'opener');
  assert.equal(new URL(page.url()).pathname, '/');
  assert.deepEqual(person.pageErrors, []);
});

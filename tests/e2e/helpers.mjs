// Shared helpers for Confab's browser tests: run the real server binary, drive Debian's Chromium with
// playwright-core (no downloaded browsers), and small polling / raw-protocol utilities.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, mkdirSync, createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

export { sleep };

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const LEAVE_GRACE_MS = 300;

/* ----------------------------------------------------------------- server */

/**
 * The store a test server uses: SQLite in its data dir, or with `CONFAB_TEST_STORE=postgres` a PostgreSQL
 * schema of its own (`confab_e2e_<random>`) in `CONFAB_TEST_DATABASE_URL` (default
 * `postgres://postgres@127.0.0.1:5432/test`), kept across restarts and dropped with `psql` at dispose.
 */
function storeArgs() {
  const store = process.env.CONFAB_TEST_STORE || 'sqlite';
  if (store === 'sqlite') return { args: [], schema: null, url: null };
  if (store !== 'postgres') throw new Error(`CONFAB_TEST_STORE=${store}: use sqlite or postgres`);
  const url = process.env.CONFAB_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `confab_e2e_${Array.from({ length: 12 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('')}`;
  return { args: ['--database-url', url, '--database-schema', schema], schema, url };
}

/** The real `confab` binary, started on 127.0.0.1 with a fresh data dir (or PostgreSQL schema). */
export class Server {
  constructor(extraArgs = []) {
    this.store = storeArgs();
    this.extraArgs = [...this.store.args, ...extraArgs];
    this.bin = process.env.CONFAB_BIN;
    if (!this.bin) throw new Error('CONFAB_BIN must point at the confab server binary');
    this.root = mkdtempSync(path.join(tmpdir(), 'confab-e2e-'));
    this.dataDir = path.join(this.root, 'data');
    mkdirSync(this.dataDir);
    this.logPath = path.join(this.root, 'server.log');
    this.log = createWriteStream(this.logPath, { flags: 'a' });
    this.proc = null;
    this.port = 0;
    this.starts = 0;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `extraArgs`: more command-line options, e.g. ['--max-replay', '5']. */
  static async start({ extraArgs = [] } = {}) {
    const server = new Server(extraArgs);
    await server.#launch(0);
    return server;
  }

  /** Kills the process and starts it again on the same port and data dir. */
  async restart({ signal = 'SIGKILL', downMs = 0 } = {}) {
    await this.stop(signal);
    if (downMs) await sleep(downMs);
    await this.startAgain();
  }

  /** Starts the process again after `stop()`, on the same port and data dir. The old socket may
   * linger for a moment; retry the bind for a while. */
  async startAgain() {
    let lastErr;
    for (let i = 0; i < 40; i++) {
      try {
        await this.#launch(this.port);
        return;
      } catch (err) {
        lastErr = err;
        await sleep(250);
      }
    }
    throw lastErr;
  }

  async #launch(port) {
    this.starts += 1;
    const args = [
      '--bind', `127.0.0.1:${port}`,
      '--data-dir', this.dataDir,
      '--leave-grace-ms', String(LEAVE_GRACE_MS),
      ...this.extraArgs,
    ];
    this.log.write(`\n=== start #${this.starts}: ${this.bin} ${args.join(' ')}\n`);
    const proc = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    this.proc = proc;
    const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
    proc.exitedPromise = exited;
    proc.stderr.on('data', (d) => this.log.write(d));

    const listening = new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`server did not print "listening on" in 30 s; log: ${this.logPath}`)), 30000);
      proc.stdout.on('data', (d) => {
        this.log.write(d);
        buf += d.toString();
        const m = buf.match(/listening on (?:https?:\/\/)?([\d.]+|\[[^\]]+\]):(\d+)/);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[2]));
        }
      });
      exited.then(({ code, sig }) => {
        clearTimeout(timer);
        reject(new Error(`server exited (code ${code}, signal ${sig}) before listening; log: ${this.logPath}\n${this.tail()}`));
      });
    });
    this.port = await listening;

    const deadline = Date.now() + 15000;
    for (;;) {
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.status === 200) break;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`GET /healthz never answered 200; log: ${this.logPath}`);
      await sleep(50);
    }
  }

  async stop(signal = 'SIGTERM') {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timeout = sleep(5000).then(() => 'timeout');
    if ((await Promise.race([proc.exitedPromise, timeout])) === 'timeout') {
      proc.kill('SIGKILL');
      await proc.exitedPromise;
    }
  }

  /**
   * Runs `confab admin <command...>` on this server's store (its data dir, or its PostgreSQL schema), with
   * `stdin` as its standard input (a password). Resolves with `{ok, stdout, stderr}`.
   */
  admin(command, stdin = '') {
    const store = this.store.schema ? this.store.args : ['--data-dir', this.dataDir];
    const proc = spawn(this.bin, ['admin', ...command, ...store], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, CONFAB_LOG: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.stdin.end(stdin);
    return new Promise((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => resolve({ ok: code === 0, stdout, stderr }));
    });
  }

  tail(lines = 40) {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async dispose() {
    await this.stop();
    this.log.end();
    if (this.store.schema) {
      const drop = spawn('psql', [this.store.url, '-q', '-c', `DROP SCHEMA IF EXISTS ${this.store.schema} CASCADE`], { stdio: 'ignore' });
      await new Promise((resolve) => drop.once('exit', resolve).once('error', resolve));
    }
    if (!process.env.KEEP_E2E_TMP) rmSync(this.root, { recursive: true, force: true });
  }
}

/* ---------------------------------------------------------------- browser */

/**
 * Registers before/after hooks that start one server and one browser for the test file; the returned
 * object has `server` and `browser` once the hooks ran.
 */
export function serverAndBrowser(options) {
  const ctx = {};
  before(async () => {
    ctx.server = await Server.start(options);
    ctx.browser = await launchBrowser();
  });
  after(async () => {
    await ctx.browser?.close();
    await ctx.server?.dispose();
  });
  return ctx;
}

/** Opens `/chat-room/<room>` as `person` and creates the room from the page's offer. */
export async function createRoom(person, room) {
  const page = await person.newPage(`/chat-room/${encodeURIComponent(room)}`);
  await page.getByTestId('create-missing').click();
  await page.getByTestId('composer').waitFor();
  return page;
}

export function launchBrowser() {
  // A plain launch gets a fresh temporary profile; every context is a separate cookie jar.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A person with their own browser context (own cookies, own localStorage). `name` given: a guest session is
 * created up front through the HTTP API (the cookie lands in this context).
 */
export async function newPerson(browser, server, { name, viewport = { width: 1100, height: 720 } } = {}) {
  const context = await browser.newContext({ baseURL: server.url, viewport });
  context.setDefaultTimeout(10000);
  const person = { context, name, user: null, pageErrors: [], dialogs: [], pages: [] };
  if (name) {
    const res = await context.request.post('/api/guest', { data: { name } });
    if (!res.ok()) throw new Error(`POST /api/guest ${res.status()}: ${await res.text()}`);
    person.user = (await res.json()).user;
  }
  person.newPage = async (url) => {
    const page = await context.newPage();
    page.on('pageerror', (err) => person.pageErrors.push(`${page.url()}: ${err.message}`));
    page.on('dialog', (dialog) => {
      person.dialogs.push(dialog.message());
      dialog.dismiss().catch(() => {});
    });
    person.pages.push(page);
    if (url) await page.goto(url);
    return page;
  };
  return person;
}

/* -------------------------------------------------------------- assertions */

/** Retries `fn` until it stops throwing (or `timeout` ms pass; then rethrows its last error). */
export async function eventually(fn, { timeout = 10000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(interval);
    }
  }
}

/* ---------------------------------------------------------------- room UI */

export const messages = (page) => page.locator('[data-testid="message-list"] [data-testid="message"]');
const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Messages whose whole text is `text`. */
export const messageWithText = (page, text) =>
  page.locator('[data-testid="message-list"] [data-testid="message"]', {
    has: page.locator('[data-testid="message-text"]', { hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) }),
  });
/** Messages whose text contains `text`. */
export const messageContaining = (page, text) =>
  page.locator('[data-testid="message-list"] [data-testid="message"]', {
    has: page.locator('[data-testid="message-text"]', { hasText: text }),
  });
export const systemLines = (page, text) =>
  page.locator('[data-testid="message-list"] [data-testid="system-line"]', { hasText: text });
export const memberNames = (page) => page.locator('[data-testid="member-list"] [data-testid="member-name"]');

export async function waitConnected(page, timeout = 15000) {
  await page.waitForSelector('[data-testid="connection-state"][data-state="live"]', { timeout });
}

/** Opens the room page and waits until it is joined (the composer is visible). */
export async function openRoom(person, room) {
  const page = await person.newPage(`/chat-room/${encodeURIComponent(room)}`);
  await page.getByTestId('composer').waitFor({ state: 'visible', timeout: 15000 });
  await waitConnected(page);
  return page;
}

export async function sendMessage(page, text) {
  const composer = page.getByTestId('composer');
  await composer.fill(text);
  await composer.press('Enter');
}

/** Texts of the messages shown, with their seq, in DOM order. */
export async function shownMessages(page) {
  return page.$$eval('[data-testid="message-list"] > li[data-seq]', (items) =>
    items.map((li) => ({
      seq: Number(li.dataset.seq),
      kind: li.dataset.testid === 'message' ? 'message' : li.dataset.kind,
      text: (li.querySelector('[data-testid="message-text"]') || li).textContent,
      deleted: li.dataset.deleted === 'true',
    })),
  );
}

/* ------------------------------------------------------------ raw protocol */

/**
 * Opens a raw protocol connection inside `page` (so it carries the page's cookie and Origin), stored as
 * window.__raw. `page` should be on the server's origin (e.g. /healthz).
 */
export async function rawConnect(page) {
  return page.evaluate(async () => {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    const pending = new Map();
    const frames = [];
    let nextId = 1;
    const welcome = await new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'welcome') resolve(m);
        else if (m.id != null && pending.has(String(m.id))) {
          const done = pending.get(String(m.id));
          pending.delete(String(m.id));
          done(m);
        } else frames.push(m);
      };
      ws.onerror = () => reject(new Error('raw websocket failed'));
      setTimeout(() => reject(new Error('no welcome within 10 s')), 10000);
    });
    window.__raw = {
      ws,
      welcome,
      frames,
      request(type, fields = {}) {
        return new Promise((resolve, reject) => {
          const id = `raw-${nextId++}`;
          pending.set(id, resolve);
          ws.send(JSON.stringify({ ...fields, type, id }));
          setTimeout(() => pending.has(id) && reject(new Error(`no answer to ${type}`)), 10000);
        });
      },
    };
    return welcome;
  });
}

export function rawRequest(page, type, fields = {}) {
  return page.evaluate(([t, f]) => window.__raw.request(t, f), [type, fields]);
}

export async function rawClose(page) {
  await page.evaluate(() => window.__raw?.ws.close());
}

/** Sends through the raw connection, waiting out `rate_limited` answers. Returns the ack. */
export async function rawSend(page, room, text, extra = {}) {
  for (let attempt = 0; ; attempt++) {
    const answer = await rawRequest(page, 'send', { room, text, ...extra });
    if (answer.type === 'ack') return answer;
    if (answer.code === 'rate_limited' && attempt < 50) {
      await sleep(250);
      continue;
    }
    throw new Error(`send failed: ${JSON.stringify(answer)}`);
  }
}

/** The user id of the page's session, from GET /api/me. */
export function myUserId(page) {
  return page.evaluate(async () => {
    const body = await (await fetch('/api/me')).json();
    return (body.user && body.user.id) || body.id;
  });
}

/* ---------------------------------------------------------- accessibility */

const axeSource = readFileSync(path.join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2 A and AA rules) on the page as it is now and returns the serious and critical
 * violations, each as "rule: target". Evaluated through the DevTools protocol, so the page's strict CSP
 * (no inline scripts) stays in force.
 */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${n.failureSummary?.split('\n')[1]?.trim() || v.help})`));
}

/* --------------------------------------------------------------- accounts */

/** Headers for a state-changing API call made outside a page: the same Origin a page would send. */
export const sameOrigin = (server) => ({ origin: server.url });

/**
 * A person with an account: their own browser context, registered through `POST /api/auth/register` (the
 * session cookie lands in the context). Returns the person with `username`, `password` and `user`.
 */
export async function newAccount(browser, server, { username, password = 'correct horse battery staple', displayName, viewport } = {}) {
  const person = await newPerson(browser, server, { viewport });
  const res = await person.context.request.post('/api/auth/register', {
    data: { username, password, display_name: displayName }, headers: sameOrigin(server),
  });
  if (!res.ok()) throw new Error(`POST /api/auth/register ${res.status()}: ${await res.text()}`);
  person.user = (await res.json()).user;
  Object.assign(person, { username, password, name: person.user?.name });
  return person;
}

/** Signs in through the page's sign-in form (the welcome view must be showing). */
export async function signInWithForm(page, { username, password }) {
  if (await page.getByTestId('panel-signin').isHidden()) await page.getByTestId('show-signin').click();
  await page.getByTestId('signin-username').fill(username);
  await page.getByTestId('signin-password').fill(password);
  await page.getByTestId('signin-submit').click();
}

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.toUpperCase().replace(/[=\s]/g, '')) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/**
 * The TOTP code (RFC 6238: HOTP of RFC 4226 over 30 s steps, HMAC-SHA1, 6 digits unless the otpauth URL says
 * otherwise) for a base32 `secret` at `time` (ms), computed here independently of the server.
 */
export function totp(secret, { time = Date.now(), step = 30, digits = 6, algorithm = 'sha1' } = {}) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / 1000 / step)));
  const mac = createHmac(algorithm, base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** A TOTP code for an `otpauth://totp/...` URL (its secret, digits, period and algorithm). */
export function totpFromUrl(url, time = Date.now()) {
  const params = new URL(url).searchParams;
  return totp(params.get('secret'), {
    time,
    step: Number(params.get('period') || 30),
    digits: Number(params.get('digits') || 6),
    algorithm: (params.get('algorithm') || 'SHA1').toLowerCase(),
  });
}

/**
 * Records everything the server sends to `page` as text: HTTP response bodies (JSON, HTML, scripts) and
 * WebSocket frames. `seen.text()` is all of it, for "this name never reached this browser" checks.
 */
export function recordTraffic(page) {
  const chunks = [];
  page.on('response', async (res) => {
    try {
      chunks.push(`${res.url()}\n${await res.text()}`);
    } catch { /* a redirect or a closed page has no body */ }
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => chunks.push(String(f.payload)));
    ws.on('framesent', (f) => chunks.push(String(f.payload)));
  });
  return { text: () => chunks.join('\n'), count: () => chunks.length };
}

/** Makes the member list visible (below 1280 px it is behind the header's members button). */
export async function showMembers(page) {
  if (!(await page.getByTestId('members-panel').isVisible())) await page.getByTestId('members-toggle').click();
  await page.getByTestId('members-panel').waitFor();
}

/** Opens the account settings dialog. */
export async function openSettings(page) {
  await page.getByTestId('settings-button').click();
  await page.getByTestId('settings-dialog').waitFor();
}

/** Opens the open room's settings dialog and waits for `ready` (its member list by default). */
export async function openRoomSettings(page, ready = 'room-member') {
  await page.getByTestId('room-settings-button').click();
  await page.getByTestId('room-dialog').waitFor();
  await page.getByTestId(ready).first().waitFor();
}

/** The room settings' row of the member shown as `name` (or `name (you)`). */
export const memberRow = (page, name) => page.locator('[data-testid="room-member"]', {
  has: page.getByTestId('room-member-name').filter({ hasText: new RegExp(`^${name}( \\(you\\))?$`) }),
});

/** Creates a private room from the sidebar's form and waits until it is open and connected. */
export async function createPrivate(page, name) {
  await page.getByTestId('create-name').fill(name);
  await page.getByTestId('create-private').check();
  await page.getByTestId('create-submit').click();
  await page.getByTestId('composer').waitFor();
  await waitConnected(page);
}

// Test support for the Node compatibility suite: start the real Confab server ($CONFAB_BIN),
// drive it with socket.io-client, and speak Confab's native /ws protocol with `ws`.
// Every wait is bounded (TIMEOUT), so a missing event fails the test instead of hanging it.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { io } = require('socket.io-client');
const WebSocket = require('ws');

const TIMEOUT = 5000; // ms to wait for something that should happen
const QUIET = 700; // ms to watch for something that must not happen
const LEAVE_GRACE_MS = 300;

const TRANSPORTS = {
  polling: ['polling'],
  websocket: ['websocket'],
  upgrade: undefined, // the client's default: polling first, then upgrade to WebSocket
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uniqueRoom = (prefix = 'room') => `${prefix}-${crypto.randomBytes(5).toString('hex')}`;
const system = (text) => (m) => m && m.user === 'System' && m.message === text;
const byId = (id) => (m) => m && m.message_id === id;

class ConfabServer {
  constructor({ allowedOrigins, extraArgs = [], leaveGraceMs = LEAVE_GRACE_MS } = {}) {
    this.bin = process.env.CONFAB_BIN;
    if (!this.bin) throw new Error('CONFAB_BIN must name the confab server binary');
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-sio-node-'));
    this.allowedOrigins = allowedOrigins;
    this.extraArgs = extraArgs;
    this.leaveGraceMs = leaveGraceMs;
    this.log = [];
    this.proc = null;
    this.addr = null;
  }

  get url() { return `http://${this.addr}`; }

  async start(bind = '127.0.0.1:0') {
    const args = ['--bind', bind, '--data-dir', this.dataDir, '--leave-grace-ms', String(this.leaveGraceMs)];
    if (this.allowedOrigins) args.push('--allowed-origins', this.allowedOrigins.join(','));
    args.push(...this.extraArgs);
    const proc = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    // Never leave a server behind, even if this test process dies early.
    const reap = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    proc.stderr.on('data', (d) => this.log.push(d.toString()));
    const addr = await new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`confab did not start:\n${this.tail()}`)), 30000);
      proc.stdout.on('data', (d) => {
        this.log.push(d.toString());
        buf += d.toString();
        const m = /listening on (127\.0\.0\.1:\d+)/.exec(buf);
        if (m) { clearTimeout(timer); resolve(m[1]); }
      });
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`confab exited (${code}):\n${this.tail()}`)); });
    });
    this.addr = addr;
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.status === 200) return this;
      } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`/healthz never answered 200:\n${this.tail()}`);
      await sleep(50);
    }
  }

  async stop() {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }

  async cleanup() {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  tail(n = 40) { return this.log.join('').split('\n').slice(-n).join('\n'); }

  /** POST /api/guest → { token, user, cookie } (cookie = value of confab_session). */
  async guest(name) {
    const r = await fetch(`${this.url}/api/guest`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }),
    });
    if (r.status !== 200) throw new Error(`POST /api/guest: ${r.status} ${await r.text()}`);
    const body = await r.json();
    const set = r.headers.get('set-cookie') || '';
    const m = /confab_session=([^;]+)/.exec(set);
    return { token: body.token, user: body.user, cookie: m && m[1] };
  }
}

/** A socket.io-client connection that records every server event in arrival order. */
class SioClient {
  constructor(server, { name, token, cookie, transports, origin } = {}) {
    this.name = name;
    this.server = server;
    this.token = token;
    this.transports = transports;
    this.events = [];
    this.consumed = new Set();
    this.waiters = [];
    const extraHeaders = {};
    if (cookie) extraHeaders.cookie = `confab_session=${cookie}`;
    if (origin) extraHeaders.origin = origin;
    this.socket = io(server.url, {
      transports, auth: token ? { token } : undefined, extraHeaders,
      reconnection: false, forceNew: true, timeout: TIMEOUT,
    });
    this.socket.onAny((event, ...args) => {
      this.events.push([event, args.length === 1 ? args[0] : (args.length ? args : null)]);
      for (const w of this.waiters.slice()) w();
    });
  }

  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve(this);
      const timer = setTimeout(() => reject(new Error('connect timeout')), TIMEOUT);
      this.socket.once('connect', () => { clearTimeout(timer); resolve(this); });
      this.socket.once('connect_error', (e) => { clearTimeout(timer); reject(e); });
    });
  }

  transport() { return this.socket.io.engine && this.socket.io.engine.transport.name; }

  async waitTransport(name) {
    const deadline = Date.now() + TIMEOUT;
    while (this.transport() !== name) {
      if (Date.now() > deadline) throw new Error(`transport is ${this.transport()}, expected ${name}`);
      await sleep(25);
    }
  }

  close() { this.socket.disconnect(); }

  emit(event, ...payload) { this.socket.emit(event, ...payload); }

  call(event, ...payload) { return this.socket.timeout(TIMEOUT).emitWithAck(event, ...payload); }

  async ok(event, ...payload) {
    const ack = await this.call(event, ...payload);
    if (!ack || ack.ok !== true) throw new Error(`${event} ${JSON.stringify(payload)} acked ${JSON.stringify(ack)}`);
    return ack;
  }

  async fails(event, payload, code) {
    const ack = await this.call(event, ...(payload === undefined ? [] : [payload]));
    if (!ack || ack.ok !== false || !ack.error || ack.error.code !== code || typeof ack.error.message !== 'string' || !ack.error.message) {
      throw new Error(`${event} ${JSON.stringify(payload)}: want error ${code}, got ${JSON.stringify(ack)}`);
    }
    return ack.error;
  }

  /** Resolve with (and consume) the first unconsumed event of that name matching pred. */
  next(event, pred = () => true, timeout = TIMEOUT) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (let i = 0; i < this.events.length; i++) {
          const [ev, p] = this.events[i];
          if (!this.consumed.has(i) && ev === event && pred(p)) {
            this.consumed.add(i);
            done();
            resolve(p);
            return true;
          }
        }
        return false;
      };
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${event} matching within ${timeout}ms; got ${JSON.stringify(this.events)}`));
      }, timeout);
      if (!check()) this.waiters.push(check);
    });
  }

  async expectNone(event, pred = () => true, within = QUIET) {
    await sleep(within);
    const bad = this.events.filter(([ev, p], i) => !this.consumed.has(i) && ev === event && pred(p));
    if (bad.length) throw new Error(`unexpected ${event}: ${JSON.stringify(bad)}`);
  }

  mark() { return this.events.length; }

  since(mark) { return this.events.slice(mark); }

  /** join_room (acked) and wait for our own join notice, which follows the history. */
  async join(room, user = this.name) {
    const ack = await this.ok('join_room', { room, user });
    await this.next('room_message', system(`${this.name} has joined the room.`));
    return ack;
  }

  /** Join; return the non-System room_message payloads that arrived before our join notice. */
  async historyOnJoin(room, user = this.name) {
    const start = this.mark();
    await this.join(room, user);
    const out = [];
    for (const [ev, p] of this.since(start)) {
      if (ev !== 'room_message') continue;
      if (p.user === 'System') {
        if (p.message === `${this.name} has joined the room.`) break;
        continue;
      }
      out.push(p);
    }
    return out;
  }

  send(room, message, messageId, user = this.name) {
    const data = { room, user, message };
    if (messageId !== undefined) data.message_id = messageId;
    return this.ok('send_message', data);
  }
}

// Events one connection sends in a burst in these tests: below the server's per-connection request
// burst (--request-burst, 40 by default), so rate limiting never interferes.
const PER_CONNECTION_BURST = 30;

/** Send [[text, messageId]] to `room` as `client`'s session, spread over fresh connections of the same
 * session (the server rate-limits each connection); the extras join silently and close afterwards. */
async function sendMany(client, room, items) {
  const acks = [];
  for (let i = 0; i < items.length; i += PER_CONNECTION_BURST) {
    const extra = new SioClient(client.server, { name: client.name, token: client.token, transports: client.transports });
    try {
      await extra.connected();
      await extra.ok('join_room', { room, user: client.name });
      for (const [text, id] of items.slice(i, i + PER_CONNECTION_BURST)) acks.push(await extra.send(room, text, id));
    } finally {
      extra.close();
    }
  }
  return acks;
}

/** Confab's own protocol at /ws (docs/protocol.md). */
class NativeClient {
  constructor(server, token) {
    this.ws = new WebSocket(`ws://${server.addr}/ws?token=${encodeURIComponent(token)}`, { origin: server.url });
    this.frames = [];
    this.waiters = [];
    this.nextId = 1;
    this.ws.on('message', (data) => {
      this.frames.push(JSON.parse(data.toString()));
      for (const w of this.waiters.slice()) w();
    });
  }

  async open() {
    const welcome = await this.frame((f) => f.type === 'welcome');
    if (!welcome.user) throw new Error(`token not accepted on /ws: ${JSON.stringify(welcome)}`);
    this.user = welcome.user;
    return this;
  }

  frame(pred, timeout = TIMEOUT) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const i = this.frames.findIndex(pred);
        if (i < 0) return false;
        const [f] = this.frames.splice(i, 1);
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(f);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`no matching /ws frame; queued ${JSON.stringify(this.frames)}`));
      }, timeout);
      if (!check()) this.waiters.push(check);
    });
  }

  request(type, fields = {}) {
    const id = String(this.nextId++);
    this.ws.send(JSON.stringify({ type, id, ...fields }));
    return this.frame((f) => f.id === id && (f.type === 'ack' || f.type === 'error'));
  }

  async ok(type, fields) {
    const f = await this.request(type, fields);
    if (f.type !== 'ack') throw new Error(`${type} ${JSON.stringify(fields)}: ${JSON.stringify(f)}`);
    return f;
  }

  event(kind, pred = () => true, timeout) {
    return this.frame((f) => f.type === 'event' && f.kind === kind && pred(f), timeout);
  }

  close() { this.ws.close(); }
}

/** Per-file fixture: one server, and factories of clients that are all closed afterwards. */
function harness(options) {
  const h = {
    server: null,
    open: [],
    async start() { h.server = await new ConfabServer(options).start(); return h.server; },
    async stop() { h.closeAll(); if (h.server) await h.server.cleanup(); },
    closeAll() { for (const c of h.open.splice(0)) c.close(); },
    /** auth: 'token' (handshake auth), 'cookie' (confab_session), or null (anonymous). */
    async client(name, { auth = 'token', transports, origin, srv } = {}) {
      srv = srv || h.server;
      let c;
      if (auth === 'token') {
        const { token } = await srv.guest(name);
        c = new SioClient(srv, { name, token, transports, origin });
      } else if (auth === 'cookie') {
        const { cookie } = await srv.guest(name);
        if (!cookie) throw new Error('POST /api/guest set no confab_session cookie');
        c = new SioClient(srv, { name, cookie, transports, origin });
      } else {
        c = new SioClient(srv, { name, transports, origin });
      }
      h.open.push(c);
      return c.connected();
    },
    async native(name, srv) {
      srv = srv || h.server;
      const { token } = await srv.guest(name);
      const n = new NativeClient(srv, token);
      h.open.push(n);
      return n.open();
    },
  };
  return h;
}

module.exports = {
  TIMEOUT, QUIET, LEAVE_GRACE_MS, TRANSPORTS, ConfabServer, SioClient, NativeClient, harness,
  sleep, uniqueRoom, system, byId, sendMany,
};

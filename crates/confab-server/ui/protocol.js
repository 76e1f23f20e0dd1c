// Confab's native WebSocket protocol (docs/protocol.md) as the web client speaks it: one connection for
// every room, requests answered by `ack` or `error` frames matched by id, and reconnection with jittered
// exponential backoff. Knows nothing of rooms or the DOM; the controller (chat.js) re-joins on `welcome`.

export class ProtocolError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** A server frame as an object with a string `type`, or null for anything else (ignored, never thrown). */
export function parseFrame(data) {
  if (typeof data !== 'string') return null;
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    return null;
  }
  return msg && typeof msg === 'object' && !Array.isArray(msg) && typeof msg.type === 'string' ? msg : null;
}

/** Close codes after which waiting longer before coming back is kinder to the server. */
const SLOW_DOWN = new Set([4002]);

/**
 * Delay before reconnect attempt `attempt` (0-based): 0.5 s doubling to a 15 s cap, with "full jitter"
 * between half and all of it so that a restarted server is not hit by every client at the same instant.
 * After `rate_limited` the floor is 5 s.
 */
export function backoffDelay(attempt, closeCode = 0, random = Math.random) {
  const base = SLOW_DOWN.has(closeCode) ? 5000 : 500;
  const ceiling = Math.min(15000, base * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

/**
 * States: `connecting` (first attempt), `live` (welcomed with a session), `reconnecting` (waiting for
 * `retryAt`, or trying), `offline` (the browser says there is no network: no attempts until it returns).
 *
 * handlers: onState(state, retryAt), onWelcome(welcome, resumed), onNoSession(), onEvent(ev), onRoomUpdate(room),
 * onDirect(room) (a direct conversation opened with this account), onAdded({name, by}) (this account was added
 * to a room, by a moderator or by accepting an invite elsewhere), onClosed(code, reason) (the server closed
 * the connection; returning true means "do not reconnect": the session was revoked, say).
 */
export class Connection {
  constructor({ url, WebSocketImpl = globalThis.WebSocket, handlers = {}, random = Math.random, online = () => true }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.handlers = handlers;
    this.random = random;
    this.online = online;
    this.ws = null;
    this.state = 'connecting';
    this.retryAt = null;
    this.user = null;
    this.limits = {};
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.welcomed = false;
  }

  get live() {
    return this.state === 'live';
  }

  start() {
    if (!this.online()) this.#setState('offline');
    else this.#open();
  }

  /** Connects again at once: "Retry now", the network came back, or the session changed. */
  retryNow() {
    clearTimeout(this.retryTimer);
    this.#drop();
    this.#open();
  }

  /** The browser lost its network: stop trying until `retryNow`. */
  wentOffline() {
    clearTimeout(this.retryTimer);
    this.#drop();
    this.#setState('offline');
  }

  /** Stops for good: no socket, no timers (page teardown, tests). */
  close() {
    clearTimeout(this.retryTimer);
    this.#drop();
    this.handlers = {};
  }

  /** Sends a request; resolves with its ack, rejects with a ProtocolError (its code, or `disconnected`). */
  request(type, fields = {}, { timeoutMs = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== 1 || (!this.live && type !== 'hello')) {
        reject(new ProtocolError('disconnected', 'not connected'));
        return;
      }
      const id = String(this.nextId++);
      const entry = { resolve, reject, timer: null };
      if (timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new ProtocolError('timeout', `no answer to ${type}`));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      ws.send(JSON.stringify({ ...fields, type, id }));
    });
  }

  #setState(state) {
    if (state !== 'reconnecting') this.retryAt = null;
    this.state = state;
    this.handlers.onState?.(state, this.retryAt);
  }

  #open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
    this.#setState(this.welcomed ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this.#scheduleRetry(0);
      return;
    }
    this.ws = ws;
    ws.onmessage = (e) => this.#onFrame(e.data);
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      if (this.handlers.onClosed?.(e.code, e.reason)) {
        this.#drop();
        this.#setState('offline');
        return;
      }
      this.#lost(e.code);
    };
    ws.onerror = () => {};
  }

  #lost(code) {
    this.#drop();
    if (!this.online()) this.#setState('offline');
    else this.#scheduleRetry(code);
  }

  #drop() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.pingTimer);
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    const err = new ProtocolError('disconnected', 'connection lost');
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  #scheduleRetry(code) {
    const delay = backoffDelay(this.attempt, code, this.random);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.state = this.welcomed ? 'reconnecting' : 'connecting';
    this.handlers.onState?.(this.state, this.retryAt);
    this.retryTimer = setTimeout(() => this.#open(), delay);
  }

  /** A half-open connection (laptop lid, NAT timeout) shows as a ping that is never answered. */
  #startPing() {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws || !this.live) return;
      this.request('ping', {}, { timeoutMs: 10000 }).catch((err) => {
        if (err.code === 'timeout' && this.ws === ws) this.#lost(0);
      });
    }, 25000);
  }

  #onFrame(data) {
    const msg = parseFrame(data);
    if (!msg) return;
    switch (msg.type) {
      case 'welcome': {
        this.user = msg.user && typeof msg.user === 'object' ? msg.user : null;
        this.limits = msg.limits && typeof msg.limits === 'object' ? msg.limits : {};
        this.attempt = 0;
        this.#startPing();
        if (!this.user) {
          this.handlers.onNoSession?.();
          return;
        }
        const resumed = this.welcomed;
        this.welcomed = true;
        this.#setState('live');
        this.handlers.onWelcome?.(msg, resumed);
        break;
      }
      case 'ack':
      case 'error': {
        const key = msg.id == null ? null : String(msg.id);
        const p = key == null ? undefined : this.pending.get(key);
        if (!p) return;
        this.pending.delete(key);
        clearTimeout(p.timer);
        if (msg.type === 'ack') p.resolve(msg);
        else p.reject(new ProtocolError(String(msg.code || 'internal'), msg.message));
        break;
      }
      case 'event':
        if (typeof msg.room === 'string' && typeof msg.seq === 'number') this.handlers.onEvent?.(msg);
        break;
      case 'room_update':
        if (msg.room && typeof msg.room.name === 'string') this.handlers.onRoomUpdate?.(msg.room);
        break;
      case 'direct_opened': {
        // Someone opened a direct conversation with this account: `{room, members}`.
        const name = typeof msg.room === 'string' ? msg.room : msg.room?.name;
        if (typeof name === 'string') this.handlers.onDirect?.({ name, kind: 'direct', members: Array.isArray(msg.members) ? msg.members : [] });
        break;
      }
      case 'added_to_room':
        // This account is a member of a room now: `{room, by}`.
        if (typeof msg.room === 'string') this.handlers.onAdded?.({ name: msg.room, by: msg.by && typeof msg.by === 'object' ? msg.by : null });
        break;
      default:
        break;
    }
  }
}

// Confab web UI: a small client for Confab's native WebSocket protocol (v1, see docs/protocol.md)
// and the logic of the two pages (lobby at `/`, room at `/chat-room/<name>`).
// Plain JS, no framework, no build step. All user text goes through textContent, never innerHTML.
'use strict';

const NAME_KEY = 'confab.displayName';

/* ------------------------------------------------------------------ helpers */

const $ = (sel, root = document) => root.querySelector(sel);
const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

/** Builds an element. Strings among `children` become text nodes, so they are never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'text') node.textContent = String(value);
    else if (key === 'class') node.className = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null && child !== false) node.append(child);
  return node;
}

function randomId(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes); // works outside secure contexts, unlike crypto.randomUUID
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const encoder = new TextEncoder();
const byteLength = (s) => encoder.encode(s).length;

function formatTime(ms) {
  if (typeof ms !== 'number') return '';
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function showText(node, text) {
  if (!node) return;
  node.textContent = text || '';
  node.hidden = !text;
}

class ProtocolError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

const ERROR_TEXT = {
  invalid_name: 'Display names must be 1 to 32 characters, without control characters.',
  invalid_room_name: 'Room names use letters, digits, spaces, “-”, “_” and “.”, 1 to 64 characters.',
  text_empty: 'The message is empty.',
  text_too_long: 'The message is too long.',
  forbidden: 'You can only change your own messages.',
  message_not_found: 'That message no longer exists.',
  rate_limited: 'Slow down a little, then try again.',
  unavailable: 'The server could not store that. Try again.',
  too_many_rooms: 'You are in too many rooms at once.',
  disconnected: 'Not connected to the server.',
  timeout: 'The server did not answer.',
  network: 'Cannot reach the server.',
};
const describeError = (err) => ERROR_TEXT[err?.code] || err?.message || String(err);

/* --------------------------------------------------------------------- HTTP */

function errorFromBody(body, status) {
  const e = body && typeof body === 'object' ? body : {};
  const nested = e.error && typeof e.error === 'object' ? e.error : null;
  const code = e.code || nested?.code || (typeof e.error === 'string' ? e.error : null) || `http_${status}`;
  const message = e.message || nested?.message || `HTTP ${status}`;
  return new ProtocolError(code, message);
}

/** The current session's user, or null when there is none (401). */
async function apiMe() {
  let res;
  try {
    res = await fetch('/api/me', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ProtocolError('network', 'cannot reach the server');
  }
  if (res.status === 401) return null;
  const body = await res.json().catch(() => null);
  if (!res.ok) throw errorFromBody(body, res.status);
  const user = body && body.user && typeof body.user === 'object' ? body.user : body;
  return user && user.id ? user : null;
}

/** Creates a guest session (sets the HttpOnly `confab_session` cookie) and returns its user. */
async function apiGuest(name) {
  let res;
  try {
    res = await fetch('/api/guest', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
  } catch {
    throw new ProtocolError('network', 'cannot reach the server');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw errorFromBody(body, res.status);
  try { localStorage.setItem(NAME_KEY, name); } catch { /* storage may be disabled */ }
  return body?.user && typeof body.user === 'object' ? body.user : { id: null, name };
}

/** Calls `fn` now, or later if it ran less than `ms` ago (so a server that keeps refusing us is not hammered). */
function throttled(ms, fn) {
  let last = 0;
  let timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, wait);
    }
  };
}

function rememberedName() {
  try { return localStorage.getItem(NAME_KEY) || ''; } catch { return ''; }
}

/* ------------------------------------------------------- protocol client */

/**
 * One WebSocket to `/ws`, authenticated by the session cookie. Requests are promises resolved by their `ack`
 * (rejected with a ProtocolError on `error` or when the connection drops). Reconnects by itself with backoff;
 * the page re-joins its rooms from `onWelcome`.
 *
 * handlers: onWelcome(welcome, isReconnect), onNoSession(), onEvent(event), onRoomUpdate(room), onState(state)
 * states: idle, connecting, connected, reconnecting
 */
class ConfabClient {
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.ws = null;
    this.state = 'idle';
    this.user = null;
    this.limits = {};
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.started = false;
    this.welcomedOnce = false;
    window.addEventListener('online', () => {
      if (this.started && this.state !== 'connected') this.reconnectNow();
    });
  }

  start() {
    if (this.started) return;
    this.started = true;
    this.#open();
  }

  /** Drops the current socket (if any) and connects again at once, e.g. after the session changed. */
  reconnectNow() {
    this.started = true;
    clearTimeout(this.retryTimer);
    this.#drop();
    this.#open();
  }

  get connected() {
    return this.state === 'connected';
  }

  request(type, fields = {}, { timeoutMs = 0 } = {}) {
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== WebSocket.OPEN || (this.state !== 'connected' && type !== 'hello')) {
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
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }

  #open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.#setState(this.welcomedOnce ? 'reconnecting' : 'connecting');
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.#scheduleRetry(0);
      return;
    }
    this.ws = ws;
    ws.onmessage = (e) => this.#onFrame(e.data);
    ws.onclose = (e) => {
      if (this.ws === ws) this.#lost(e.code);
    };
    ws.onerror = () => { /* a close event follows */ };
  }

  #lost(code) {
    this.#drop();
    this.#setState(this.welcomedOnce ? 'reconnecting' : 'connecting');
    this.#scheduleRetry(code);
  }

  #drop() {
    const ws = this.ws;
    this.ws = null;
    clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000); } catch { /* already closing */ }
    }
    const err = new ProtocolError('disconnected', 'connection lost');
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }

  #scheduleRetry(code) {
    clearTimeout(this.retryTimer);
    // Exponential backoff with jitter: ~0.3 s, 0.6 s, 1.2 s ... capped at 15 s; 5 s floor after `rate_limited`.
    const base = code === 4002 ? 5000 : 300;
    const delay = Math.min(15000, base * 2 ** Math.min(this.attempt, 10)) * (0.6 + Math.random() * 0.4);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.#open(), delay);
  }

  #startPing() {
    clearInterval(this.pingTimer);
    const ws = this.ws;
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws || this.state !== 'connected') return;
      this.request('ping', {}, { timeoutMs: 10000 }).catch((err) => {
        // A half-open connection: nothing comes back. Treat it as lost.
        if (err.code === 'timeout' && this.ws === ws) this.#lost(0);
      });
    }, 25000);
  }

  #onFrame(data) {
    if (typeof data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.type) {
      case 'welcome': {
        this.user = msg.user || null;
        this.limits = msg.limits || {};
        this.attempt = 0;
        this.#startPing();
        if (!this.user) {
          // The cookie is missing or no longer valid: the page must create a session and reconnect.
          this.handlers.onNoSession?.();
          return;
        }
        const isReconnect = this.welcomedOnce;
        this.welcomedOnce = true;
        this.#setState('connected');
        this.handlers.onWelcome?.(msg, isReconnect);
        break;
      }
      case 'ack':
      case 'error': {
        const key = msg.id == null ? null : String(msg.id);
        const p = key == null ? null : this.pending.get(key);
        if (!p) {
          if (msg.type === 'error') console.warn('confab: unsolicited error', msg.code, msg.message);
          return;
        }
        this.pending.delete(key);
        clearTimeout(p.timer);
        if (msg.type === 'ack') p.resolve(msg);
        else p.reject(new ProtocolError(msg.code || 'internal', msg.message));
        break;
      }
      case 'event':
        this.handlers.onEvent?.(msg);
        break;
      case 'room_update':
        if (msg.room) this.handlers.onRoomUpdate?.(msg.room);
        break;
      default:
        break;
    }
  }
}

const STATE_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
};

function renderConnState(state) {
  const node = byTestId('connection-state');
  if (!node) return;
  node.dataset.state = state;
  node.textContent = STATE_TEXT[state] || state;
}

/* -------------------------------------------------------------------- lobby */

function initLobby() {
  const form = byTestId('join-form');
  const nameInput = byTestId('display-name');
  const roomInput = byTestId('room-name');
  const nameError = byTestId('name-error');
  const roomError = byTestId('room-error');
  const formError = byTestId('form-error');
  const nameHint = byTestId('name-hint');
  const list = byTestId('room-list');
  const status = byTestId('rooms-status');
  const submitButton = byTestId('join-button');

  const rooms = new Map(); // name -> summary
  let roomsLoaded = false;
  let me = null;
  let client = null;
  let sessionChecked = false;

  nameInput.value = rememberedName();

  function renderRooms() {
    if (!me) {
      status.hidden = false;
      status.textContent = sessionChecked ? 'Enter a display name to see the rooms.' : 'Loading…';
      list.replaceChildren();
      return;
    }
    const sorted = [...rooms.values()].sort(
      (a, b) => (b.members || 0) - (a.members || 0) || String(a.name).localeCompare(String(b.name)),
    );
    status.textContent = sorted.length ? '' : roomsLoaded ? 'No rooms yet. Create one above.' : 'Loading…';
    status.hidden = sorted.length > 0;
    list.replaceChildren(
      ...sorted.map((room) => {
        const n = room.members || 0;
        return h(
          'li',
          { class: 'room-item', 'data-testid': 'room-item', 'data-room': room.name },
          h(
            'a',
            {
              href: `/chat-room/${encodeURIComponent(room.name)}`,
              class: 'room-link',
              'data-testid': 'room-link',
            },
            h('span', { class: 'room-name', text: room.name }),
            h('span', {
              class: 'room-count',
              'data-testid': 'room-members',
              'data-count': n,
              text: n === 1 ? '1 person here' : `${n} people here`,
            }),
          ),
        );
      }),
    );
  }

  function renderMe() {
    if (me) showText(nameHint, `You are chatting as “${me.name}”. Changing the name starts a new guest session.`);
    renderRooms();
  }

  async function loadRooms() {
    try {
      const ack = await client.request('rooms', { subscribe: true });
      rooms.clear();
      for (const room of ack.rooms || []) rooms.set(room.name, room);
      roomsLoaded = true;
      renderRooms();
    } catch (err) {
      if (err.code !== 'disconnected') {
        status.hidden = false;
        status.textContent = `Could not load the rooms: ${describeError(err)}`;
      }
    }
  }

  function connect() {
    if (!client) {
      client = new ConfabClient({
        onState: renderConnState,
        onWelcome: (welcome) => {
          me = welcome.user;
          renderMe();
          loadRooms();
        },
        onNoSession: throttled(5000, async () => {
          // Session vanished (e.g. expired): start a new one with the remembered name, if any.
          me = null;
          renderRooms();
          const name = rememberedName();
          if (!name) return;
          try {
            me = await apiGuest(name);
            client.reconnectNow();
          } catch { /* the user can submit the form */ }
        }),
        onRoomUpdate: (room) => {
          rooms.set(room.name, room);
          renderRooms();
        },
      });
      client.start();
    } else {
      client.reconnectNow();
    }
  }

  function waitConnected(timeoutMs = 10000) {
    if (client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const tick = () => {
        if (client.connected) resolve();
        else if (Date.now() - started > timeoutMs) reject(new ProtocolError('disconnected', 'not connected'));
        else setTimeout(tick, 50);
      };
      tick();
    });
  }

  /** Makes sure there is a session for the name in the form. Returns true when a new one was created. */
  async function ensureSession(name) {
    if (me && me.name === name) return false;
    me = await apiGuest(name);
    renderMe();
    connect();
    return true;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    showText(nameError, '');
    showText(roomError, '');
    showText(formError, '');
    const name = nameInput.value.trim();
    const room = roomInput.value.trim();
    if (!name) {
      showText(nameError, 'Enter a display name.');
      nameInput.focus();
      return;
    }
    submitButton.disabled = true;
    try {
      let created;
      try {
        created = await ensureSession(name);
      } catch (err) {
        if (err.code === 'invalid_name') {
          showText(nameError, describeError(err));
          nameInput.focus();
        } else {
          showText(formError, describeError(err));
        }
        return;
      }
      if (!room) {
        if (created) roomInput.focus();
        else {
          showText(roomError, 'Enter a room name, or pick one from the list.');
          roomInput.focus();
        }
        return;
      }
      try {
        await waitConnected();
        await client.request('create_room', { room });
      } catch (err) {
        if (err.code === 'invalid_room_name') {
          showText(roomError, describeError(err));
          roomInput.focus();
          return;
        }
        if (err.code !== 'room_exists') {
          showText(formError, describeError(err));
          return;
        }
      }
      location.assign(`/chat-room/${encodeURIComponent(room)}`);
    } finally {
      submitButton.disabled = false;
    }
  });

  (async () => {
    try {
      me = await apiMe();
    } catch (err) {
      showText(formError, describeError(err));
    }
    if (!me && nameInput.value.trim()) {
      // A returning visitor whose session is gone: recreate it with the remembered name.
      try { me = await apiGuest(nameInput.value.trim()); } catch { me = null; }
    }
    sessionChecked = true;
    if (me && !nameInput.value) nameInput.value = me.name;
    renderMe();
    if (me) connect();
    else (nameInput.value ? roomInput : nameInput).focus();
  })();
}

/* --------------------------------------------------------------------- room */

function initRoom() {
  const prefix = '/chat-room/';
  let roomName = '';
  try {
    roomName = decodeURIComponent(location.pathname.slice(prefix.length));
  } catch {
    roomName = location.pathname.slice(prefix.length);
  }

  const ui = {
    title: byTestId('room-title'),
    me: byTestId('me'),
    leave: byTestId('leave-button'),
    gate: byTestId('name-gate'),
    gateForm: byTestId('name-gate-form'),
    gateName: byTestId('gate-name'),
    gateError: byTestId('gate-error'),
    notFound: byTestId('not-found'),
    notFoundName: byTestId('not-found-name'),
    createButton: byTestId('create-room-button'),
    createError: byTestId('create-error'),
    fatal: byTestId('fatal'),
    fatalText: byTestId('fatal-text'),
    chat: byTestId('chat'),
    banner: byTestId('banner'),
    scroller: byTestId('message-scroller'),
    loadOlder: byTestId('load-older'),
    historyStart: byTestId('history-start'),
    list: byTestId('message-list'),
    outbox: byTestId('outbox'),
    composerForm: byTestId('composer-form'),
    composer: byTestId('composer'),
    composerError: byTestId('composer-error'),
    members: byTestId('member-list'),
    memberCount: byTestId('member-count'),
  };

  ui.title.textContent = roomName;
  ui.notFoundName.textContent = roomName;
  document.title = `${roomName} · Confab`;

  let me = null;
  let client = null;

  const view = {
    phase: 'init', // init | joining | joined | not_found | fatal
    lastSeq: 0, // highest seq applied in order (live + replay)
    membersAt: 0, // the member list reflects the room at this seq
    buffer: new Map(), // seq -> event, received past a gap
    gapTimer: null,
    oldestSeq: null, // lowest seq loaded (for paging back)
    moreOlder: false,
    loadingOlder: false,
    items: new Map(), // seq -> element
    messages: new Map(), // message id -> { id, el, authorId, text, deleted, editing }
    members: new Map(), // user id -> { id, name }
    outbox: [], // { clientId, text, el, status, inflight, seq }
  };

  function show(section) {
    for (const key of ['gate', 'notFound', 'fatal', 'chat']) ui[key].hidden = key !== section;
    ui.leave.hidden = section !== 'chat';
  }

  function fatal(text) {
    view.phase = 'fatal';
    ui.fatalText.textContent = text;
    show('fatal');
  }

  function renderMe() {
    ui.me.hidden = !me;
    ui.me.textContent = me ? me.name : '';
    if (me) ui.me.title = `You are chatting as ${me.name}`;
  }

  /* ---- members */

  function renderMembers() {
    const sorted = [...view.members.values()].sort((a, b) => {
      if (me && a.id === me.id) return -1;
      if (me && b.id === me.id) return 1;
      return String(a.name).localeCompare(String(b.name));
    });
    ui.members.replaceChildren(
      ...sorted.map((m) =>
        h(
          'li',
          { class: 'member', 'data-testid': 'member', 'data-user-id': m.id },
          h('span', { class: 'presence', 'aria-hidden': 'true' }),
          h('span', { class: 'member-name', 'data-testid': 'member-name', text: m.name }),
          me && m.id === me.id ? h('span', { class: 'you', text: '(you)' }) : null,
        ),
      ),
    );
    ui.memberCount.textContent = String(view.members.size);
  }

  function setMembers(list) {
    view.members.clear();
    for (const m of list || []) if (m && m.id) view.members.set(m.id, { id: m.id, name: m.name });
    renderMembers();
  }

  /* ---- message list */

  function isNearBottom() {
    const s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }

  function insertItem(seq, node) {
    if (view.items.has(seq)) return false;
    node.dataset.seq = String(seq);
    view.items.set(seq, node);
    const list = ui.list;
    const last = list.lastElementChild;
    if (!last || Number(last.dataset.seq) < seq) {
      list.append(node);
      return true;
    }
    let child = list.firstElementChild;
    while (child && Number(child.dataset.seq) < seq) child = child.nextElementSibling;
    list.insertBefore(node, child);
    return true;
  }

  function clearList() {
    ui.list.replaceChildren();
    view.items.clear();
    view.messages.clear();
    view.buffer.clear();
    view.oldestSeq = null;
    view.moreOlder = false;
    renderHistoryControls();
  }

  function systemLine(ev, text) {
    return h(
      'li',
      { class: 'system', 'data-testid': 'system-line', 'data-kind': ev.kind, title: formatTime(ev.at) },
      h('span', { text }),
    );
  }

  function messageNode(msg, ev) {
    const author = ev.actor || {};
    const mine = !!me && author.id === me.id;
    const node = h('li', {
      class: mine ? 'msg mine' : 'msg',
      'data-testid': 'message',
      'data-message-id': msg.id,
      'data-author-id': author.id || '',
    });
    const actions = h('div', { class: 'msg-actions', 'data-testid': 'message-actions' });
    const head = h(
      'div',
      { class: 'msg-head' },
      h('span', { class: 'author', 'data-testid': 'message-author', text: author.name || 'unknown' }),
      h('time', { class: 'time', datetime: new Date(ev.at || 0).toISOString(), text: formatTime(ev.at) }),
      h('span', { class: 'edited', 'data-testid': 'edited-mark', text: '(edited)', hidden: true }),
      actions,
    );
    const body = h('div', { class: 'msg-body', 'data-testid': 'message-text' });
    node.append(head, body);
    return node;
  }

  function renderMessageState(m) {
    const node = m.el;
    const body = $('.msg-body', node);
    const edited = $('.edited', node);
    const actions = $('.msg-actions', node);
    node.classList.toggle('deleted', m.deleted);
    node.dataset.deleted = String(m.deleted);
    node.classList.toggle('mine', !!me && m.authorId === me.id);
    if (m.deleted) {
      body.textContent = 'message deleted';
      edited.hidden = true;
      actions.replaceChildren();
      return;
    }
    body.textContent = m.text;
    edited.hidden = !m.edited;
    if (me && m.authorId === me.id && !m.editing && !m.confirming) {
      actions.replaceChildren(
        h('button', {
          type: 'button',
          class: 'link',
          'data-testid': 'edit-button',
          'aria-label': 'Edit message',
          text: 'Edit',
          onclick: () => startEdit(m),
        }),
        h('button', {
          type: 'button',
          class: 'link danger',
          'data-testid': 'delete-button',
          'aria-label': 'Delete message',
          text: 'Delete',
          onclick: () => confirmDelete(m),
        }),
      );
    } else if (!m.confirming) {
      actions.replaceChildren();
    }
  }

  function addMessage(ev) {
    const msg = ev.message || {};
    if (msg.id == null || view.items.has(ev.seq)) return;
    const node = messageNode(msg, ev);
    const m = {
      id: msg.id,
      el: node,
      authorId: ev.actor?.id,
      text: msg.content?.text ?? '',
      edited: msg.edited_at != null,
      deleted: !!msg.deleted,
      editing: false,
      confirming: false,
    };
    view.messages.set(String(msg.id), m);
    renderMessageState(m);
    insertItem(ev.seq, node);
    // Our own message arrived: it is no longer pending.
    if (me && ev.actor?.id === me.id) {
      const entry = view.outbox.find(
        (o) => (msg.client_id != null && o.clientId === msg.client_id) || (o.seq != null && o.seq === ev.seq),
      );
      if (entry) removeFromOutbox(entry);
    }
  }

  function renderEvent(ev, live) {
    const name = ev.actor?.name || 'someone';
    switch (ev.kind) {
      case 'message':
        addMessage(ev);
        break;
      case 'edit': {
        // History pages already show each message's current state; only live/replayed edits change it.
        if (!live) break;
        const m = view.messages.get(String(ev.message_id));
        if (m && !m.deleted) {
          m.text = ev.content?.text ?? m.text;
          m.edited = true;
          if (!m.editing) renderMessageState(m);
        }
        break;
      }
      case 'delete': {
        if (!live) break;
        const m = view.messages.get(String(ev.message_id));
        if (m) markDeleted(m);
        break;
      }
      case 'join':
        insertItem(ev.seq, systemLine(ev, `${name} joined`));
        if (live && ev.seq > view.membersAt && ev.actor?.id) {
          view.members.set(ev.actor.id, { id: ev.actor.id, name: ev.actor.name });
          renderMembers();
        }
        break;
      case 'leave':
        insertItem(ev.seq, systemLine(ev, `${name} left`));
        if (live && ev.seq > view.membersAt && ev.actor?.id) {
          view.members.delete(ev.actor.id);
          renderMembers();
        }
        break;
      default:
        break; // unknown kinds are skipped (their seq still counts)
    }
  }

  function markDeleted(m) {
    if (m.editing) stopEdit(m);
    m.confirming = false;
    m.deleted = true;
    renderMessageState(m);
  }

  /** Applies a live or replayed event in (room, seq) order: a seq already applied is ignored, one past a gap waits. */
  function applyLive(ev) {
    if (typeof ev.seq !== 'number' || ev.seq <= view.lastSeq) return;
    if (ev.seq > view.lastSeq + 1) {
      view.buffer.set(ev.seq, ev);
      scheduleGapFill();
      return;
    }
    const stick = isNearBottom();
    let next = ev;
    while (next) {
      view.buffer.delete(next.seq);
      view.lastSeq = next.seq;
      renderEvent(next, true);
      next = view.buffer.get(view.lastSeq + 1);
    }
    for (const seq of view.buffer.keys()) if (seq <= view.lastSeq) view.buffer.delete(seq);
    ui.list.dataset.lastSeq = String(view.lastSeq);
    if (view.oldestSeq == null) view.oldestSeq = ev.seq;
    if (stick) scrollToBottom();
  }

  function scheduleGapFill() {
    if (view.gapTimer) return;
    view.gapTimer = setTimeout(async () => {
      view.gapTimer = null;
      if (!view.buffer.size || !client.connected) return;
      try {
        const ack = await client.request('history', { room: roomName, after: view.lastSeq, limit: 200 });
        for (const ev of ack.events || []) applyLive(ev);
      } catch { /* retried below or on reconnect */ }
      if (view.buffer.size) scheduleGapFill();
    }, 2000);
  }

  function renderHistoryControls() {
    ui.loadOlder.hidden = !view.moreOlder;
    ui.loadOlder.disabled = view.loadingOlder;
    ui.historyStart.hidden = view.moreOlder || view.phase !== 'joined';
  }

  /** Loads one page of events older than `before` and inserts it above what is shown. */
  async function loadPage(before) {
    const ack = await client.request('history', { room: roomName, before, limit: 50 });
    const events = ack.events || [];
    for (const ev of events) if (typeof ev.seq === 'number') renderEvent(ev, false);
    if (events.length) {
      const first = events[0].seq;
      view.oldestSeq = view.oldestSeq == null ? first : Math.min(view.oldestSeq, first);
    } else if (view.oldestSeq == null) {
      view.oldestSeq = before;
    }
    view.moreOlder = !!ack.more && events.length > 0;
    renderHistoryControls();
  }

  async function loadOlder() {
    if (view.loadingOlder || !view.moreOlder || !client.connected) return;
    view.loadingOlder = true;
    renderHistoryControls();
    const s = ui.scroller;
    const fromBottom = s.scrollHeight - s.scrollTop;
    try {
      await loadPage(view.oldestSeq ?? view.lastSeq + 1);
      s.scrollTop = s.scrollHeight - fromBottom; // keep the reader's place
    } catch (err) {
      if (err.code !== 'disconnected') setBanner(`Could not load older messages: ${describeError(err)}`);
    } finally {
      view.loadingOlder = false;
      renderHistoryControls();
    }
  }

  /** Shows the newest page of history for a fresh view of the room whose top is `top`. */
  async function loadLatest(top) {
    view.oldestSeq = null;
    if (top <= 0) {
      view.moreOlder = false;
      renderHistoryControls();
      return;
    }
    try {
      await loadPage(top + 1);
    } catch (err) {
      if (err.code !== 'disconnected') setBanner(`Could not load the history: ${describeError(err)}`);
      // Leave the way back open: "load older" (or scrolling up) asks again.
      view.moreOlder = true;
      if (view.oldestSeq == null) view.oldestSeq = top + 1;
      renderHistoryControls();
      return;
    }
    scrollToBottom();
    // A short first page may not fill the screen; then scrolling cannot trigger paging.
    if (view.moreOlder && ui.scroller.scrollHeight <= ui.scroller.clientHeight) loadOlder();
  }

  function setBanner(text) {
    showText(ui.banner, text);
  }

  /* ---- joining */

  function canonicalRoom(ack) {
    if (typeof ack.room === 'string') return ack.room;
    if (ack.room && typeof ack.room.name === 'string') return ack.room.name;
    return roomName;
  }

  async function joinFresh(create) {
    view.phase = 'joining';
    let ack;
    try {
      ack = await client.request('join', { room: roomName, create });
    } catch (err) {
      if (err.code === 'disconnected') {
        view.phase = 'init'; // joined again on the next welcome
        return;
      }
      if (err.code === 'room_not_found') {
        view.phase = 'not_found';
        show('notFound');
        return;
      }
      if (create) {
        view.phase = 'not_found';
        showText(ui.createError, describeError(err));
        return;
      }
      fatal(describeError(err));
      return;
    }
    roomName = canonicalRoom(ack);
    ui.title.textContent = roomName;
    document.title = `${roomName} · Confab`;
    view.phase = 'joined';
    clearList();
    view.lastSeq = ack.top_seq || 0;
    ui.list.dataset.lastSeq = String(view.lastSeq);
    view.membersAt = view.lastSeq;
    setMembers(ack.members);
    show('chat');
    setBanner('');
    ui.composer.focus();
    await loadLatest(view.lastSeq);
    flushOutbox();
  }

  /** Re-joins after a reconnect, resuming from the last seq applied. */
  async function resume() {
    let ack;
    try {
      ack = await client.request('join', { room: roomName, since: view.lastSeq });
    } catch (err) {
      if (err.code === 'disconnected') return;
      if (err.code === 'bad_seq') {
        // The server has fewer events than we saw (its data was reset): start over.
        setBanner('The room history changed on the server; reloaded.');
        return joinFresh(false);
      }
      if (err.code === 'room_not_found') {
        view.phase = 'not_found';
        show('notFound');
        return;
      }
      setBanner(`Could not rejoin the room: ${describeError(err)}`);
      return;
    }
    view.membersAt = ack.top_seq || 0;
    setMembers(ack.members);
    if (ack.complete === false) {
      // Too much was missed to replay: jump to the present, older events stay reachable by paging.
      clearList();
      view.lastSeq = ack.top_seq || 0;
      ui.list.dataset.lastSeq = String(view.lastSeq);
      await loadLatest(view.lastSeq);
    }
    // Replayed events (sent after this ack) arrive through onEvent and are applied in seq order.
    setBanner('');
    flushOutbox();
    if (view.moreOlder && view.items.size === 0) loadOlder(); // the first history load was cut off
  }

  /* ---- sending, with an outbox that survives disconnections */

  function renderOutboxEntry(entry) {
    const statusText = {
      queued: 'waiting for the connection…',
      sending: 'sending…',
      sent: 'sent',
      failed: entry.error || 'not sent',
    }[entry.status];
    entry.el.dataset.status = entry.status;
    $('.pending-status', entry.el).textContent = statusText;
    const actions = $('.msg-actions', entry.el);
    if (entry.status === 'failed') {
      actions.replaceChildren(
        h('button', {
          type: 'button',
          class: 'link',
          'data-testid': 'retry-button',
          text: 'Retry',
          onclick: () => {
            entry.status = 'queued';
            renderOutboxEntry(entry);
            trySend(entry);
          },
        }),
        h('button', {
          type: 'button',
          class: 'link danger',
          'data-testid': 'discard-button',
          text: 'Discard',
          onclick: () => removeFromOutbox(entry),
        }),
      );
    } else {
      actions.replaceChildren();
    }
  }

  function removeFromOutbox(entry) {
    const i = view.outbox.indexOf(entry);
    if (i >= 0) view.outbox.splice(i, 1);
    entry.el.remove();
  }

  function queueMessage(text) {
    const entry = {
      clientId: randomId('c-'),
      text,
      status: 'queued',
      inflight: false,
      seq: null,
      error: null,
      el: null,
    };
    entry.el = h(
      'li',
      { class: 'msg mine pending', 'data-testid': 'pending-message', 'data-client-id': entry.clientId },
      h(
        'div',
        { class: 'msg-head' },
        h('span', { class: 'author', text: me?.name || 'you' }),
        h('span', { class: 'pending-status', 'data-testid': 'pending-status' }),
        h('div', { class: 'msg-actions' }),
      ),
      h('div', { class: 'msg-body', 'data-testid': 'message-text', text }),
    );
    view.outbox.push(entry);
    ui.outbox.append(entry.el);
    renderOutboxEntry(entry);
    scrollToBottom();
    trySend(entry);
  }

  async function trySend(entry) {
    if (entry.inflight || entry.status === 'sent' || entry.status === 'failed') return;
    if (view.phase !== 'joined' || !client.connected) return; // flushed after the next (re)join
    entry.inflight = true;
    entry.status = 'sending';
    renderOutboxEntry(entry);
    try {
      const ack = await client.request('send', { room: roomName, text: entry.text, client_id: entry.clientId });
      entry.inflight = false;
      entry.seq = ack.seq;
      if (view.items.has(ack.seq) || ack.seq <= view.lastSeq) removeFromOutbox(entry);
      else {
        entry.status = 'sent';
        renderOutboxEntry(entry);
      }
    } catch (err) {
      entry.inflight = false;
      if (['disconnected', 'not_joined', 'timeout'].includes(err.code)) {
        entry.status = 'queued'; // sent again, with the same client_id, after reconnecting
        renderOutboxEntry(entry);
      } else if (['rate_limited', 'unavailable'].includes(err.code)) {
        entry.status = 'queued';
        renderOutboxEntry(entry);
        setTimeout(() => trySend(entry), 1500);
      } else {
        entry.status = 'failed';
        entry.error = describeError(err);
        renderOutboxEntry(entry);
      }
    }
  }

  function flushOutbox() {
    for (const entry of view.outbox) if (entry.status === 'queued' || entry.status === 'sending') trySend(entry);
  }

  /* ---- editing and deleting our own messages */

  function startEdit(m) {
    if (m.editing || m.deleted) return;
    m.editing = true;
    const body = $('.msg-body', m.el);
    const actions = $('.msg-actions', m.el);
    const input = h('textarea', {
      class: 'edit-input',
      'data-testid': 'edit-input',
      'aria-label': 'Edit message',
      rows: Math.min(8, Math.max(1, m.text.split('\n').length)),
    });
    input.value = m.text;
    const error = h('p', { class: 'field-error', 'data-testid': 'edit-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'button', class: 'small', 'data-testid': 'save-edit', text: 'Save' });
    const cancel = h('button', {
      type: 'button',
      class: 'small secondary',
      'data-testid': 'cancel-edit',
      text: 'Cancel',
    });
    const box = h(
      'div',
      { class: 'edit-box', 'data-testid': 'edit-box' },
      input,
      h('div', { class: 'edit-actions' }, save, cancel, h('span', { class: 'hint', text: 'Enter to save, Esc to cancel' })),
      error,
    );
    m.editBox = box;
    body.hidden = true;
    actions.replaceChildren();
    body.after(box);
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);

    const doSave = async () => {
      const text = input.value;
      if (!text.trim()) {
        showText(error, ERROR_TEXT.text_empty);
        return;
      }
      if (text === m.text) {
        stopEdit(m);
        return;
      }
      save.disabled = true;
      try {
        await client.request('edit', { room: roomName, message_id: m.id, text });
        m.text = text;
        m.edited = true;
        stopEdit(m);
      } catch (err) {
        save.disabled = false;
        showText(error, describeError(err));
      }
    };
    save.addEventListener('click', doSave);
    cancel.addEventListener('click', () => stopEdit(m));
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        stopEdit(m);
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        doSave();
      }
    });
  }

  function stopEdit(m) {
    if (!m.editing) return;
    m.editing = false;
    m.editBox?.remove();
    m.editBox = null;
    $('.msg-body', m.el).hidden = false;
    renderMessageState(m);
  }

  function confirmDelete(m) {
    if (m.deleted) return;
    m.confirming = true;
    const actions = $('.msg-actions', m.el);
    const error = h('span', { class: 'field-error inline', 'data-testid': 'delete-error', role: 'alert', hidden: true });
    const yes = h('button', { type: 'button', class: 'small danger', 'data-testid': 'confirm-delete', text: 'Delete' });
    const no = h('button', { type: 'button', class: 'small secondary', 'data-testid': 'cancel-delete', text: 'Keep' });
    actions.replaceChildren(h('span', { class: 'confirm-text', text: 'Delete this message?' }), yes, no, error);
    yes.focus();
    no.addEventListener('click', () => {
      m.confirming = false;
      renderMessageState(m);
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await client.request('delete', { room: roomName, message_id: m.id });
        markDeleted(m);
      } catch (err) {
        yes.disabled = false;
        showText(error, describeError(err));
      }
    });
  }

  /* ---- composer */

  function autosize() {
    const c = ui.composer;
    c.style.height = 'auto';
    c.style.height = `${Math.min(c.scrollHeight, 160)}px`;
  }

  function submitComposer() {
    const text = ui.composer.value;
    showText(ui.composerError, '');
    if (!text.trim()) return;
    const max = client?.limits?.max_text_bytes;
    if (max && byteLength(text) > max) {
      showText(ui.composerError, `The message is too long (${byteLength(text)} of ${max} bytes).`);
      return;
    }
    ui.composer.value = '';
    autosize();
    queueMessage(text);
  }

  ui.composerForm.addEventListener('submit', (e) => {
    e.preventDefault();
    submitComposer();
    ui.composer.focus();
  });
  ui.composer.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitComposer();
    }
  });
  ui.composer.addEventListener('input', autosize);
  ui.loadOlder.addEventListener('click', loadOlder);
  ui.scroller.addEventListener('scroll', () => {
    if (ui.scroller.scrollTop < 60) loadOlder();
  });

  ui.createButton.addEventListener('click', async () => {
    showText(ui.createError, '');
    if (!client?.connected) {
      showText(ui.createError, ERROR_TEXT.disconnected);
      return;
    }
    ui.createButton.disabled = true;
    try {
      await joinFresh(true);
    } finally {
      ui.createButton.disabled = false;
    }
  });

  ui.leave.addEventListener('click', async () => {
    ui.leave.disabled = true;
    try {
      if (client?.connected) await client.request('leave', { room: roomName }, { timeoutMs: 3000 });
    } catch { /* leaving anyway */ }
    location.assign('/');
  });

  /* ---- connection */

  function refreshOwnership() {
    for (const m of view.messages.values()) if (!m.editing) renderMessageState(m);
    renderMembers();
  }

  function startChat() {
    client = new ConfabClient({
      onState: renderConnState,
      onWelcome: (welcome) => {
        const changed = !me || me.id !== welcome.user.id;
        me = welcome.user;
        renderMe();
        if (changed) refreshOwnership();
        if (view.phase === 'init') joinFresh(false);
        else if (view.phase === 'joined') resume();
      },
      onNoSession: throttled(5000, async () => {
        // Our session is gone (expired, or the server forgot it). Start a new guest session with the same name.
        const name = me?.name || rememberedName();
        if (!name) {
          askForName();
          return;
        }
        try {
          await apiGuest(name);
          setBanner('Your session expired; you continue as a new guest.');
        } catch { /* retried by the reconnect below */ }
        client.reconnectNow();
      }),
      onEvent: (ev) => {
        if (ev.room !== roomName) return;
        if (view.phase !== 'joined') return;
        applyLive(ev);
      },
    });
    client.start();
  }

  let gatePreviousSection = null;

  function askForName() {
    gatePreviousSection = ['notFound', 'fatal', 'chat'].find((key) => !ui[key].hidden) || null;
    show('gate');
    ui.gateName.value = rememberedName();
    ui.gateName.focus();
  }

  ui.gateForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = ui.gateName.value.trim();
    if (!name) {
      showText(ui.gateError, 'Enter a display name.');
      return;
    }
    showText(ui.gateError, '');
    try {
      me = await apiGuest(name);
    } catch (err) {
      showText(ui.gateError, describeError(err));
      return;
    }
    renderMe();
    if (gatePreviousSection) show(gatePreviousSection);
    else ui.gate.hidden = true;
    if (client) client.reconnectNow();
    else startChat();
  });

  (async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        me = await apiMe();
        break;
      } catch (err) {
        renderConnState(attempt ? 'reconnecting' : 'connecting');
        await new Promise((r) => setTimeout(r, Math.min(5000, 300 * 2 ** attempt)));
      }
    }
    renderMe();
    if (me) startChat();
    else askForName();
  })();
}

/* --------------------------------------------------------------------- boot */

function boot() {
  const page = document.body.dataset.page;
  if (page === 'lobby') initLobby();
  else if (page === 'room') initRoom();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
else boot();

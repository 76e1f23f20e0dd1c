// Confab's web client: boots the single-page app, routes by path (`/` is the room browser,
// `/chat-room/<name>` a room) with history.pushState on one connection, and wires the views together.
// Module map: protocol.js (the wire), state.js + window.js + outbox.js (state, no DOM), chat.js (the
// controller), timeline.js + message.js, composer.js, sidebar.js, settings.js (views), format.js, dom.js,
// storage.js. ui/README.md says where the next issues plug in.

import * as api from './api.js';
import { Chat } from './chat.js';
import { Store } from './state.js';
import { Drafts, defaultStorage, readJson, writeJson } from './storage.js';
import { Timeline } from './timeline.js';
import { Composer } from './composer.js';
import { Sidebar, RoomBrowser } from './sidebar.js';
import { Settings } from './settings.js';
import { byTestId as $, showText } from './dom.js';

const storage = defaultStorage();
const store = new Store();
const views = ['welcome', 'browse', 'missing', 'room'];
let route = parseRoute(location.pathname);

function parseRoute(path) {
  const m = /^\/chat-room\/(.+)$/.exec(path);
  if (!m) return { room: null };
  try {
    return { room: decodeURIComponent(m[1]) };
  } catch {
    return { room: m[1] };
  }
}

function showView(name) {
  for (const v of views) $(`view-${v}`).hidden = v !== name;
  const inRoom = name === 'room';
  $('leave-button').hidden = !inRoom;
  $('members-toggle').hidden = !inRoom;
  if (inRoom) $('members-toggle').setAttribute('aria-expanded', String(membersShown()));
  document.body.dataset.view = name;
}

/* ---- the pieces */

let announceTimer = null;
const announcer = $('announcer');
function announce(text) {
  // Clear then set, so a screen reader announces a repeat of the same words too.
  clearTimeout(announceTimer);
  announcer.textContent = '';
  announceTimer = setTimeout(() => { announcer.textContent = text; }, 50);
}

const chat = new Chat({
  store,
  storage,
  views: {
    timeline: null,
    onNoSession: () => recoverSession(),
    onMissing: (room) => {
      $('missing-name').textContent = room.name;
      setTitle(room.name);
      showView('missing');
    },
    onJoined: (room) => {
      if (store.active !== room.name) return;
      setTitle(room.name);
      showView('room');
      // Opening a room puts the focus in its message box, unless the person is typing elsewhere.
      const typing = document.activeElement?.matches?.('input, textarea, [contenteditable]');
      if (!typing || document.activeElement === $('composer')) composer.focus();
      if (route.room && route.room !== room.name) {
        route = { room: room.name };
        history.replaceState(null, '', roomPath(room.name));
      }
    },
    onError: (room, err) => showText($('banner'), `Could not open ${room.name}: ${err.message}`),
  },
});

const timeline = new Timeline({
  chat,
  store,
  announce,
  onEditDone: () => composer.focus(),
  els: {
    scroller: $('message-scroller'),
    list: $('message-list'),
    jump: $('jump-latest'),
    jumpCount: $('jump-count'),
    start: $('history-start'),
    startName: $('history-start-name'),
    loadingOlder: $('loading-older'),
    banner: $('banner'),
  },
});
chat.views.timeline = timeline;

const composer = new Composer({
  chat,
  store,
  timeline,
  drafts: new Drafts(storage),
  els: { form: $('composer-form'), input: $('composer'), error: $('composer-error'), outbox: $('outbox') },
});

const sidebar = new Sidebar({
  store,
  navigate,
  els: {
    root: $('sidebar'), list: $('my-rooms'), empty: $('my-rooms-empty'), filter: $('room-filter'),
    browse: $('browse-rooms'), open: $('open-sidebar'), close: $('close-sidebar'), scrim: $('scrim'),
  },
});

const browser = new RoomBrowser({
  store,
  chat,
  navigate,
  els: {
    form: $('create-form'), name: $('create-name'), submit: $('create-submit'), error: $('create-error'),
    status: $('directory-status'), list: $('directory'),
  },
});

const settings = new Settings({
  storage,
  store,
  els: { open: $('settings-button'), toggle: $('theme-toggle'), dialog: $('settings-dialog'), account: $('account-text') },
});

/* ---- rendering on every store change */

const CONN_TEXT = { connecting: 'Connecting…', live: 'Live', offline: 'Offline' };
let countdown = null;

function renderConnection() {
  const { state, retryAt } = store.conn;
  const node = $('connection-state');
  node.dataset.state = state;
  const text = () => {
    if (state !== 'reconnecting') return CONN_TEXT[state] || state;
    const left = retryAt ? Math.ceil((retryAt - Date.now()) / 1000) : 0;
    return left > 0 ? `Reconnecting in ${left} s` : 'Reconnecting…';
  };
  $('connection-text').textContent = text();
  clearInterval(countdown);
  if (state === 'reconnecting' && retryAt) {
    countdown = setInterval(() => { $('connection-text').textContent = text(); }, 250);
  }
  $('retry-now').hidden = state !== 'reconnecting' && state !== 'offline';
}

store.on(() => {
  renderConnection();
  sidebar.render();
  browser.render();
  composer.renderOutbox();
  settings.renderAccount();
  const me = store.me;
  $('me').textContent = me ? me.name : '';
  $('me-avatar').textContent = me ? me.name.slice(0, 2).toUpperCase() : '';
  const room = store.active && store.room(store.active);
  if (room) renderMembers(room);
});

function renderMembers(room) {
  const me = store.me;
  const members = [...room.members.values()].sort((a, b) =>
    (me && a.id === me.id ? -1 : me && b.id === me.id ? 1 : String(a.name).localeCompare(String(b.name))));
  const list = $('member-list');
  list.replaceChildren(...members.map((m) => {
    const li = document.createElement('li');
    li.className = 'member';
    li.dataset.testid = 'member';
    li.dataset.userId = m.id;
    const dot = document.createElement('span');
    dot.className = 'presence';
    dot.setAttribute('aria-hidden', 'true');
    const name = document.createElement('span');
    name.className = 'member-name';
    name.dataset.testid = 'member-name';
    name.textContent = m.name;
    li.append(dot, name);
    if (me && m.id === me.id) {
      const you = document.createElement('span');
      you.className = 'you';
      you.textContent = '(you)';
      li.append(you);
    }
    return li;
  }));
  $('member-count').textContent = String(members.length);
}

/* ---- routing */

const roomPath = (name) => `/chat-room/${encodeURIComponent(name)}`;

function setTitle(name) {
  $('room-title').textContent = name ? `# ${name}` : 'Rooms';
  document.title = name ? `${name} · Confab` : 'Confab';
}

function navigate(path) {
  if (path !== location.pathname) history.pushState(null, '', path);
  route = parseRoute(location.pathname);
  applyRoute();
}

function applyRoute() {
  if (!store.me && !chat.conn.user) return; // the welcome view is showing
  if (!route.room) {
    store.active = null;
    store.changed();
    setTitle(null);
    showView('browse');
    $('create-name').focus();
    return;
  }
  const room = chat.open(route.room);
  if (room.status === 'missing') return;
  setTitle(room.name);
  showView('room');
  composer.open(room.name);
  if (room.status === 'joined') composer.focus();
}

addEventListener('popstate', () => {
  route = parseRoute(location.pathname);
  applyRoute();
});

$('create-missing').addEventListener('click', async () => {
  const room = store.room(store.active);
  if (!room) return;
  showText($('missing-error'), '');
  try {
    room.status = 'idle';
    await chat.join(room, { create: true });
    composer.open(room.name);
    composer.focus();
  } catch (err) {
    room.status = 'missing';
    showText($('missing-error'), err.message);
  }
});

$('leave-button').addEventListener('click', async () => {
  const name = store.active;
  if (name) await chat.leave(name);
  navigate('/');
});

$('retry-now').addEventListener('click', () => chat.conn.retryNow());

// Wide screens show the member list by default and narrow ones hide it, so the class flips whatever the
// width shows now, and aria-expanded says what is visible.
const membersShown = () => getComputedStyle($('members-panel')).display !== 'none';
$('members-toggle').addEventListener('click', () => {
  document.body.classList.toggle('members-open');
  $('members-toggle').setAttribute('aria-expanded', String(membersShown()));
});
matchMedia('(min-width: 1280px)').addEventListener('change', () =>
  $('members-toggle').setAttribute('aria-expanded', String(membersShown())));

/* ---- session */

const NAME_KEY = 'displayName';

function askName() {
  showView('welcome');
  const input = $('display-name');
  input.value = readJson(storage, NAME_KEY, '') || '';
  input.focus();
}

let recovering = false;
/** The cookie's session is gone (expired, or a reset server): a new guest session with the same name. */
async function recoverSession() {
  if (recovering) return;
  recovering = true;
  try {
    const name = store.me?.name || readJson(storage, NAME_KEY, '');
    if (!name) return askName();
    await api.guest(name);
    chat.conn.retryNow();
  } catch {
    setTimeout(() => chat.conn.retryNow(), 3000);
  } finally {
    recovering = false;
  }
}

$('name-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('display-name').value.trim();
  if (!name) return showText($('name-error'), 'Enter a display name.');
  showText($('name-error'), '');
  try {
    store.me = await api.guest(name);
  } catch (err) {
    showText($('name-error'), err.code === 'invalid_name'
      ? 'Display names are 1 to 32 characters, without control characters.' : err.message);
    return;
  }
  writeJson(storage, NAME_KEY, name);
  startConnection();
});

let started = false;
function startConnection() {
  if (started) chat.conn.retryNow();
  else chat.start();
  started = true;
  applyRoute();
}

async function boot() {
  if (route.room) setTitle(route.room);
  showView(route.room ? 'room' : 'browse');
  renderConnection();
  sidebar.render();
  document.documentElement.dataset.ready = 'shell';
  performance.mark('confab:shell');
  let user = null;
  for (let attempt = 0; ; attempt++) {
    try {
      user = await api.me();
      break;
    } catch {
      store.conn = { state: attempt ? 'reconnecting' : 'connecting', retryAt: null };
      store.changed();
      await new Promise((r) => setTimeout(r, Math.min(5000, 300 * 2 ** attempt)));
    }
  }
  if (!user) {
    const remembered = readJson(storage, NAME_KEY, '');
    if (remembered) user = await api.guest(remembered).catch(() => null);
  }
  if (!user) {
    askName();
    markInteractive();
    return;
  }
  store.me = user;
  if (!readJson(storage, NAME_KEY, '')) writeJson(storage, NAME_KEY, user.name);
  startConnection();
  markInteractive();
}

/** The session is known and every control works (the browser tests measure time to this mark). */
function markInteractive() {
  document.documentElement.dataset.ready = 'interactive';
  performance.mark('confab:interactive');
}

boot();

// Confab's web client: boots the single-page app, routes by path (`/` is the room browser,
// `/chat-room/<name>` a room, `/invite/<code>` a private room's invitation, `/register?invite=<code>` the
// register form with an administrator's registration code) with history.pushState on one connection, and
// wires the views together.
// Module map: protocol.js (the wire), api.js (HTTP), state.js + window.js + outbox.js (state, no DOM),
// chat.js (the controller), timeline.js + message.js, composer.js, sidebar.js, settings.js + account.js,
// roomsettings.js, auth.js (views), format.js, dom.js, storage.js. ui/README.md says where things plug in.

import * as api from './api.js';
import { Chat } from './chat.js';
import { Store } from './state.js';
import { Drafts, defaultStorage, readJson, writeJson } from './storage.js';
import { Timeline } from './timeline.js';
import { Composer } from './composer.js';
import { Sidebar, RoomBrowser } from './sidebar.js';
import { Settings } from './settings.js';
import { Welcome } from './auth.js';
import { Account } from './account.js';
import { RoomSettings } from './roomsettings.js';
import { byTestId as $, showText } from './dom.js';
import { isAccount } from './message.js';

const storage = defaultStorage();
const store = new Store();
const views = ['welcome', 'browse', 'missing', 'invite', 'room'];
let route = parseRoute(location.pathname);

function parseRoute(path) {
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const invite = /^\/invite\/([^/]+)$/.exec(path);
  if (invite) return { room: null, invite: decode(invite[1]) };
  // The link of a registration invite (`POST /api/admin/invites`); auth.js reads `?invite=` into the form.
  if (path === '/register') return { room: null, register: true };
  const m = /^\/chat-room\/(.+)$/.exec(path);
  return m ? { room: decode(m[1]) } : { room: null };
}

function showView(name) {
  for (const v of views) $(`view-${v}`).hidden = v !== name;
  const inRoom = name === 'room';
  $('leave-button').hidden = !inRoom;
  $('members-toggle').hidden = !inRoom;
  renderRoomButtons();
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
    onRemoved: (room, ev, wasOpen) => {
      const how = ev.kind === 'ban' ? 'banned you from' : 'removed you from';
      const text = `${ev.actor?.name || 'A moderator'} ${how} ${room.label(store.me)}.`;
      announce(text);
      if (roomSettings.room === room) $('room-dialog').close();
      if (wasOpen) {
        navigate('/');
        showText($('browse-notice'), text);
      }
    },
    onClosed: (code, reason) => {
      if (!SIGNED_OUT_REASONS.has(reason)) return false;
      signedOut(reason === 'account_disabled' ? 'This account was disabled by an administrator.'
        : 'You were signed out: this session ended on another device or was revoked.');
      return true;
    },
  },
});

/** Close reasons after which this page's session is gone for good (docs/protocol.md). */
const SIGNED_OUT_REASONS = new Set(['session_revoked', 'session_expired', 'account_disabled', 'guests_not_allowed']);

const timeline = new Timeline({
  chat,
  store,
  announce,
  onDirect: (person) => openDirect(person),
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
    dmList: $('dm-list'), dmNote: $('dm-note'),
    browse: $('browse-rooms'), open: $('open-sidebar'), close: $('close-sidebar'), scrim: $('scrim'),
  },
});

const browser = new RoomBrowser({
  store,
  chat,
  navigate,
  els: {
    form: $('create-form'), name: $('create-name'), submit: $('create-submit'), error: $('create-error'),
    private: $('create-private'),
    status: $('directory-status'), list: $('directory'),
  },
});

const account = new Account({
  store,
  els: { text: $('account-text'), panel: $('account-panel') },
  onSignIn: () => {
    $('settings-dialog').close();
    welcome.show('signin');
    showView('welcome');
  },
  onSignedOut: (everywhere) => signedOut(everywhere ? 'You signed out on every device.' : 'You signed out.'),
});

const settings = new Settings({
  storage,
  account,
  els: { open: $('settings-button'), toggle: $('theme-toggle'), dialog: $('settings-dialog') },
});

const roomSettings = new RoomSettings({
  store,
  onDirect: (person) => openDirect(person),
  els: { dialog: $('room-dialog'), heading: $('room-dialog-heading'), body: $('room-dialog-body') },
});
$('room-settings-button').addEventListener('click', () => {
  const room = store.active && store.room(store.active);
  if (room) roomSettings.open(room);
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
  account.render();
  renderRoomButtons();
  const me = store.me;
  $('me').textContent = me ? me.name : '';
  $('me-avatar').textContent = me ? me.name.slice(0, 2).toUpperCase() : '';
  const room = store.active && store.room(store.active);
  if (room) renderMembers(room);
  roomSettings.sync();
  if (room && room.status === 'joined' && document.body.dataset.view === 'room') setTitle(room.name);
});

/** Room settings are for rooms (not direct conversations) the person has joined. */
function renderRoomButtons() {
  const room = store.active && store.room(store.active);
  $('room-settings-button').hidden = !(document.body.dataset.view === 'room' && room && room.status === 'joined' && !room.direct);
  const canPrivate = store.me?.kind === 'user';
  $('create-private-field').hidden = !canPrivate;
  $('create-private-hint').hidden = !canPrivate;
}

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
    } else if (me?.kind === 'user' && isAccount(m) && !room.direct) {
      // A member's name starts a direct conversation with them.
      const dm = document.createElement('button');
      dm.type = 'button';
      dm.className = 'icon-button member-dm';
      dm.dataset.testid = 'member-dm';
      dm.setAttribute('aria-label', `Send a direct message to ${m.name}`);
      dm.title = `Send a direct message to ${m.name}`;
      dm.textContent = '@';
      dm.addEventListener('click', () => openDirect(m));
      li.append(dm);
    }
    return li;
  }));
  $('member-count').textContent = String(members.length);
}

/* ---- routing */

const roomPath = (name) => `/chat-room/${encodeURIComponent(name)}`;

function setTitle(name) {
  const room = name && store.room(name);
  const label = room ? room.label(store.me) : name;
  const mark = room?.direct ? '@' : room?.kind === 'private' ? '🔒' : '#';
  $('room-title').textContent = name ? `${mark} ${label}` : 'Rooms';
  document.title = name ? `${label} · Confab` : 'Confab';
}

/** Opens the direct conversation with `person` ({id, name, username?}) and shows it. */
async function openDirect(person) {
  try {
    const room = await chat.openDirect([person.username || person.id]);
    navigate(roomPath(room.name));
  } catch (err) {
    announce(`Could not open a direct conversation with ${person.name}: ${err.message}`);
    showText($('banner'), `Could not open a direct conversation with ${person.name}: ${err.message}`);
  }
}

function navigate(path) {
  if (path !== location.pathname) history.pushState(null, '', path);
  route = parseRoute(location.pathname);
  applyRoute();
}

function applyRoute() {
  if (!store.me && !chat.conn.user) return; // the welcome view is showing
  showText($('browse-notice'), '');
  if (route.register) {
    // Signed in (just registered, or already): the registration link has served; the room browser is `/`.
    history.replaceState(null, '', '/');
    route = parseRoute('/');
  }
  if (route.invite) {
    acceptInvite(route.invite);
    return;
  }
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

/* ---- invitations */

/** `/invite/<code>`: accepted once the person is signed in with an account, then the room opens. */
async function acceptInvite(code) {
  showView('invite');
  setTitle(null);
  $('room-title').textContent = 'Invitation';
  showText($('invite-error'), '');
  if (store.me?.kind !== 'user') {
    $('invite-status').textContent = 'Sign in to accept this invitation.';
    welcome.show('signin', 'Sign in or create an account to accept the invitation.');
    showView('welcome');
    return;
  }
  $('invite-status').textContent = 'Opening the invitation…';
  try {
    const room = await api.acceptInvite(code);
    const name = typeof room === 'string' ? room : room?.name;
    if (!name) throw new Error('the server named no room');
    const state = store.findRoom(name) || store.addRoom(name);
    if (room?.kind) state.kind = room.kind;
    history.replaceState(null, '', roomPath(name));
    route = parseRoute(location.pathname);
    applyRoute();
  } catch (err) {
    $('invite-status').textContent = 'This invitation cannot be used.';
    showText($('invite-error'), err.code === 'invite_invalid' || err.code === 'room_not_found'
      ? 'The invitation is not valid: it may have expired, been used up, or you may be banned from the room.'
      : err.message);
  }
}

/* ---- session */

const NAME_KEY = 'displayName';

const welcome = new Welcome({
  storage,
  rememberedName: () => readJson(storage, NAME_KEY, ''),
  rememberName: (name) => writeJson(storage, NAME_KEY, name),
  onSession: (user) => {
    if (store.me && store.me.kind !== 'user' && user?.kind === 'user') {
      // A guest signed in: the guest's rooms are not the account's, so the page starts over as the account.
      chat.forgotten = true;
      forgetRooms();
      chat.conn.close();
      location.assign(location.pathname + location.search);
      return;
    }
    store.me = user;
    store.changed();
    startConnection();
  },
});

function askName(panel, notice) {
  welcome.show(panel, notice);
  showView('welcome');
}

/** What this browser kept about the rooms of the person who used it: gone once they sign out. */
function forgetRooms() {
  for (const key of ['rooms', 'drafts', 'outbox']) writeJson(storage, key, null);
}

/**
 * This browser's session ended (signed out here, everywhere, or revoked from another device): the page
 * forgets the person's rooms and starts again at the sign-in page, saying why.
 */
function signedOut(notice) {
  chat.forgotten = true;
  forgetRooms();
  writeJson(storage, NAME_KEY, null); // and no guest session made for them on the next visit
  try {
    sessionStorage.setItem('confab.notice', notice);
  } catch { /* the notice is lost, the sign-out is not */ }
  chat.conn.close();
  location.assign('/');
}

let recovering = false;
/**
 * The cookie's session is gone. A guest's (expired, or a reset server): a new guest session with the same
 * name. An account's: revoked or signed out elsewhere, so back to the sign-in page.
 */
async function recoverSession() {
  if (recovering) return;
  recovering = true;
  try {
    if (store.me?.kind === 'user') return signedOut('You were signed out: this session ended on another device or was revoked.');
    const name = store.me?.name || readJson(storage, NAME_KEY, '');
    if (!name || !welcome.guestsAllowed) return askName();
    await api.guest(name);
    chat.conn.retryNow();
  } catch (err) {
    if (err.code === 'guests_not_allowed') return askName('signin');
    setTimeout(() => chat.conn.retryNow(), 3000);
  } finally {
    recovering = false;
  }
}

let started = false;
function startConnection() {
  if (started) chat.conn.retryNow();
  else chat.start();
  started = true;
  applyRoute();
}

async function boot() {
  if (route.room) setTitle(route.room);
  showView(route.room ? 'room' : route.invite ? 'invite' : 'browse');
  renderConnection();
  sidebar.render();
  document.documentElement.dataset.ready = 'shell';
  performance.mark('confab:shell');
  let notice = '';
  try {
    notice = sessionStorage.getItem('confab.notice') || '';
    sessionStorage.removeItem('confab.notice');
  } catch { /* no notice */ }
  let user = null;
  let info = null;
  for (let attempt = 0; ; attempt++) {
    try {
      [user, info] = await Promise.all([api.me(), api.server()]);
      break;
    } catch {
      store.conn = { state: attempt ? 'reconnecting' : 'connecting', retryAt: null };
      store.changed();
      await new Promise((r) => setTimeout(r, Math.min(5000, 300 * 2 ** attempt)));
    }
  }
  store.server = info;
  welcome.configure(info);
  document.documentElement.dataset.guests = info.guests;
  // A guest's session on a server that now refuses guests is no session.
  if (user && user.kind !== 'user' && info.guests === 'off') user = null;
  if (!user && !notice && welcome.guestsAllowed && !route.invite && !route.register) {
    const remembered = readJson(storage, NAME_KEY, '');
    if (remembered) user = await api.guest(remembered).catch(() => null);
  }
  if (!user) {
    // After a sign-out (the notice says which) the page offers to sign in again.
    askName(route.register ? 'register' : route.invite || notice ? 'signin' : undefined, notice || (route.invite ? 'Sign in or create an account to accept the invitation.' : ''));
    markInteractive();
    return;
  }
  store.me = user;
  if (route.register && user.kind !== 'user' && welcome.canRegister) {
    // A guest opened a registration link: the form first; registering starts the page over as the account.
    askName('register');
    markInteractive();
    return;
  }
  if (!readJson(storage, NAME_KEY, '') && user.kind !== 'user') writeJson(storage, NAME_KEY, user.name);
  startConnection();
  markInteractive();
}

/** The session is known and every control works (the browser tests measure time to this mark). */
function markInteractive() {
  document.documentElement.dataset.ready = 'interactive';
  performance.mark('confab:interactive');
}

boot();

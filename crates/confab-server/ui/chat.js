// The controller between the connection and the views: joins every room in the sidebar on one connection
// (resuming each from the last seq applied after a reconnect), routes events through each room's RoomSeq,
// keeps read markers, and drains the offline queue in order. Views call it; it never touches the DOM.

import { Connection, ProtocolError } from './protocol.js';
import { Outbox, isPermanent } from './outbox.js';
import { readJson, writeJson } from './storage.js';
import * as api from './api.js';

export class Chat {
  /**
   * `views`: { timeline, onNoSession(), onMissing(room), onJoined(room) } — the timeline gets the open
   * room's events; the callbacks let app.js switch views.
   */
  constructor({ store, storage, views }) {
    this.store = store;
    this.storage = storage;
    this.views = views;
    this.outbox = new Outbox(storage, () => store.changed());
    this.pumping = false;
    this.gapTimers = new Map();
    /** Rooms left in this tab, so that merging with other tabs' lists does not bring them back. */
    this.left = new Set();
    for (const saved of readJson(storage, 'rooms', []) || []) {
      if (saved && typeof saved.name === 'string') store.addRoom(saved.name, Number(saved.lastRead) || 0);
    }
    const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.conn = new Connection({
      url: wsUrl,
      online: () => navigator.onLine !== false,
      handlers: {
        onState: (state, retryAt) => {
          store.conn = { state, retryAt };
          if (state !== 'live') for (const room of store.rooms.values()) if (room.status !== 'missing') room.status = 'idle';
          store.changed();
        },
        onWelcome: (welcome) => this.#welcomed(welcome),
        onNoSession: () => views.onNoSession(),
        onEvent: (ev) => this.#event(ev),
        onRoomUpdate: (room) => {
          // A direct conversation someone opened with me: it joins the sidebar at once.
          if (room.kind === 'direct') this.#adopt(room);
          else store.directory.set(room.name, room);
          store.changed();
        },
        // A conversation just opened with me: all of it is news, so it is joined from its first event.
        onDirect: (room) => this.#adopt(room, { fromStart: true }),
        // Added to a room (a moderator added me, or I accepted an invite in another tab): into the sidebar, joined.
        onAdded: (room) => this.#adopt({ name: room.name }),
        onClosed: (code, reason) => views.onClosed?.(code, reason),
      },
    });
    addEventListener('online', () => this.conn.retryNow());
    addEventListener('offline', () => this.conn.wentOffline());
    // Leaving the page keeps the read marker of the open room.
    addEventListener('pagehide', () => this.save());
    addEventListener('storage', (e) => {
      if (e.key === 'confab.rooms') this.#otherTab();
    });
  }

  start() {
    this.conn.start();
  }

  get limits() {
    return this.conn.limits;
  }

  /**
   * Writes the room list and read markers, merged with what other tabs wrote: a room another tab joined
   * stays, one this tab left goes, and each read marker keeps the furthest any tab reached.
   */
  save() {
    if (this.forgotten) return;
    const merged = new Map();
    for (const saved of readJson(this.storage, 'rooms', []) || []) {
      if (saved && typeof saved.name === 'string' && !this.left.has(saved.name)) merged.set(saved.name, Number(saved.lastRead) || 0);
    }
    for (const r of this.store.rooms.values()) {
      if (r.status !== 'missing') merged.set(r.name, Math.max(r.lastRead, merged.get(r.name) || 0));
    }
    writeJson(this.storage, 'rooms', [...merged].map(([name, lastRead]) => ({ name, lastRead })));
  }

  /** Another tab changed the room list: take up the rooms it joined. */
  #otherTab() {
    for (const saved of readJson(this.storage, 'rooms', []) || []) {
      if (!saved || typeof saved.name !== 'string' || this.store.findRoom(saved.name) || this.left.has(saved.name)) continue;
      const room = this.store.addRoom(saved.name, Number(saved.lastRead) || 0);
      if (this.conn.live) this.join(room).catch(() => {});
    }
  }

  #welcomed(welcome) {
    // The welcome's user may lack what /api/me said (username, two_factor): keep those.
    const before = this.store.me;
    this.store.me = before && before.id === welcome.user.id ? { ...before, ...welcome.user } : welcome.user;
    this.store.changed();
    if (this.store.me.kind === 'user') this.refreshMyRooms();
    this.conn.request('rooms', { subscribe: true }).then((ack) => {
      this.store.directory = new Map((ack.rooms || []).map((r) => [r.name, r]));
      this.store.directoryLoaded = true;
      this.store.changed();
    }, () => {});
    // The open room first, so that what the person looks at comes back first.
    const active = this.store.active && this.store.room(this.store.active);
    const quiet = () => {}; // join reports its failures through the views
    if (active) this.join(active).catch(quiet);
    for (const room of this.store.rooms.values()) if (room !== active && room.status !== 'missing') this.join(room).catch(quiet);
  }

  /**
   * Takes up every room this account belongs to (public ones joined, private ones, direct conversations)
   * from `my_rooms`, so the sidebar is the same on every device; rooms it no longer belongs to leave.
   */
  async refreshMyRooms() {
    let rooms;
    try {
      rooms = (await this.conn.request('my_rooms')).rooms || [];
    } catch (err) {
      if (err.code !== 'unknown_type') return;
      try {
        rooms = await api.myRooms();
      } catch {
        return;
      }
    }
    for (const r of rooms) this.#adopt(r);
  }

  /** A room the server says I am in: added to the sidebar (with its kind and people) and joined. */
  #adopt(r, { fromStart = false } = {}) {
    if (!r || typeof r.name !== 'string') return null;
    const known = this.store.findRoom(r.name);
    const room = known || this.store.addRoom(r.name);
    if (!known && fromStart) room.fromStart = true;
    if (typeof r.kind === 'string') room.kind = r.kind;
    if (Array.isArray(r.members) && r.members.length) room.people = r.members.filter((m) => m && m.id);
    if (r.role) room.role = r.role;
    this.left.delete(room.name);
    if (this.conn.live && room.status === 'idle') this.join(room).catch(() => {});
    this.store.changed();
    return room;
  }

  /** Opens the direct conversation with `people` (usernames or account ids) and returns its room. */
  async openDirect(people) {
    let r;
    try {
      r = (await this.conn.request('open_direct', { with: people })).room;
    } catch (err) {
      if (err.code !== 'unknown_type') throw err;
      r = await api.openDirect(people);
    }
    const room = this.#adopt(typeof r === 'string' ? { name: r, kind: 'direct' } : { kind: 'direct', ...r });
    if (!room) throw new ProtocolError('internal', 'the server named no room');
    room.kind = 'direct';
    this.save();
    return room;
  }

  /** Opens `name` (deep link, sidebar, room browser): joins it if needed and shows it. */
  open(name) {
    this.left.delete(name);
    const known = this.store.findRoom(name);
    const room = known || this.store.addRoom(name);
    this.store.active = room.name;
    this.store.changed();
    if (room.status === 'joined') {
      room.markRead();
      this.views.onJoined(room);
      this.views.timeline.show(room);
    } else if (room.status === 'missing') {
      this.views.onMissing(room);
    } else if (this.conn.live && room.status === 'idle') {
      this.join(room).catch(() => {});
    }
    return room;
  }

  /**
   * Joins `room` on this connection. First join in this page: from the read marker, so what arrived
   * meanwhile counts as unread; later joins (reconnects): from the last seq applied, so nothing is
   * missed or shown twice.
   */
  async join(room, { create = false } = {}) {
    if (room.status === 'joining') return;
    const resuming = room.seq.last > 0 || room.joinedBefore;
    // The open room needs no replay on its first join: the timeline loads its latest page.
    const background = this.store.active !== room.name;
    const since = resuming ? room.seq.last
      : background && (room.lastRead > 0 || room.fromStart) ? room.lastRead : undefined;
    room.status = 'joining';
    let ack;
    try {
      ack = await this.conn.request('join', { room: room.name, since, create: create || undefined });
    } catch (err) {
      if (err.code === 'bad_seq' && since !== undefined) {
        // The server has fewer events than we saw (its data was reset): start over from its top.
        room.status = 'idle';
        room.seq.reset(0);
        room.joinedBefore = false;
        room.lastRead = 0;
        return this.join(room, { create });
      }
      room.status = err.code === 'room_not_found' ? 'missing' : 'idle';
      this.store.changed();
      if (err.code === 'room_not_found') {
        if (this.store.active === room.name) this.views.onMissing(room);
        else this.store.removeRoom(room.name);
        this.save();
      } else if (err.code !== 'disconnected') {
        this.views.onError?.(room, err);
      }
      throw err;
    }
    // Synchronous until the end of this block: the replay arrives in the frames right after the ack.
    const name = typeof ack.room === 'string' ? ack.room : ack.room?.name || room.name;
    if (name !== room.name) {
      this.outbox.renameRoom(room.name, name);
      this.store.renameRoom(room.name, name);
    }
    const top = ack.top_seq || 0;
    const fresh = since === undefined || ack.complete === false;
    if (fresh) room.seq.reset(top);
    else room.seq.reset(since);
    if (ack.complete === false && !resuming) room.unreadMore = true;
    room.joinedBefore = true;
    room.status = 'joined';
    room.role = ack.role || null;
    const kind = ack.kind || (typeof ack.room === 'object' ? ack.room?.kind : null);
    if (typeof kind === 'string') room.kind = kind;
    if (room.direct && Array.isArray(ack.room?.members)) room.people = ack.room.members.filter((m) => m && m.id);
    room.setMembers(ack.members, top);
    const isActive = this.store.active === room.name;
    if (isActive) {
      room.markRead(top);
      this.views.onJoined(room);
      // A resume with a full replay continues the window as it is; anything else shows the latest page.
      if (!resuming || ack.complete === false || this.views.timeline.room !== room) this.views.timeline.show(room);
    }
    this.store.changed();
    this.save();
    this.pump();
    return ack;
  }

  async createRoom(name, { private: isPrivate = false } = {}) {
    try {
      await this.conn.request('create_room', { room: name, private: isPrivate || undefined });
    } catch (err) {
      if (err.code !== 'room_exists') throw err;
    }
  }

  async leave(name) {
    const room = this.store.room(name);
    if (!room) return;
    try {
      if (this.conn.live && room.status === 'joined') await this.conn.request('leave', { room: name }, { timeoutMs: 3000 });
    } catch { /* leaving anyway: the grace period announces it */ }
    this.left.add(name);
    this.store.removeRoom(name);
    if (this.store.active === name) this.store.active = null;
    this.save();
  }

  #event(ev) {
    const room = this.store.room(ev.room);
    if (!room || (room.status !== 'joined' && room.status !== 'joining')) return;
    const ready = room.seq.accept(ev);
    const me = this.store.me;
    const timeline = this.views.timeline;
    const roleBefore = room.role;
    let removed = null;
    for (const e of ready) {
      const open = this.store.active === room.name && timeline.room === room;
      // The timeline first: whether the person saw the event depends on where it landed.
      if (open) timeline.live(e);
      room.note(e, me, open && timeline.reading());
      if (e.kind === 'message' && me && e.actor?.id === me.id && e.message?.client_id) {
        this.outbox.remove(e.message.client_id);
      }
      // Kicked or banned: the server takes this connection out of the room right after this event.
      if ((e.kind === 'kick' || e.kind === 'ban') && me && e.target?.id === me.id) removed = e;
    }
    if (removed) {
      this.#removed(room, removed);
      return;
    }
    // Made or unmade a moderator (or handed the room): the controls on others' messages change at once.
    if (room.role !== roleBefore && this.store.active === room.name && timeline.room === room) timeline.refresh();
    if (room.seq.hasGap) this.#fillGap(room);
    if (ready.length) {
      this.store.changed();
      this.saveSoon();
    }
  }

  /** This account was removed from `room` by a moderator: the room leaves the sidebar and the view. */
  #removed(room, ev) {
    room.status = 'idle';
    this.left.add(room.name);
    this.store.removeRoom(room.name);
    const wasOpen = this.store.active === room.name;
    if (wasOpen) this.store.active = null;
    this.save();
    this.views.onRemoved?.(room, ev, wasOpen);
  }

  /** Read markers change with every event seen; writing them once a second is plenty. */
  saveSoon() {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.save();
    }, 1000);
  }

  /** An event past a gap waits; if the gap is still open after a moment, fetch it from history. */
  #fillGap(room) {
    if (this.gapTimers.has(room.name)) return;
    this.gapTimers.set(room.name, setTimeout(async () => {
      this.gapTimers.delete(room.name);
      if (!room.seq.hasGap || !this.conn.live) return;
      try {
        const ack = await this.history(room.name, { after: room.seq.last, limit: 200 });
        for (const ev of ack.events || []) this.#event({ ...ev, room: room.name });
      } catch { /* tried again below, or by the resume after a reconnect */ }
      if (room.seq.hasGap) this.#fillGap(room);
    }, 1500));
  }

  history(room, fields) {
    return this.conn.request('history', { room, ...fields });
  }

  edit(room, messageId, text) {
    return this.conn.request('edit', { room, message_id: messageId, text });
  }

  remove(room, messageId) {
    return this.conn.request('delete', { room, message_id: messageId });
  }

  /** Queues a message for the open room and starts sending. */
  send(text) {
    const room = this.store.active;
    if (!room) throw new ProtocolError('not_joined', 'no room is open');
    const entry = this.outbox.add(room, text);
    this.pump();
    return entry;
  }

  retry(clientId) {
    this.outbox.requeue(clientId);
    this.pump();
  }

  discard(clientId) {
    this.outbox.remove(clientId);
  }

  /**
   * Sends the queue one message at a time, oldest first: the next waits for the previous ack, so
   * messages are stored in the order they were written, including those written offline or before a
   * reload. Stops when the connection drops; `join` and `send` start it again.
   */
  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        if (!this.conn.live) return;
        const entry = this.outbox.next((name) => this.store.room(name)?.status === 'joined');
        if (!entry) return;
        this.outbox.markSending(entry.clientId);
        try {
          await this.conn.request('send', { room: entry.room, text: entry.text, client_id: entry.clientId });
          this.outbox.remove(entry.clientId);
        } catch (err) {
          if (err.code === 'disconnected' || err.code === 'not_joined') {
            this.outbox.requeue(entry.clientId);
            return;
          }
          if (err.code === 'rate_limited' || err.code === 'unavailable' || err.code === 'timeout') {
            this.outbox.requeue(entry.clientId);
            await new Promise((r) => setTimeout(r, 1500));
            continue;
          }
          this.outbox.fail(entry.clientId, err.code, err.message);
          if (!isPermanent(err.code)) console.warn('confab: send failed', err.code);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}

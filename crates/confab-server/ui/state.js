// The client's state with no DOM: per-room event ordering (apply by (room, seq), drop what was seen,
// hold what comes past a gap), unread and mention counts, members, and the store the views subscribe to.

import { mentions } from './format.js';

/**
 * Orders one room's live and replayed events. The server promises every event once and in order; this
 * is the client's half of the promise: a seq at or below the last one applied is ignored (a replay that
 * overlaps what was already shown), one past a gap waits in `buffer` until the gap is filled.
 */
export class RoomSeq {
  constructor(last = 0) {
    this.last = last;
    this.buffer = new Map();
  }

  /** Takes one event; returns the events that can now be applied, in seq order (possibly none). */
  accept(ev) {
    if (!ev || typeof ev.seq !== 'number' || ev.seq <= this.last) return [];
    if (ev.seq > this.last + 1) {
      this.buffer.set(ev.seq, ev);
      return [];
    }
    const ready = [ev];
    this.last = ev.seq;
    for (let next = this.buffer.get(this.last + 1); next; next = this.buffer.get(this.last + 1)) {
      this.buffer.delete(next.seq);
      ready.push(next);
      this.last = next.seq;
    }
    return ready;
  }

  /** Starts over at `top` (a fresh join, or a resume whose replay was incomplete). */
  reset(top) {
    this.last = top;
    for (const seq of this.buffer.keys()) if (seq <= top) this.buffer.delete(seq);
  }

  get hasGap() {
    return this.buffer.size > 0;
  }
}

/** One room as the sidebar and the controller see it. */
export class RoomState {
  constructor(name, { lastRead = 0 } = {}) {
    this.name = name;
    this.seq = new RoomSeq(0);
    /** `idle` (not joined on this connection), `joining`, `joined`, `missing` (room_not_found). */
    this.status = 'idle';
    this.role = null;
    /** `public`, `private` or `direct` once the server said (join ack, my rooms); null until then. */
    this.kind = null;
    /** A direct conversation's people (`{id, name}`), from my rooms or `open_direct`: its label. */
    this.people = [];
    /** Opened with me by someone else just now: its first join replays it from the start, as unread. */
    this.fromStart = false;
    this.members = new Map();
    /** The member list reflects the room at this seq; only later joins and leaves change it. */
    this.membersAt = 0;
    /** The highest seq the person has seen, persisted: unread counts start after it. */
    this.lastRead = lastRead;
    this.unread = 0;
    this.mentions = 0;
    /** True when more was missed than the server replays: the unread count is a lower bound. */
    this.unreadMore = false;
  }

  get direct() {
    return this.kind === 'direct';
  }

  /** What the sidebar and the title call the room: a direct conversation is named after the others in it. */
  label(me) {
    if (!this.direct) return this.name;
    const others = this.people.filter((p) => !me || p.id !== me.id).map((p) => p.name);
    return others.length ? others.join(', ') : this.people.length ? 'Just you' : 'Direct message';
  }

  setMembers(list, at) {
    this.members = new Map();
    for (const m of list || []) if (m && m.id) this.members.set(m.id, { id: m.id, name: m.name });
    this.membersAt = at;
  }

  /** Applies an event's effect on membership and counters. `seen`: the person is looking at the room. */
  note(ev, me, seen) {
    if (ev.seq > this.membersAt && ev.actor?.id) {
      if (ev.kind === 'join') this.members.set(ev.actor.id, { id: ev.actor.id, name: ev.actor.name });
      else if (ev.kind === 'leave') this.members.delete(ev.actor.id);
    }
    // Whoever is kicked or banned is gone from the room at once (their leave may follow, or not).
    if (ev.seq > this.membersAt && (ev.kind === 'kick' || ev.kind === 'ban') && ev.target?.id) this.members.delete(ev.target.id);
    if ((ev.kind === 'role') && me && ev.target?.id === me.id && typeof ev.role === 'string') this.role = ev.role;
    if (seen) {
      this.markRead(ev.seq);
      return;
    }
    if (ev.kind !== 'message' || ev.seq <= this.lastRead || ev.message?.deleted) return;
    if (me && ev.actor?.id === me.id) return;
    this.unread += 1;
    if (me && mentions(ev.message?.content?.text ?? '', me.name)) this.mentions += 1;
  }

  markRead(seq = this.seq.last) {
    if (seq > this.lastRead) this.lastRead = seq;
    this.unread = 0;
    this.mentions = 0;
    this.unreadMore = false;
  }
}

/**
 * The shared state: who I am, the connection's state, the rooms I am in (in sidebar order), the public
 * rooms known from the lobby feed, and which room is open. Views subscribe with `on` and re-render.
 */
export class Store {
  constructor() {
    this.me = null;
    this.conn = { state: 'connecting', retryAt: null };
    this.rooms = new Map();
    this.directory = new Map();
    this.active = null;
    /** `GET /api/server`: registration and guest settings (null until known). */
    this.server = null;
    /** What the person typed in "Find a room": narrows the sidebar and the room browser. */
    this.filter = '';
    this.listeners = new Set();
    this.scheduled = false;
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Notifies listeners once per microtask, however many changes were made. */
  changed() {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn(this);
    });
  }

  room(name) {
    return this.rooms.get(name) || null;
  }

  addRoom(name, lastRead = 0) {
    let room = this.rooms.get(name);
    if (!room) {
      room = new RoomState(name, { lastRead });
      this.rooms.set(name, room);
      this.changed();
    }
    return room;
  }

  /** The server spells a room's name its own way (names are unique regardless of case). */
  renameRoom(from, to) {
    if (from === to || !this.rooms.has(from)) return this.rooms.get(to);
    const room = this.rooms.get(from);
    room.name = to;
    const entries = [...this.rooms].map(([k, v]) => (k === from ? [to, v] : [k, v]));
    this.rooms = new Map(entries);
    if (this.active === from) this.active = to;
    this.changed();
    return room;
  }

  removeRoom(name) {
    this.rooms.delete(name);
    this.changed();
  }

  /** Public rooms for the room browser, sorted by people present, then name. */
  directoryList() {
    return [...this.directory.values()].sort(
      (a, b) => (b.members || 0) - (a.members || 0) || String(a.name).localeCompare(String(b.name)),
    );
  }

  /** Lower-cased names, for "is this room already in my list". */
  findRoom(name) {
    const lower = String(name).toLowerCase();
    for (const room of this.rooms.values()) if (room.name.toLowerCase() === lower) return room;
    return null;
  }
}

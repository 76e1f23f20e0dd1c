// The timeline's window onto a room's history, with no DOM. A room may hold 100,000 messages; the page
// keeps only a contiguous stretch of them (at most `max` shown items), loads pages above or below as the
// reader scrolls, and drops what scrolled far out of view. `rows()` groups what is held by day and author.

import { dayKey } from './format.js';

/** Kinds the timeline shows; edits and deletes change a message in place instead. */
const SHOWN = new Set(['message', 'join', 'leave', 'role', 'kick', 'ban', 'unban', 'added']);
/** Consecutive messages by one person within this gap share a header. */
const GROUP_GAP_MS = 5 * 60_000;

export class TimelineWindow {
  constructor({ max = 150 } = {}) {
    this.max = max;
    this.reset();
  }

  reset() {
    /** Shown events, ascending seq. Message events are copies, updated in place by edits and deletes. */
    this.items = [];
    /** The seq range this window has covered, inclusive; history pages are contiguous ranges. */
    this.low = null;
    this.high = null;
    this.hasOlder = false;
    this.hasNewer = false;
    this.byMessage = new Map();
  }

  get empty() {
    return this.high === null;
  }

  /** Whether the window reaches the room's newest event `top`. */
  atLatest(top) {
    return !this.hasNewer && this.high !== null && this.high >= top;
  }

  /**
   * The newest page: `events` are all events with seq < `before`, newest last (`history` with `before`).
   * An empty room is `before = 1` with no events.
   */
  setLatest(events, before, more) {
    this.reset();
    this.high = before - 1;
    this.low = events.length ? events[0].seq : before;
    this.hasOlder = !!more && events.length > 0;
    for (const ev of events) this.#add(ev, 'end');
  }

  /** An older page (seq < low, newest last). Returns how many items were dropped from the bottom. */
  prepend(events, more) {
    const fresh = events.filter((ev) => this.low === null || ev.seq < this.low);
    for (let i = fresh.length - 1; i >= 0; i--) this.#add(fresh[i], 'start');
    if (fresh.length) this.low = fresh[0].seq;
    this.hasOlder = !!more && fresh.length > 0;
    return this.#trim('end');
  }

  /** A newer page (seq > high, oldest first). Returns how many items were dropped from the top. */
  append(events, more) {
    for (const ev of events) {
      if (ev.seq <= this.high) continue;
      this.#apply(ev);
      this.high = ev.seq;
    }
    this.hasNewer = !!more;
    return this.#trim('start');
  }

  /**
   * A live event, already in room order. Edits and deletes of a message in the window change it whatever
   * their seq; a shown event is added only when it follows the window's newest directly (otherwise the
   * reader is far up the history and the event is fetched when they come back down).
   * Returns true when something visible changed.
   */
  applyLive(ev, { trim = false } = {}) {
    let changed = false;
    if (ev.kind === 'edit' || ev.kind === 'delete') changed = this.#change(ev);
    if (this.high !== null && !this.hasNewer && ev.seq === this.high + 1) {
      this.high = ev.seq;
      if (SHOWN.has(ev.kind)) {
        this.#add(ev, 'end');
        changed = true;
      }
      if (trim) this.#trim('start');
    } else if (this.high !== null && ev.seq > this.high) {
      this.hasNewer = true;
    }
    return changed;
  }

  /** Drops items from `side` beyond `max`; the window then has more that way. */
  #trim(side) {
    const extra = this.items.length - this.max;
    if (extra <= 0) return 0;
    const dropped = side === 'end' ? this.items.splice(this.max) : this.items.splice(0, extra);
    for (const ev of dropped) if (ev.kind === 'message') this.byMessage.delete(String(ev.message.id));
    if (side === 'end') {
      this.high = this.items[this.items.length - 1].seq;
      this.hasNewer = true;
    } else {
      this.low = this.items[0].seq;
      this.hasOlder = true;
    }
    return dropped.length;
  }

  #apply(ev) {
    if (SHOWN.has(ev.kind)) this.#add(ev, 'end');
    else this.#change(ev);
  }

  #add(ev, where) {
    if (!SHOWN.has(ev.kind)) return;
    const item = ev.kind === 'message' ? { ...ev, message: { ...ev.message } } : ev;
    if (where === 'end') this.items.push(item);
    else this.items.unshift(item);
    if (item.kind === 'message') this.byMessage.set(String(item.message.id), item);
  }

  #change(ev) {
    const item = this.byMessage.get(String(ev.message_id));
    if (!item || item.message.deleted) return false;
    if (ev.kind === 'edit') {
      item.message = { ...item.message, content: ev.content || item.message.content, edited_at: ev.edited_at ?? ev.at };
    } else {
      item.message = { ...item.message, content: { text: '' }, deleted: true };
    }
    return true;
  }

  /** The newest message in the window written by `userId`, not deleted: what Up in the composer edits. */
  lastMessageBy(userId) {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const ev = this.items[i];
      if (ev.kind === 'message' && ev.actor?.id === userId && !ev.message.deleted) return ev;
    }
    return null;
  }

  rows() {
    return groupRows(this.items);
  }
}

/**
 * Rows to render: a day divider before the first item of each day, and each item marked `continued`
 * when it is a message by the same person as the message just before it, on the same day, within
 * GROUP_GAP_MS (it then shows no name or avatar).
 */
export function groupRows(items) {
  const rows = [];
  let day = null;
  let prev = null;
  for (const ev of items) {
    const key = dayKey(ev.at || 0);
    if (key !== day) {
      rows.push({ kind: 'day', key, at: ev.at || 0 });
      day = key;
      prev = null;
    }
    const continued =
      ev.kind === 'message' &&
      prev?.kind === 'message' &&
      prev.actor?.id === ev.actor?.id &&
      (ev.at || 0) - (prev.at || 0) < GROUP_GAP_MS;
    rows.push({ kind: 'item', ev, continued });
    prev = ev;
  }
  return rows;
}

// The offline queue: messages written but not yet acknowledged by the server, kept in localStorage so they
// survive a reload and go out once, in the order they were written, when the connection returns.
//
// Each entry carries a client_id chosen when it was written. Sending it again after a lost ack (or after a
// reload while it was in flight) is safe: the server answers `duplicate: true` and stores nothing new.

import { readJson, writeJson } from './storage.js';

const KEY = 'outbox';

/** Errors after which sending the same message again is pointless: the entry waits for the person. */
const PERMANENT = new Set([
  'text_empty', 'text_too_long', 'forbidden', 'room_not_found', 'bad_request', 'too_many_rooms', 'internal',
]);

export const isPermanent = (code) => PERMANENT.has(code);

export function newClientId(random = globalThis.crypto) {
  const bytes = new Uint8Array(12);
  random.getRandomValues(bytes);
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Outbox {
  /** `storage`: a localStorage-like object; `onChange`: called after every change. */
  constructor(storage, onChange = () => {}) {
    this.storage = storage;
    this.onChange = onChange;
    const saved = readJson(storage, KEY, []);
    this.entries = Array.isArray(saved) ? saved.filter(validEntry).map((e) => ({ ...e, status: e.status === 'failed' ? 'failed' : 'queued' })) : [];
  }

  /** Queues `text` for `room` and returns the entry. */
  add(room, text, { clientId = newClientId(), at = Date.now() } = {}) {
    const entry = { clientId, room, text, at, status: 'queued', error: null };
    this.entries.push(entry);
    this.#save();
    return entry;
  }

  /** The oldest entry that may be sent now: queued, and in a room `ready(room)` says is joined. Entries of
   * one room keep their order: a later message never overtakes an earlier one that is waiting. */
  next(ready) {
    const blocked = new Set();
    for (const e of this.entries) {
      if (e.status === 'failed') {
        blocked.add(e.room);
        continue;
      }
      if (blocked.has(e.room)) continue;
      if (ready(e.room)) return e;
      blocked.add(e.room);
    }
    return null;
  }

  forRoom(room) {
    return this.entries.filter((e) => e.room === room);
  }

  has(clientId) {
    return this.entries.some((e) => e.clientId === clientId);
  }

  /** The server has it (ack, or its event arrived first). */
  remove(clientId) {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.clientId !== clientId);
    if (this.entries.length !== before) this.#save();
  }

  markSending(clientId) {
    this.#update(clientId, { status: 'sending' });
  }

  /** Back to the queue (connection lost, rate limited): it goes again, first in its room. */
  requeue(clientId) {
    this.#update(clientId, { status: 'queued', error: null });
  }

  fail(clientId, code, message) {
    this.#update(clientId, { status: 'failed', error: { code, message } });
  }

  /** Renames a room's entries to the server's spelling of its name. */
  renameRoom(from, to) {
    if (from === to) return;
    for (const e of this.entries) if (e.room === from) e.room = to;
    this.#save();
  }

  #update(clientId, fields) {
    const e = this.entries.find((x) => x.clientId === clientId);
    if (!e) return;
    Object.assign(e, fields);
    this.#save();
  }

  #save() {
    writeJson(this.storage, KEY, this.entries.map(({ clientId, room, text, at, status, error }) => ({ clientId, room, text, at, status, error })));
    this.onChange();
  }
}

const validEntry = (e) =>
  e && typeof e.clientId === 'string' && typeof e.room === 'string' && typeof e.text === 'string';

// What the client keeps in localStorage: the display name, the rooms you are in, read markers, drafts
// and the theme. Every access tolerates storage that is disabled or full (private windows), so a failure
// costs persistence, never the page.

const PREFIX = 'confab.';

/** The browser's localStorage, or a Map-backed stand-in (tests, disabled storage). */
export function defaultStorage() {
  try {
    const s = globalThis.localStorage;
    s.getItem('confab.probe');
    return s;
  } catch {
    return memoryStorage();
  }
}

export function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

export function readJson(storage, key, fallback) {
  try {
    const raw = storage.getItem(PREFIX + key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function writeJson(storage, key, value) {
  try {
    if (value == null) storage.removeItem(PREFIX + key);
    else storage.setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

/** Per-room drafts: what you were typing in each room, kept across reloads. */
export class Drafts {
  constructor(storage) {
    this.storage = storage;
    this.map = readJson(storage, 'drafts', {}) || {};
  }

  get(room) {
    return typeof this.map[room] === 'string' ? this.map[room] : '';
  }

  set(room, text) {
    if (text) this.map[room] = text;
    else delete this.map[room];
    writeJson(this.storage, 'drafts', this.map);
  }
}

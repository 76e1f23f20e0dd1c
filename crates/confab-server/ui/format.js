// Text and time formatting for the timeline, with no DOM: links found in message text, mentions of a
// display name, relative and absolute times, day labels. Pure functions, unit-tested under node.

/** A URL starts with http(s):// or www. and runs to the next white space or angle bracket. */
const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"]+/gi;
/** Punctuation that usually ends the sentence around a link rather than the link itself. */
const TRAILING = /[.,;:!?'"»”’]+$/;

/**
 * Splits `text` into `{text}` and `{text, href}` segments. Only http and https links are produced (a
 * `javascript:` URL is plain text), so the caller can build anchors with textContent and never parse HTML.
 */
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const match of String(text).matchAll(URL_RE)) {
    let url = match[0];
    url = url.replace(TRAILING, '');
    // A closing parenthesis belongs to the link only when the link opened one (Wikipedia-style URLs).
    while (url.endsWith(')') && count(url, '(') < count(url, ')')) url = url.slice(0, -1).replace(TRAILING, '');
    if (!url) continue;
    const start = match.index;
    if (start > last) out.push({ text: text.slice(last, start) });
    const href = /^www\./i.test(url) ? `https://${url}` : url;
    out.push({ text: url, href: safeHref(href) });
    last = start + url.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out.map((s) => (s.href === null ? { text: s.text } : s));
}

const count = (s, ch) => s.split(ch).length - 1;

/** The URL normalised, or null unless it is http(s): a guard in case the pattern above ever widens. */
function safeHref(href) {
  try {
    const url = new URL(href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** Whether `text` mentions `name` as `@name` (case-insensitive, not followed by a letter or digit). */
export function mentions(text, name) {
  if (!name) return false;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w@])@${escaped}(?![\\p{L}\\p{N}_])`, 'iu').test(String(text));
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", then the date. */
export function relativeTime(ms, now = Date.now()) {
  const diff = now - ms;
  if (diff < MINUTE) return 'just now';
  if (diff < HOUR) return `${Math.floor(diff / MINUTE)} min ago`;
  if (diff < DAY && sameDay(ms, now)) return `${Math.floor(diff / HOUR)} h ago`;
  if (sameDay(ms, now - DAY)) return 'yesterday';
  return new Date(ms).toLocaleDateString([], { month: 'short', day: 'numeric', year: yearIfOther(ms, now) });
}

/** The clock time shown beside a message: "14:05". */
export const clockTime = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

/** The full date and time, for tooltips and `datetime`-aware readers. */
export const absoluteTime = (ms) =>
  new Date(ms).toLocaleString([], { dateStyle: 'full', timeStyle: 'short' });

/** A key that is equal for two times on the same local calendar day. */
export function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", or "Monday, 30 November". */
export function dayLabel(ms, now = Date.now()) {
  if (sameDay(ms, now)) return 'Today';
  if (sameDay(ms, now - DAY)) return 'Yesterday';
  return new Date(ms).toLocaleDateString([], {
    weekday: 'long', month: 'long', day: 'numeric', year: yearIfOther(ms, now),
  });
}

const sameDay = (a, b) => dayKey(a) === dayKey(b);
const yearIfOther = (ms, now) =>
  new Date(ms).getFullYear() === new Date(now).getFullYear() ? undefined : 'numeric';

const encoder = new TextEncoder();
/** UTF-8 length, which is what the server's `max_text_bytes` counts. */
export const byteLength = (s) => encoder.encode(s).length;

/** Two letters for an avatar: "Sam Lee" -> "SL", "alice" -> "AL". */
export function initials(name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean);
  if (words.length >= 2) return (first(words[0]) + first(words[1])).toUpperCase();
  return [...(words[0] || '?')].slice(0, 2).join('').toUpperCase();
}
const first = (w) => [...w][0] || '';

/** A stable hue for a user id, so each person keeps their avatar colour everywhere. */
export function hue(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

// How one row of the timeline looks: a day divider, a join or leave line, a message (avatar or gutter
// time, name and times, the text with links as anchors, a quoted reply and attachments when the content
// carries them). Builds elements from text only; the timeline adds the per-message menu.

import { h } from './dom.js';
import { linkify, clockTime, absoluteTime, relativeTime, dayLabel, initials, hue } from './format.js';

const iso = (ms) => new Date(ms || 0).toISOString();

export function dayNode(row) {
  return h('li', { class: 'day', 'data-testid': 'day-divider' }, h('span', { text: dayLabel(row.at) }));
}

const ROLE_TEXT = { owner: 'the owner', moderator: 'a moderator', member: 'a member' };

/** The words of a join, leave or moderation line: who did what to whom. */
export function systemText(ev) {
  const name = ev.actor?.name || 'someone';
  const target = ev.target?.name || 'someone';
  const self = !!ev.actor?.id && ev.actor.id === ev.target?.id;
  switch (ev.kind) {
    case 'join': return `${name} joined`;
    case 'leave': return `${name} left`;
    // Handing a room over is two role events: the new owner's, then the old owner's own new role.
    case 'role':
      if (self) return `${name} is now ${ROLE_TEXT[ev.role] || ev.role}`;
      if (ev.role === 'member') return `${name} made ${target} a member (no longer a moderator)`;
      return `${name} made ${target} ${ROLE_TEXT[ev.role] || ev.role}`;
    case 'kick': return `${name} removed ${target} from the room`;
    case 'ban': return `${name} banned ${target}`;
    case 'unban': return `${name} lifted the ban on ${target}`;
    case 'added': return self ? `${name} accepted an invitation` : `${name} added ${target}`;
    default: return `${name}: ${ev.kind}`;
  }
}

export function systemNode(ev) {
  const text = systemText(ev);
  return h('li', {
    class: `system${ev.kind === 'join' || ev.kind === 'leave' ? '' : ' moderation'}`, 'data-testid': 'system-line', 'data-kind': ev.kind, 'data-seq': ev.seq, title: absoluteTime(ev.at),
  }, h('span', { text }), h('time', { datetime: iso(ev.at), text: clockTime(ev.at) }));
}

/** An account's id (`u_…`): someone a direct conversation can be started with. */
export const isAccount = (actor) => typeof actor?.id === 'string' && (actor.kind ? actor.kind === 'user' : actor.id.startsWith('u_'));

/** An incoming webhook's actor (`w_…`): it may post under any display name, so its messages carry a tag. */
export const isWebhook = (actor) => typeof actor?.id === 'string' && (actor.kind ? actor.kind === 'webhook' : actor.id.startsWith('w_'));

/** A message row. `continued`: it follows a message by the same person, so it shows no name or avatar
 * (the name stays for screen readers). `dm`: the author's name is a button that opens a direct
 * conversation with them (the timeline handles the click). */
export function messageNode(ev, { continued, mine, mentioned, dm }) {
  const m = ev.message;
  const author = ev.actor || {};
  const node = h('li', {
    class: `msg${continued ? ' continued' : ''}${mine ? ' mine' : ''}${m.deleted ? ' deleted' : ''}${mentioned ? ' mention' : ''}`,
    'data-testid': 'message', 'data-seq': ev.seq, 'data-message-id': m.id,
    'data-author-id': author.id || '', 'data-deleted': String(!!m.deleted),
  });
  const gutter = continued
    ? h('time', { class: 'gutter-time', datetime: iso(ev.at), title: absoluteTime(ev.at), text: clockTime(ev.at) })
    : h('span', { class: 'avatar', 'aria-hidden': 'true', style: `--hue:${hue(author.id)}`, text: initials(author.name) });
  const head = h('div', { class: continued ? 'msg-head visually-hidden' : 'msg-head' },
    dm
      ? h('button', { type: 'button', class: 'author link', 'data-testid': 'message-author', 'data-dm-actor': author.id,
        title: `Send a direct message to ${author.name || 'them'}`, text: author.name || 'unknown' })
      : h('span', { class: 'author', 'data-testid': 'message-author', text: author.name || 'unknown' }),
    isWebhook(author) ? h('span', { class: 'tag', 'data-testid': 'webhook-tag', title: 'Posted through an incoming webhook', text: 'webhook' }) : null,
    h('time', { class: 'time', 'data-testid': 'message-time', datetime: iso(ev.at), title: absoluteTime(ev.at), text: clockTime(ev.at) }),
    h('span', { class: 'rel', 'data-at': ev.at, text: relativeTime(ev.at) }));
  const body = h('div', { class: 'msg-body', 'data-testid': 'message-text' },
    m.deleted ? 'message deleted' : renderText(m.content?.text ?? ''));
  const edited = m.edited_at != null && !m.deleted
    ? h('span', { class: 'edited', 'data-testid': 'edited-mark', text: '(edited)' }) : null;
  node.append(gutter, h('div', { class: 'msg-main' }, head, quote(m.content), body, attachments(m.content), edited));
  return node;
}

/** Message text with links as anchors that open in a new tab without giving it a handle on this page. */
function renderText(text) {
  return linkify(text).map((seg) =>
    seg.href
      ? h('a', { href: seg.href, target: '_blank', rel: 'noopener noreferrer nofollow', 'data-testid': 'message-link', text: seg.text })
      : seg.text);
}

/** A quoted reply, when the content carries one (replies arrive with the next batch). */
function quote(content) {
  const r = content?.reply_to;
  if (!r || typeof r !== 'object') return null;
  return h('blockquote', { class: 'reply-quote', 'data-testid': 'reply-quote' },
    h('span', { class: 'author', text: r.author?.name || '' }), h('span', { text: r.text || '' }));
}

/** Attachments, when the content carries them (files arrive with the next batch). */
function attachments(content) {
  const list = Array.isArray(content?.attachments) ? content.attachments : [];
  if (!list.length) return null;
  return h('ul', { class: 'attachments', 'data-testid': 'attachments' },
    list.map((a) => h('li', { class: 'attachment', text: `${a?.name || 'file'}${a?.size ? ` · ${Math.ceil(a.size / 1024)} KiB` : ''}` })));
}

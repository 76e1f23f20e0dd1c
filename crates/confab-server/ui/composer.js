// The message box: Enter sends, Shift+Enter starts a new line, Up in an empty box edits your last
// message, Esc cancels (an edit, or clears the error). Keeps one draft per room across reloads, and shows
// the open room's queued messages (the outbox) below the timeline until the server has them.

import { h, showText } from './dom.js';
import { byteLength } from './format.js';

export class Composer {
  constructor({ chat, store, drafts, els, timeline }) {
    this.chat = chat;
    this.store = store;
    this.drafts = drafts;
    this.els = els;
    this.timeline = timeline;
    this.room = null;
    this.saveTimer = null;
    const input = els.input;
    els.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
      input.focus();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      } else if (e.key === 'ArrowUp' && !input.value && !e.shiftKey) {
        if (timeline.editLast()) e.preventDefault();
      } else if (e.key === 'Escape') {
        showText(els.error, '');
      }
    });
    input.addEventListener('input', () => {
      this.#autosize();
      clearTimeout(this.saveTimer);
      this.saveTimer = setTimeout(() => this.#saveDraft(), 250);
    });
    addEventListener('pagehide', () => this.#saveDraft());
  }

  /** Switches to `room`: the previous room's draft is saved, this room's restored. */
  open(room) {
    if (this.room && this.room !== room) this.#saveDraft();
    this.room = room;
    this.els.input.value = this.drafts.get(room);
    this.#autosize();
    showText(this.els.error, '');
    this.renderOutbox();
  }

  focus() {
    this.els.input.focus({ preventScroll: true });
  }

  submit() {
    const text = this.els.input.value;
    showText(this.els.error, '');
    if (!text.trim() || !this.room) return;
    const max = this.chat.limits?.max_text_bytes;
    if (max && byteLength(text) > max) {
      showText(this.els.error, `The message is too long (${byteLength(text)} of ${max} bytes).`);
      return;
    }
    this.els.input.value = '';
    this.drafts.set(this.room, '');
    this.#autosize();
    this.chat.send(text);
    this.renderOutbox();
    this.timeline.scrollToBottom();
  }

  /** The open room's messages not yet acknowledged, with their state. */
  renderOutbox() {
    const entries = this.room ? this.chat.outbox.forRoom(this.room) : [];
    const live = this.store.conn.state === 'live';
    const me = this.store.me;
    this.els.outbox.replaceChildren(...entries.map((e) => {
      const status = e.status === 'failed'
        ? `Not sent: ${e.error?.message || e.error?.code || 'error'}`
        : live ? 'Sending…' : 'Waiting for the connection…';
      const actions = e.status === 'failed'
        ? [h('button', { type: 'button', class: 'menu-button', 'data-testid': 'retry-button', text: 'Retry', onclick: () => this.chat.retry(e.clientId) }),
          h('button', { type: 'button', class: 'menu-button danger', 'data-testid': 'discard-button', text: 'Discard', onclick: () => this.chat.discard(e.clientId) })]
        : [];
      return h('li', { class: `msg mine pending ${e.status}`, 'data-testid': 'pending-message', 'data-client-id': e.clientId, 'data-status': e.status },
        h('span', { class: 'avatar ghost', 'aria-hidden': 'true' }),
        h('div', { class: 'msg-main' },
          h('div', { class: 'msg-head' }, h('span', { class: 'author', text: me?.name || 'you' }),
            h('span', { class: 'pending-status', 'data-testid': 'pending-status', text: status })),
          h('div', { class: 'msg-body', 'data-testid': 'message-text', text: e.text })),
        h('div', { class: 'msg-menu open' }, actions));
    }));
  }

  #saveDraft() {
    if (this.room) this.drafts.set(this.room, this.els.input.value);
  }

  #autosize() {
    const c = this.els.input;
    c.style.height = 'auto';
    c.style.height = `${Math.min(c.scrollHeight, 200)}px`;
  }
}

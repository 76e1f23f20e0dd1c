// The open room's timeline: renders the TimelineWindow (window.js) into the scroller, keeps the reader's
// place when pages load above or below, loads them as the reader nears either end, and offers a jump to
// the latest. Messages are grouped by author and day; links are anchors built from text, never HTML.

import { h, reconcile, showText } from './dom.js';
import { TimelineWindow } from './window.js';
import { relativeTime, mentions } from './format.js';
import { dayNode, systemNode, messageNode, isAccount } from './message.js';

const PAGE = 50;
/** Roles that may delete other people's messages (not in direct conversations; docs/security.md). */
const MODERATING = new Set(['owner', 'moderator']);
/** Load the next page when the reader is this close (px) to an end of what is loaded. */
const EDGE_PX = 800;

export class Timeline {
  constructor({ chat, store, els, onEditDone, announce, onDirect }) {
    this.chat = chat;
    this.store = store;
    this.els = els;
    this.onEditDone = onEditDone;
    this.announce = announce;
    this.win = new TimelineWindow({ max: 150 });
    this.room = null;
    this.gen = 0;
    this.loading = null;
    this.nodes = new Map();
    this.editing = null;
    this.confirming = null;
    this.unseen = 0;
    els.scroller.addEventListener('scroll', () => this.#onScroll(), { passive: true });
    // A reader at the bottom stays there when the view changes size (phone rotated, composer grown).
    this.stuck = true;
    new ResizeObserver(() => {
      if (this.stuck) els.scroller.scrollTop = els.scroller.scrollHeight;
    }).observe(els.scroller);
    els.jump.addEventListener('click', () => this.jumpToLatest());
    // An author's name starts a direct conversation with them (message.js makes it a button).
    els.list.addEventListener('click', (e) => {
      const author = e.target.closest('[data-dm-actor]');
      if (author && onDirect) onDirect({ id: author.dataset.dmActor, name: author.textContent });
    });
    setInterval(() => this.#refreshTimes(), 30_000);
  }

  /** Renders again what is shown: the person's role changed, and with it the controls on others' messages. */
  refresh() {
    if (this.room) this.#render();
  }

  /** Shows `room` from its newest page. */
  async show(room) {
    this.room = room;
    this.gen += 1;
    this.win.reset();
    this.nodes.clear();
    this.editing = this.confirming = null;
    this.unseen = 0;
    this.loading = null;
    this.els.list.replaceChildren();
    this.els.startName.textContent = room.name;
    this.els.list.dataset.room = room.name;
    await this.#loadLatest();
  }

  /** The person sees the newest events: the window is at the room's top and scrolled to the bottom. */
  reading() {
    return !!this.room && this.win.atLatest(this.room.seq.last) && this.#nearBottom(40) && document.visibilityState !== 'hidden';
  }

  /** A live or replayed event of the open room, in room order. */
  live(ev) {
    const stick = this.#nearBottom(40);
    const changed = this.win.applyLive(ev, { trim: stick });
    if (!changed) {
      this.#controls();
      return;
    }
    this.#render();
    if (stick) this.scrollToBottom();
    else if (ev.kind === 'message') this.unseen += 1;
    const me = this.store.me;
    if (ev.kind === 'message' && ev.actor?.id !== me?.id) {
      this.announce(`${ev.actor?.name || 'someone'}: ${ev.message?.content?.text ?? ''}`);
    }
    this.#controls();
  }

  scrollToBottom() {
    const s = this.els.scroller;
    s.scrollTop = s.scrollHeight;
    this.unseen = 0;
    this.stuck = true;
  }

  async jumpToLatest() {
    if (!this.room) return;
    if (!this.win.atLatest(this.room.seq.last)) await this.#loadLatest();
    this.scrollToBottom();
    this.#controls();
    this.els.scroller.focus({ preventScroll: true });
  }

  /** Up in an empty composer: edit your newest message in view. */
  editLast() {
    const me = this.store.me;
    const ev = me && this.win.lastMessageBy(me.id);
    if (!ev) return false;
    this.#startEdit(ev);
    return true;
  }

  async #loadLatest() {
    const gen = this.gen;
    const room = this.room;
    const top = room.seq.last;
    const work = (async () => {
      let ack = { events: [], more: false };
      if (top > 0) ack = await this.chat.history(room.name, { before: top + 1, limit: PAGE });
      if (gen !== this.gen) return;
      this.win.setLatest(ack.events || [], top + 1, ack.more);
      await this.#catchUp(gen);
    })();
    this.loading = work;
    try {
      await work;
    } catch (err) {
      if (gen === this.gen) this.#error(err);
      return;
    } finally {
      if (this.loading === work) this.loading = null;
    }
    if (gen !== this.gen) return;
    this.#render();
    this.scrollToBottom();
    if (!performance.getEntriesByName('confab:room').length) performance.mark('confab:room');
    this.#controls();
    this.#fillViewport();
  }

  /** Events that arrived while a page was loading were not taken by the window: fetch them. */
  async #catchUp(gen) {
    while (gen === this.gen && !this.win.hasNewer && this.win.high < this.room.seq.last) {
      const ack = await this.chat.history(this.room.name, { after: this.win.high, limit: 200 });
      if (gen !== this.gen) return;
      const events = (ack.events || []).filter((e) => e.seq <= this.room.seq.last);
      if (!events.length) return;
      this.win.append(events, false);
    }
  }

  /** A short room may not fill the screen, and then no scroll ever asks for older pages. */
  #fillViewport() {
    if (this.win.hasOlder && this.#short()) this.#loadOlder();
  }

  async #loadOlder() {
    if (this.loading || !this.win.hasOlder || !this.room) return;
    const gen = this.gen;
    this.els.loadingOlder.hidden = false;
    const work = this.chat.history(this.room.name, { before: this.win.low, limit: PAGE });
    this.loading = work;
    try {
      const ack = await work;
      if (gen !== this.gen) return;
      this.#keepPlace(() => this.win.prepend(ack.events || [], ack.more));
    } catch (err) {
      if (gen === this.gen) this.#error(err);
    } finally {
      if (this.loading === work) this.loading = null;
      this.els.loadingOlder.hidden = true;
      this.#controls();
    }
    // Still near the top (a fast fling, or a short page): keep going; no scroll event would come.
    if (gen === this.gen && (this.els.scroller.scrollTop < EDGE_PX || this.#short())) this.#loadOlder();
  }

  #short() {
    const s = this.els.scroller;
    return s.scrollHeight <= s.clientHeight + EDGE_PX;
  }

  async #loadNewer() {
    if (this.loading || !this.win.hasNewer || !this.room) return;
    const gen = this.gen;
    const work = this.chat.history(this.room.name, { after: this.win.high, limit: PAGE });
    this.loading = work;
    try {
      const ack = await work;
      if (gen !== this.gen) return;
      this.#keepPlace(() => {
        const events = (ack.events || []).filter((e) => e.seq <= this.room.seq.last);
        this.win.append(events, ack.more || events.length < (ack.events || []).length);
      });
      if (!this.win.hasNewer && this.win.high < this.room.seq.last) await this.#catchUp(gen);
      if (gen === this.gen) this.#keepPlace(() => {});
    } catch (err) {
      if (gen === this.gen) this.#error(err);
    } finally {
      if (this.loading === work) this.loading = null;
      this.#controls();
    }
    const s = this.els.scroller;
    if (gen === this.gen && s.scrollHeight - s.scrollTop - s.clientHeight < EDGE_PX) this.#loadNewer();
  }

  /** Changes the window and re-renders while the first visible item stays where the reader saw it. */
  #keepPlace(change) {
    const s = this.els.scroller;
    // An event's row, not a day divider: a divider moves to the top when an older page of its day loads.
    const anchor = [...this.els.list.querySelectorAll(':scope > li[data-seq]')]
      .find((n) => n.offsetTop + n.offsetHeight > s.scrollTop);
    const offset = anchor ? anchor.offsetTop - s.scrollTop : 0;
    change();
    this.#render();
    // Looked up again by seq: the row may have been rebuilt (it now continues a group from the new page).
    const again = anchor && this.els.list.querySelector(`:scope > li[data-seq="${anchor.dataset.seq}"]`);
    if (again) s.scrollTop = again.offsetTop - offset;
  }

  #nearBottom(px) {
    const s = this.els.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < px;
  }

  #onScroll() {
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      const s = this.els.scroller;
      this.stuck = this.#nearBottom(40);
      if (s.scrollTop < EDGE_PX) this.#loadOlder();
      else if (s.scrollHeight - s.scrollTop - s.clientHeight < EDGE_PX) this.#loadNewer();
      if (this.reading()) {
        this.unseen = 0;
        const before = [this.room.unread, this.room.lastRead];
        this.room.markRead();
        if (before[0] !== this.room.unread || before[1] !== this.room.lastRead) {
          this.store.changed();
          this.chat.saveSoon();
        }
      }
      this.#controls();
    });
  }

  #controls() {
    const room = this.room;
    if (!room) return;
    const atStart = !this.win.hasOlder && !this.win.empty;
    this.els.start.hidden = !atStart;
    const away = !this.win.atLatest(room.seq.last) || !this.#nearBottom(this.els.scroller.clientHeight);
    this.els.jump.hidden = !away;
    showText(this.els.jumpCount, this.unseen ? String(this.unseen) : '');
    this.els.list.dataset.lastSeq = String(room.seq.last);
    this.els.list.dataset.low = String(this.win.low ?? '');
    this.els.list.dataset.high = String(this.win.high ?? '');
  }

  #error(err) {
    if (err.code === 'disconnected') return; // the resume after the reconnect shows the room again
    showText(this.els.banner, `Could not load messages: ${err.message}`);
  }

  /* ---- rendering */

  #render() {
    const nodes = [];
    const keep = new Map();
    for (const row of this.win.rows()) {
      const key = row.kind === 'day' ? `day:${row.key}` : `seq:${row.ev.seq}`;
      const sig = row.kind === 'day' ? row.key : this.#signature(row);
      let cached = this.nodes.get(key);
      if (!cached || (cached.sig !== sig && this.editing?.seq !== row.ev?.seq)) {
        cached = { sig, node: row.kind === 'day' ? dayNode(row) : this.#itemNode(row) };
      }
      keep.set(key, cached);
      nodes.push(cached.node);
    }
    this.nodes = keep;
    reconcile(this.els.list, nodes);
    this.#controls();
  }

  #signature({ ev, continued }) {
    if (ev.kind !== 'message') return ev.kind;
    const m = ev.message;
    const confirming = this.confirming === m.id;
    return `${continued}|${m.deleted}|${m.edited_at}|${m.content?.text}|${confirming}|${this.store.me?.id}|${this.#moderating()}`;
  }

  /** The person moderates the open room: a Delete button on everyone's messages. */
  #moderating() {
    return !!this.room && !this.room.direct && MODERATING.has(this.room.role);
  }

  #itemNode({ ev, continued }) {
    if (ev.kind !== 'message') return systemNode(ev);
    const me = this.store.me;
    const mine = !!me && ev.actor?.id === me.id;
    const m = ev.message;
    const mentioned = !mine && !m.deleted && mentions(m.content?.text ?? '', me?.name);
    const dm = !mine && me?.kind === 'user' && isAccount(ev.actor) && !this.room?.direct;
    const node = messageNode(ev, { continued, mine, mentioned, dm });
    node.append(this.#menu(ev, mine));
    return node;
  }

  /** The per-message menu: Edit and Delete on one's own messages, Delete on others' for moderators. Replies
   * and reactions (next batch) add their buttons here. */
  #menu(ev, mine) {
    const m = ev.message;
    const menu = h('div', { class: 'msg-menu', role: 'group', 'aria-label': 'Message actions', 'data-testid': 'message-actions' });
    if (m.deleted || (!mine && !this.#moderating())) return menu;
    if (this.confirming === m.id) {
      const error = h('span', { class: 'field-error inline', 'data-testid': 'delete-error', role: 'alert', hidden: true });
      const yes = h('button', { type: 'button', class: 'small danger', 'data-testid': 'confirm-delete', text: 'Delete' });
      const no = h('button', { type: 'button', class: 'small secondary', 'data-testid': 'cancel-delete', text: 'Keep' });
      yes.addEventListener('click', async () => {
        yes.disabled = true;
        try {
          await this.chat.remove(this.room.name, m.id);
          this.confirming = null;
          this.win.applyLive({ kind: 'delete', message_id: m.id, seq: -1 });
          this.#render();
        } catch (err) {
          yes.disabled = false;
          showText(error, err.message);
        }
      });
      no.addEventListener('click', () => {
        this.confirming = null;
        this.#render();
        this.#focusMessage(m.id, '[data-testid="delete-button"]');
      });
      menu.classList.add('open');
      const question = mine ? 'Delete this message?' : `Delete this message by ${ev.actor?.name || 'someone'}?`;
      menu.append(h('span', { class: 'confirm-text', text: question }), yes, no, error);
      queueMicrotask(() => yes.focus());
      return menu;
    }
    const remove = h('button', { type: 'button', class: 'menu-button danger', 'data-testid': 'delete-button',
      'aria-label': mine ? 'Delete message' : `Delete message by ${ev.actor?.name || 'someone'}`, text: 'Delete',
      onclick: () => { this.confirming = m.id; this.#render(); } });
    if (!mine) {
      menu.append(remove);
      return menu;
    }
    menu.append(
      h('button', { type: 'button', class: 'menu-button', 'data-testid': 'edit-button', 'aria-label': 'Edit message', text: 'Edit',
        onclick: () => this.#startEdit(ev) }),
      remove,
    );
    return menu;
  }

  #focusMessage(id, selector) {
    this.els.list.querySelector(`[data-message-id="${CSS.escape(String(id))}"] ${selector}`)?.focus();
  }

  #startEdit(ev) {
    const m = ev.message;
    const node = this.nodes.get(`seq:${ev.seq}`)?.node;
    if (!node || m.deleted || this.editing) return;
    this.editing = { seq: ev.seq, id: m.id };
    const body = node.querySelector('.msg-body');
    const input = h('textarea', { class: 'edit-input', 'data-testid': 'edit-input', 'aria-label': 'Edit message',
      rows: Math.min(8, Math.max(1, (m.content?.text ?? '').split('\n').length)) });
    input.value = m.content?.text ?? '';
    const error = h('p', { class: 'field-error', 'data-testid': 'edit-error', role: 'alert', hidden: true });
    const save = h('button', { type: 'button', class: 'small', 'data-testid': 'save-edit', text: 'Save' });
    const cancel = h('button', { type: 'button', class: 'small secondary', 'data-testid': 'cancel-edit', text: 'Cancel' });
    const box = h('div', { class: 'edit-box', 'data-testid': 'edit-box' }, input,
      h('div', { class: 'edit-actions' }, save, cancel, h('span', { class: 'hint', text: 'Enter saves · Esc cancels' })), error);
    body.hidden = true;
    body.after(box);
    node.classList.add('editing');
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);

    const stop = (saved) => {
      this.editing = null;
      this.nodes.delete(`seq:${ev.seq}`);
      this.#render();
      this.onEditDone(saved);
    };
    const doSave = async () => {
      const text = input.value;
      if (!text.trim()) return showText(error, 'The message is empty.');
      if (text === (m.content?.text ?? '')) return stop(false);
      save.disabled = true;
      try {
        await this.chat.edit(this.room.name, m.id, text);
        // Shown at once; the edit event that follows carries the same text and the server's time.
        const current = this.win.byMessage.get(String(m.id));
        if (current) current.message = { ...current.message, content: { ...current.message.content, text }, edited_at: current.message.edited_at ?? Date.now() };
        stop(true);
      } catch (err) {
        save.disabled = false;
        showText(error, err.message);
      }
    };
    save.addEventListener('click', doSave);
    cancel.addEventListener('click', () => stop(false));
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.preventDefault();
        stop(false);
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        doSave();
      }
    });
  }

  #refreshTimes() {
    for (const node of this.els.list.querySelectorAll('.rel[data-at]')) node.textContent = relativeTime(Number(node.dataset.at));
  }
}

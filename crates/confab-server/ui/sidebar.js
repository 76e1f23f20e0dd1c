// The sidebar (the rooms you are in, and your direct conversations, with unread and mention badges) and
// the room browser (public rooms from the lobby feed, and creating one, public or private). On a phone the
// sidebar is a drawer opened from the header.

import { h, reconcile } from './dom.js';

export class Sidebar {
  constructor({ store, els, navigate }) {
    this.store = store;
    this.els = els;
    this.navigate = navigate;
    this.filter = '';
    this.items = new Map();
    // One filter for the sidebar and the room browser: "find a room" means either.
    els.filter.addEventListener('input', () => {
      this.filter = els.filter.value.trim().toLowerCase();
      store.filter = this.filter;
      store.changed();
    });
    els.open.addEventListener('click', () => this.setOpen(true));
    els.close.addEventListener('click', () => this.setOpen(false));
    els.scrim.addEventListener('click', () => this.setOpen(false));
    els.root.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
        this.setOpen(false);
        els.open.focus();
      }
    });
    els.root.addEventListener('click', (e) => {
      const link = e.target.closest('a[href]');
      if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      this.setOpen(false);
      navigate(link.getAttribute('href'));
    });
  }

  setOpen(open) {
    document.body.classList.toggle('sidebar-open', open);
    this.els.scrim.hidden = !open;
    this.els.open.setAttribute('aria-expanded', String(open));
    if (open) this.els.filter.focus();
  }

  render() {
    const store = this.store;
    const all = [...store.rooms.values()].filter((r) => r.status !== 'missing' || r.name === store.active);
    const matches = (r) => !this.filter || r.label(store.me).toLowerCase().includes(this.filter);
    const rooms = all.filter((r) => !r.direct);
    const dms = all.filter((r) => r.direct);
    reconcile(this.els.list, rooms.filter(matches).map((room) => this.#item(room)));
    reconcile(this.els.dmList, dms.filter(matches).map((room) => this.#item(room)));
    this.els.empty.hidden = rooms.length > 0;
    this.els.dmNote.hidden = dms.length > 0;
    this.els.dmNote.textContent = store.me?.kind === 'user'
      ? 'No direct messages yet. Start one from a person’s name.' : 'Direct messages are for people signed in with an account.';
    // On a phone the list is behind the menu button: a dot on it says another room has news.
    const news = all.some((r) => r.name !== store.active && (r.unread || r.mentions));
    this.els.open.classList.toggle('has-news', news);
    this.els.open.setAttribute('aria-label', news ? 'Open the room list (unread messages)' : 'Open the room list');
    this.els.browse.toggleAttribute('aria-current', store.active === null && location.pathname === '/');
  }

  #item(room) {
    let li = this.items.get(room);
    if (!li || (li.dataset.testid === 'dm-item') !== room.direct) {
      li = h('li', { class: 'room-item', 'data-testid': room.direct ? 'dm-item' : 'room-item' },
        h('a', { class: 'room-link', 'data-testid': room.direct ? 'dm-link' : 'room-link', href: '' },
          h('span', { class: 'room-hash', 'aria-hidden': 'true', text: room.direct ? '@' : room.kind === 'private' ? '🔒' : '#' }),
          h('span', { class: 'room-name' }),
          h('span', { class: 'badge mention', 'data-testid': 'mention-count', hidden: true }),
          h('span', { class: 'badge', 'data-testid': 'unread-count', hidden: true })));
      this.items.set(room, li);
    }
    const link = li.firstElementChild;
    li.dataset.room = room.name;
    link.href = `/chat-room/${encodeURIComponent(room.name)}`;
    const label = room.label(this.store.me);
    link.querySelector('.room-name').textContent = label;
    link.querySelector('.room-hash').textContent = room.direct ? '@' : room.kind === 'private' ? '🔒' : '#';
    const active = this.store.active === room.name;
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
    const unread = active ? 0 : room.unread;
    const mentions = active ? 0 : room.mentions;
    const badge = link.querySelector('[data-testid="unread-count"]');
    badge.hidden = !unread;
    badge.textContent = unread ? `${unread}${room.unreadMore ? '+' : ''}` : '';
    badge.dataset.count = String(unread);
    const mention = link.querySelector('[data-testid="mention-count"]');
    mention.hidden = !mentions;
    mention.textContent = mentions ? `@${mentions}` : '';
    mention.dataset.count = String(mentions);
    link.classList.toggle('unread', unread > 0);
    const spoken = [room.direct ? `direct message with ${label}` : room.kind === 'private' ? `${label}, private` : label, unread ? `${unread} unread` : '', mentions ? `${mentions} mentioning you` : ''].filter(Boolean).join(', ');
    link.setAttribute('aria-label', spoken);
    return li;
  }
}

/** The room browser at `/`: every public room with how many people are in it, and a create form. */
export class RoomBrowser {
  constructor({ store, els, chat, navigate }) {
    this.store = store;
    this.els = els;
    els.form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const name = els.name.value.trim();
      els.error.hidden = true;
      if (!name) {
        els.error.textContent = 'Enter a name for the room.';
        els.error.hidden = false;
        els.name.focus();
        return;
      }
      els.submit.disabled = true;
      try {
        const isPrivate = !!els.private?.checked;
        await chat.createRoom(name, { private: isPrivate });
        els.name.value = '';
        if (els.private) els.private.checked = false;
        navigate(`/chat-room/${encodeURIComponent(name)}`);
      } catch (err) {
        els.error.textContent = err.code === 'invalid_room_name'
          ? 'Room names use letters, digits, spaces, “-”, “_” and “.”, 1 to 64 characters.'
          : err.message;
        els.error.hidden = false;
        els.name.focus();
      } finally {
        els.submit.disabled = false;
      }
    });
    els.list.addEventListener('click', (e) => {
      const link = e.target.closest('a[href]');
      if (!link || e.ctrlKey || e.metaKey || e.button !== 0) return;
      e.preventDefault();
      navigate(link.getAttribute('href'));
    });
  }

  render() {
    const filter = this.store.filter || '';
    const list = this.store.directoryList()
      .filter((r) => (!r.kind || r.kind === 'public') && (!filter || r.name.toLowerCase().includes(filter)));
    const status = this.els.status;
    status.textContent = list.length ? `${list.length} ${list.length === 1 ? 'room' : 'rooms'}` : this.store.directoryLoaded ? 'No rooms yet. Create the first one above.' : 'Loading…';
    this.els.list.replaceChildren(...list.map((room) => {
      const n = room.members || 0;
      const mine = !!this.store.findRoom(room.name);
      return h('li', { class: 'directory-item', 'data-testid': 'directory-item', 'data-room': room.name },
        h('a', { href: `/chat-room/${encodeURIComponent(room.name)}`, class: 'directory-link', 'data-testid': 'directory-link' },
          h('span', { class: 'room-hash', 'aria-hidden': 'true', text: '#' }),
          h('span', { class: 'room-name', text: room.name }),
          h('span', { class: 'room-count', 'data-testid': 'room-members', 'data-count': n, text: n === 1 ? '1 person here' : `${n} people here` }),
          h('span', { class: 'directory-action', text: mine ? 'Open' : 'Join' })));
    }));
  }
}

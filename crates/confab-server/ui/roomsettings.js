// The room settings dialog: the room's members with their roles, and, for the people allowed to, the
// controls over them: make or unmake a moderator and hand over ownership (the owner), kick, ban and unban
// (moderators, over members below them), an invite link to copy, adding someone by username, and
// incoming webhooks (the URL with its secret shown once). Every change goes through the HTTP API; the
// room's log then shows it to everyone as a system line.

import * as api from './api.js';
import { h, showText } from './dom.js';
import { copyButton, secretField } from './account.js';
import { isAccount } from './message.js';

const RANK = { owner: 3, moderator: 2, member: 1 };
const ROLE_NAME = { owner: 'owner', moderator: 'moderator', member: 'member' };

export class RoomSettings {
  /** `onDirect(person)`: start a direct conversation from a member's name. */
  constructor({ store, els, onDirect }) {
    this.store = store;
    this.els = els;
    this.onDirect = onDirect;
    this.room = null;
    els.dialog.addEventListener('close', () => {
      this.room = null;
      els.body.replaceChildren();
    });
  }

  /** Opens the dialog for `room` (a RoomState the person has joined). */
  async open(room) {
    this.room = room;
    this.els.heading.textContent = `Settings of ${room.label(this.store.me)}`;
    this.#build();
    if (!this.els.dialog.open) this.els.dialog.showModal();
    await this.reload();
  }

  /** The person's role in the room changed while the dialog is open (made or unmade a moderator, handed the
   * room over or given it): the dialog is built again with the controls of the new role. */
  sync() {
    if (!this.room || !this.els.dialog.open || this.room.role === this.builtRole) return;
    this.#build();
    this.reload();
  }

  get role() {
    return this.room?.role || 'member';
  }

  get moderator() {
    return RANK[this.role] >= RANK.moderator;
  }

  #build() {
    this.builtRole = this.room.role;
    this.error = h('p', { class: 'field-error', 'data-testid': 'room-dialog-error', role: 'alert', hidden: true });
    this.memberList = h('ul', { class: 'item-list', 'data-testid': 'room-members' });
    const parts = [
      h('p', { class: 'muted', 'data-testid': 'room-role', text: `You are ${this.role === 'owner' ? 'the owner' : `a ${ROLE_NAME[this.role] || this.role}`} of this room${this.room.kind === 'private' ? ', a private room: only its members can find it' : ''}.` }),
      h('h3', { text: 'Members' }), this.memberList, this.error,
    ];
    if (this.moderator) {
      this.banList = h('ul', { class: 'item-list', 'data-testid': 'room-bans' });
      this.hookList = h('ul', { class: 'item-list', 'data-testid': 'webhook-list' });
      parts.push(this.#invite(), this.#add(), h('h3', { text: 'Banned' }), this.banList, this.#webhooks());
    }
    this.els.body.replaceChildren(...parts);
  }

  async reload() {
    const room = this.room;
    if (!room) return;
    const tasks = [api.members(room.name).then((m) => this.#members(m))];
    if (this.moderator) {
      tasks.push(api.bans(room.name).then((b) => this.#bans(b)));
      tasks.push(api.webhooks(room.name).then((w) => this.#hooks(w)));
    }
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r) => r.status === 'rejected');
    if (this.room === room) showText(this.error, failed ? `Could not load everything: ${failed.reason.message}` : '');
  }

  /** Runs one change, shows its error, and reloads the lists. */
  async #act(fn) {
    showText(this.error, '');
    try {
      await fn();
    } catch (err) {
      showText(this.error, err.message);
      return;
    }
    await this.reload();
  }

  #members(list) {
    const me = this.store.me;
    const mine = RANK[this.role] || 1;
    const name = this.room.name;
    const sorted = [...list].sort((a, b) => (RANK[b.role] || 0) - (RANK[a.role] || 0) || String(a.name).localeCompare(String(b.name)));
    this.memberList.replaceChildren(...sorted.map((m) => {
      const self = me && m.id === me.id;
      const below = (RANK[m.role] || 1) < mine;
      const actions = [];
      if (!self && me?.kind === 'user' && isAccount(m)) {
        actions.push(h('button', { type: 'button', class: 'small secondary', 'data-testid': 'member-dm', 'aria-label': `Send a direct message to ${m.name}`, text: 'Message',
          onclick: () => { this.els.dialog.close(); this.onDirect(m); } }));
      }
      if (!self && this.role === 'owner' && isAccount(m)) {
        if (m.role === 'member') {
          actions.push(h('button', { type: 'button', class: 'small secondary', 'data-testid': 'make-moderator', 'aria-label': `Make ${m.name} a moderator`, text: 'Make moderator',
            onclick: () => this.#act(() => api.setRole(name, m.id, 'moderator')) }));
        } else if (m.role === 'moderator') {
          actions.push(h('button', { type: 'button', class: 'small secondary', 'data-testid': 'unmake-moderator', 'aria-label': `Remove ${m.name} as moderator`, text: 'Remove moderator',
            onclick: () => this.#act(() => api.setRole(name, m.id, 'member')) }));
        }
        actions.push(this.#confirm('transfer', `Make ${m.name} the owner`, 'Hand over', `${m.name} becomes the owner; you become a moderator.`,
          () => api.transfer(name, m.id)));
      }
      if (!self && this.moderator && below) {
        actions.push(h('button', { type: 'button', class: 'small secondary', 'data-testid': 'kick', 'aria-label': `Remove ${m.name} from the room`, text: 'Kick',
          onclick: () => this.#act(() => api.kick(name, m.id)) }));
        actions.push(this.#confirm('ban', `Ban ${m.name}`, 'Ban', `${m.name} leaves at once and cannot come back or read the room.`,
          () => api.ban(name, m.id)));
      }
      return h('li', { class: 'item', 'data-testid': 'room-member', 'data-id': m.id, 'data-role': m.role },
        h('span', { class: 'item-main' },
          h('span', { class: 'item-title', 'data-testid': 'room-member-name', text: `${m.name}${self ? ' (you)' : ''}` }),
          h('span', { class: 'hint', 'data-testid': 'room-member-role', text: `${ROLE_NAME[m.role] || m.role}${m.online ? ' · here now' : ''}` })),
        h('span', { class: 'item-actions' }, actions));
    }));
  }

  /** A button that asks once more before a change that is hard to undo. */
  #confirm(testid, label, text, question, fn) {
    const wrap = h('span', { class: 'confirm' });
    const ask = h('button', { type: 'button', class: 'small secondary', 'data-testid': testid, 'aria-label': label, text,
      onclick: () => {
        wrap.replaceChildren(h('span', { class: 'confirm-text', text: question }),
          h('button', { type: 'button', class: 'small danger', 'data-testid': `confirm-${testid}`, text,
            onclick: () => this.#act(fn) }),
          h('button', { type: 'button', class: 'small secondary', 'data-testid': `cancel-${testid}`, text: 'Cancel',
            onclick: () => { wrap.replaceChildren(ask); ask.focus(); } }));
        wrap.querySelector(`[data-testid="confirm-${testid}"]`).focus();
      } });
    wrap.append(ask);
    return wrap;
  }

  #bans(list) {
    const name = this.room.name;
    this.banList.replaceChildren(...(list.length ? list.map((b) => {
      const who = b.actor || b;
      return h('li', { class: 'item', 'data-testid': 'room-ban', 'data-id': who.id },
        h('span', { class: 'item-main' }, h('span', { class: 'item-title', text: who.name || who.id })),
        h('button', { type: 'button', class: 'small secondary', 'data-testid': 'unban', 'aria-label': `Lift the ban on ${who.name || who.id}`, text: 'Unban',
          onclick: () => this.#act(() => api.unban(name, who.id)) }));
    }) : [h('li', { class: 'hint', text: 'Nobody is banned.' })]));
  }

  #invite() {
    const out = h('div', { 'data-testid': 'invite-created' });
    return h('section', { class: 'account-block' }, h('h3', { text: 'Invite link' }),
      h('p', { class: 'hint', text: 'Whoever opens the link and signs in joins the room. It works for 7 days and for 25 people.' }),
      h('button', { type: 'button', class: 'small', 'data-testid': 'create-invite', text: 'Create an invite link',
        onclick: async () => {
          showText(this.error, '');
          try {
            const inv = await api.createInvite(this.room.name, { max_uses: 25, expires_in_secs: 7 * 24 * 3600 });
            const url = new URL(inv.url || `/invite/${encodeURIComponent(inv.code)}`, location.origin).href;
            out.replaceChildren(h('div', { class: 'row nowrap' }, secretField(url, 'invite-url', 'Invite link'), copyButton(url, 'copy-invite')));
          } catch (err) {
            showText(this.error, err.message);
          }
        } }), out);
  }

  #add() {
    const input = h('input', { id: 'add-member-name', 'data-testid': 'add-member-name', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
    return h('form', {
      class: 'account-form', novalidate: true, 'data-testid': 'add-member-form',
      onsubmit: (e) => {
        e.preventDefault();
        const username = input.value.trim();
        if (!username) return;
        this.#act(async () => {
          await api.addMember(this.room.name, username);
          input.value = '';
        });
      },
    }, h('label', { for: 'add-member-name', text: 'Add someone by username' }),
    h('div', { class: 'row nowrap' }, input, h('button', { type: 'submit', class: 'small', 'data-testid': 'add-member', text: 'Add' })));
  }

  #webhooks() {
    const input = h('input', { id: 'webhook-name', 'data-testid': 'webhook-name', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. ci' });
    const out = h('div', { 'data-testid': 'webhook-created' });
    const form = h('form', {
      class: 'account-form', novalidate: true, 'data-testid': 'webhook-form',
      onsubmit: (e) => {
        e.preventDefault();
        const hookName = input.value.trim();
        if (!hookName) return showText(this.error, 'Give the webhook a name.');
        this.#act(async () => {
          const { url } = await api.createWebhook(this.room.name, hookName);
          const full = new URL(url, location.origin).href;
          input.value = '';
          out.replaceChildren(h('div', { class: 'once' },
            h('p', { text: 'POST Slack-style JSON ({"text": "..."}) to this URL. Copy it now: it is shown only once.' }),
            h('div', { class: 'row nowrap' }, secretField(full, 'webhook-url', 'Webhook URL'), copyButton(full, 'copy-webhook'))));
        });
      },
    }, h('label', { for: 'webhook-name', text: 'New incoming webhook' }),
    h('div', { class: 'row nowrap' }, input, h('button', { type: 'submit', class: 'small', 'data-testid': 'webhook-create', text: 'Create' })));
    return h('section', { class: 'account-block' }, h('h3', { text: 'Incoming webhooks' }), form, out, this.hookList);
  }

  #hooks(list) {
    const name = this.room.name;
    this.hookList.replaceChildren(...(list.length ? list.map((w) => h('li', { class: 'item', 'data-testid': 'webhook', 'data-id': w.id },
      h('span', { class: 'item-main' },
        h('span', { class: 'item-title', text: w.name }),
        h('span', { class: 'hint', text: `created ${new Date(w.created_at || 0).toLocaleString()}` })),
      h('button', { type: 'button', class: 'small secondary', 'data-testid': 'revoke-webhook', 'aria-label': `Revoke the webhook ${w.name}`, text: 'Revoke',
        onclick: () => this.#act(() => api.revokeWebhook(name, w.id)) }))) : [h('li', { class: 'hint', text: 'No webhooks.' })]));
  }
}

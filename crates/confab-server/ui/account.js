// The account section of the settings dialog. A guest sees who they are and a way to sign in; an account
// sees its display name, password change, two-factor sign-in (setup with the secret as text, recovery
// codes shown once), its sessions (revoke any, sign out here or everywhere) and its API tokens (the secret
// shown once, with a copy button). Every control is a plain form or button; errors show next to it.

import * as api from './api.js';
import { h, showText } from './dom.js';

const when = (ms) => (ms ? new Date(ms).toLocaleString() : 'never');

/** "Chrome on Linux" from a User-Agent header: what a person recognises their devices by. */
export function describeAgent(ua) {
  if (!ua) return 'An unknown browser';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome'
    : /Safari\//.test(ua) ? 'Safari' : null;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Linux|X11/.test(ua) ? 'Linux' : null;
  if (!browser) return ua.length > 60 ? `${ua.slice(0, 57)}…` : ua;
  return os ? `${browser} on ${os}` : browser;
}

/** Copies `text`, and says so next to the button (the clipboard may be denied: the text stays selectable). */
export function copyButton(text, testid, label = 'Copy') {
  const status = h('span', { class: 'hint inline', role: 'status' });
  const button = h('button', {
    type: 'button', class: 'small secondary', 'data-testid': testid, text: label,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied.';
      } catch {
        status.textContent = 'Select the text and copy it.';
      }
    },
  });
  return h('span', { class: 'copy' }, button, status);
}

/** A read-only text field for a secret or a link, selected on focus. */
export function secretField(value, testid, label) {
  const input = h('input', { readonly: true, 'data-testid': testid, 'aria-label': label, spellcheck: 'false' });
  input.value = value;
  input.addEventListener('focus', () => input.select());
  return input;
}

function errorLine(testid) {
  return h('p', { class: 'field-error', 'data-testid': testid, role: 'alert', hidden: true });
}

function field(id, label, attrs = {}) {
  return [h('label', { for: id, text: label }), h('input', { id, 'data-testid': id, ...attrs })];
}

export class Account {
  /** `onSignIn()`: a guest asks to sign in. `onSignedOut(everywhere)`: this browser's session ended. */
  constructor({ store, els, onSignIn, onSignedOut, onRenamed }) {
    this.store = store;
    this.els = els;
    this.onSignIn = onSignIn;
    this.onSignedOut = onSignedOut;
    this.onRenamed = onRenamed;
    this.builtFor = undefined;
  }

  /** Brings the section up to date with `store.me`; called on every store change (cheap when unchanged). */
  render() {
    const me = this.store.me;
    const key = me ? `${me.kind || 'guest'}:${me.id}` : null;
    if (key === this.builtFor) {
      if (me && me.kind === 'user') this.els.text.textContent = `Signed in as ${me.name} (@${me.username || me.name}).`;
      return;
    }
    this.builtFor = key;
    const panel = this.els.panel;
    if (!me) {
      this.els.text.textContent = 'You have no session yet.';
      panel.replaceChildren();
      return;
    }
    if (me.kind !== 'user') {
      this.els.text.textContent = `You are the guest “${me.name}”.`;
      panel.replaceChildren(this.store.server?.accounts
        ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'account-signin', text: 'Sign in or create an account',
          onclick: () => this.onSignIn() })
        : '');
      return;
    }
    this.els.text.textContent = `Signed in as ${me.name} (@${me.username || me.name}).`;
    panel.replaceChildren(this.#profile(me), this.#password(), this.#twoFactor(me), this.#sessions(), this.#tokens(), this.#signOut());
  }

  /** The dialog opened: reload the lists that change elsewhere (sessions, tokens). */
  refresh() {
    if (this.store.me?.kind !== 'user') return;
    this.loadSessions?.();
    this.loadTokens?.();
  }

  #profile(me) {
    const error = errorLine('display-name-error');
    const done = h('span', { class: 'hint inline', role: 'status', 'data-testid': 'display-name-status' });
    const [label, input] = field('account-display-name', 'Display name', { autocomplete: 'nickname', spellcheck: 'false' });
    input.value = me.name;
    return h('form', {
      class: 'account-form', 'data-testid': 'display-name-form', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        showText(error, '');
        done.textContent = '';
        try {
          const body = await api.updateAccount(input.value.trim());
          const user = body?.user || { ...me, name: input.value.trim() };
          this.store.me = { ...this.store.me, ...user };
          this.store.changed();
          this.onRenamed?.(this.store.me);
          done.textContent = 'Saved.';
        } catch (err) {
          showText(error, err.code === 'invalid_name' ? 'Display names are 1 to 32 characters, without control characters.' : err.message);
        }
      },
    }, label, h('div', { class: 'row nowrap' }, input, h('button', { type: 'submit', class: 'small', 'data-testid': 'display-name-save', text: 'Save' })), done, error);
  }

  #password() {
    const error = errorLine('password-error');
    const done = h('p', { class: 'hint', role: 'status', 'data-testid': 'password-status' });
    const [l1, current] = field('password-current', 'Current password', { type: 'password', autocomplete: 'current-password' });
    const [l2, next] = field('password-new', 'New password', { type: 'password', autocomplete: 'new-password' });
    return h('form', {
      class: 'account-form', 'data-testid': 'password-form', novalidate: true, 'aria-labelledby': 'password-heading',
      onsubmit: async (e) => {
        e.preventDefault();
        showText(error, '');
        done.textContent = '';
        if (!current.value || !next.value) return showText(error, 'Enter your current and your new password.');
        try {
          await api.changePassword(current.value, next.value);
          current.value = next.value = '';
          done.textContent = 'Password changed. Your other sessions were signed out.';
          this.loadSessions?.();
        } catch (err) {
          showText(error, err.code === 'bad_credentials' ? 'The current password is not right.'
            : err.code === 'weak_password' ? `Choose a stronger password: ${err.message}` : err.message);
        }
      },
    }, h('h4', { id: 'password-heading', text: 'Password' }), l1, current, l2, next,
    h('button', { type: 'submit', class: 'small', 'data-testid': 'password-save', text: 'Change password' }), done, error);
  }

  #twoFactor(me) {
    const box = h('div', { class: 'account-block', 'data-testid': 'two-factor' });
    const error = errorLine('two-factor-error');
    const showOff = () => {
      box.replaceChildren(h('h4', { text: 'Two-factor sign-in' }),
        h('p', { class: 'muted', 'data-testid': 'two-factor-status', text: 'Off: signing in needs only your password.' }),
        h('button', { type: 'button', class: 'small secondary', 'data-testid': 'two-factor-setup', text: 'Set up two-factor sign-in',
          onclick: setup }), error);
    };
    const showOn = () => {
      const [label, password] = field('two-factor-password', 'Password (to turn it off)', { type: 'password', autocomplete: 'current-password' });
      box.replaceChildren(h('h4', { text: 'Two-factor sign-in' }),
        h('p', { class: 'muted', 'data-testid': 'two-factor-status', text: 'On: signing in asks for a code from your authenticator app.' }),
        h('form', {
          class: 'account-form', novalidate: true, 'data-testid': 'two-factor-disable-form',
          onsubmit: async (e) => {
            e.preventDefault();
            showText(error, '');
            try {
              await api.twoFactorDisable(password.value);
              this.store.me = { ...this.store.me, two_factor: false };
              showOff();
            } catch (err) {
              showText(error, err.code === 'bad_credentials' ? 'The password is not right.' : err.message);
            }
          },
        }, label, h('div', { class: 'row nowrap' }, password, h('button', { type: 'submit', class: 'small danger', 'data-testid': 'two-factor-disable', text: 'Turn off' }))),
        error);
    };
    const setup = async () => {
      showText(error, '');
      let s;
      try {
        s = await api.twoFactorSetup();
      } catch (err) {
        return showText(error, err.message);
      }
      const [label, code] = field('two-factor-code', 'Code from the app', { inputmode: 'numeric', autocomplete: 'one-time-code', spellcheck: 'false' });
      box.replaceChildren(h('h4', { text: 'Two-factor sign-in' }),
        h('p', { class: 'muted', text: 'Add this account to your authenticator app with the key or the link below, then enter the code it shows.' }),
        h('label', { for: 'two-factor-secret', text: 'Key' }),
        h('div', { class: 'row nowrap' }, Object.assign(secretField(s.secret, 'two-factor-secret', 'Two-factor key'), { id: 'two-factor-secret' }), copyButton(s.secret, 'copy-two-factor-secret')),
        h('label', { for: 'two-factor-url', text: 'Link (otpauth)' }),
        h('div', { class: 'row nowrap' }, Object.assign(secretField(s.otpauth_url, 'two-factor-url', 'Two-factor link'), { id: 'two-factor-url' }), copyButton(s.otpauth_url, 'copy-two-factor-url')),
        h('form', {
          class: 'account-form', novalidate: true, 'data-testid': 'two-factor-enable-form',
          onsubmit: async (e) => {
            e.preventDefault();
            showText(error, '');
            try {
              const { recovery_codes: codes = [] } = await api.twoFactorEnable(code.value.replace(/\s+/g, ''));
              this.store.me = { ...this.store.me, two_factor: true };
              showOn();
              box.append(h('div', { class: 'once', 'data-testid': 'recovery-codes' },
                h('p', { text: 'Recovery codes: each signs you in once without the app. Keep them somewhere safe; they are shown only now.' }),
                h('ul', { class: 'codes' }, codes.map((c) => h('li', { 'data-testid': 'recovery-code' }, h('code', { text: c })))),
                copyButton(codes.join('\n'), 'copy-recovery-codes', 'Copy the codes')));
            } catch (err) {
              showText(error, err.code === 'bad_request' || err.code === 'bad_credentials' ? 'That code is not right. Try the current one.' : err.message);
            }
          },
        }, label, h('div', { class: 'row nowrap' }, code, h('button', { type: 'submit', class: 'small', 'data-testid': 'two-factor-enable', text: 'Turn on' }))),
        error);
      code.focus();
    };
    if (me.two_factor) showOn();
    else showOff();
    return box;
  }

  #sessions() {
    const list = h('ul', { class: 'item-list', 'data-testid': 'session-list' });
    const error = errorLine('sessions-error');
    this.loadSessions = async () => {
      try {
        const sessions = await api.sessions();
        list.replaceChildren(...sessions.map((s) => h('li', { class: 'item', 'data-testid': 'session', 'data-current': String(!!s.current), 'data-id': s.id },
          h('span', { class: 'item-main' },
            h('span', { class: 'item-title', title: s.user_agent || '', text: describeAgent(s.user_agent) }),
            h('span', { class: 'hint', text: `${s.current ? 'This browser · ' : ''}signed in ${when(s.created_at)} · last used ${when(s.last_used_at)}` })),
          s.current ? h('span', { class: 'you', text: '(this one)' })
            : h('button', { type: 'button', class: 'small secondary', 'data-testid': 'revoke-session', 'aria-label': `Sign out ${describeAgent(s.user_agent)}, signed in ${when(s.created_at)}`, text: 'Sign out',
              onclick: async () => {
                try {
                  await api.revokeSession(s.id);
                  this.loadSessions();
                } catch (err) {
                  showText(error, err.message);
                }
              } }))));
        showText(error, '');
      } catch (err) {
        showText(error, `Could not list the sessions: ${err.message}`);
      }
    };
    return h('div', { class: 'account-block' }, h('h4', { text: 'Where you are signed in' }), list, error);
  }

  #tokens() {
    const list = h('ul', { class: 'item-list', 'data-testid': 'token-list' });
    const error = errorLine('tokens-error');
    const fresh = h('div', { 'data-testid': 'token-created' });
    const [label, name] = field('token-name', 'New token name', { autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. ci-bot' });
    this.loadTokens = async () => {
      try {
        const tokens = await api.tokens();
        list.replaceChildren(...tokens.map((t) => h('li', { class: 'item', 'data-testid': 'token', 'data-id': t.id },
          h('span', { class: 'item-main' },
            h('span', { class: 'item-title', 'data-testid': 'token-name-text', text: t.name }),
            h('span', { class: 'hint', text: `created ${when(t.created_at)} · last used ${when(t.last_used_at)}` })),
          h('button', { type: 'button', class: 'small secondary', 'data-testid': 'revoke-token', 'aria-label': `Revoke the token ${t.name}`, text: 'Revoke',
            onclick: async () => {
              try {
                await api.revokeToken(t.id);
                fresh.replaceChildren();
                this.loadTokens();
              } catch (err) {
                showText(error, err.message);
              }
            } }))));
        if (!tokens.length) list.replaceChildren(h('li', { class: 'hint', text: 'No API tokens.' }));
      } catch (err) {
        showText(error, `Could not list the tokens: ${err.message}`);
      }
    };
    const form = h('form', {
      class: 'account-form', novalidate: true, 'data-testid': 'token-form',
      onsubmit: async (e) => {
        e.preventDefault();
        showText(error, '');
        if (!name.value.trim()) return showText(error, 'Give the token a name.');
        try {
          const { secret, token } = await api.createToken(name.value.trim());
          name.value = '';
          fresh.replaceChildren(h('div', { class: 'once' },
            h('p', { text: `The token “${token?.name ?? ''}”: copy it now, it is shown only once.` }),
            h('div', { class: 'row nowrap' }, secretField(secret, 'token-secret', 'The new token'), copyButton(secret, 'copy-token'))));
          this.loadTokens();
        } catch (err) {
          showText(error, err.message);
        }
      },
    }, label, h('div', { class: 'row nowrap' }, name, h('button', { type: 'submit', class: 'small', 'data-testid': 'token-create', text: 'Create' })));
    return h('div', { class: 'account-block' },
      h('h4', { text: 'API tokens' }),
      h('p', { class: 'hint', text: 'For bots and scripts: a token acts as you on /ws, Socket.IO and the HTTP API.' }),
      form, fresh, list, error);
  }

  #signOut() {
    const error = errorLine('signout-error');
    const out = (everywhere) => async () => {
      try {
        await api.logout(everywhere);
      } catch (err) {
        if (err.code !== 'unauthenticated') return showText(error, err.message);
      }
      this.onSignedOut(everywhere);
    };
    return h('div', { class: 'account-block' }, h('h4', { text: 'Sign out' }),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'small secondary', 'data-testid': 'sign-out', text: 'Sign out', onclick: out(false) }),
        h('button', { type: 'button', class: 'small danger', 'data-testid': 'sign-out-everywhere', text: 'Sign out everywhere', onclick: out(true) })),
      error);
  }
}

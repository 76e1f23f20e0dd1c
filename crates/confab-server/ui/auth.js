// The welcome view for a browser without a session: sign in (with the two-factor step when the account
// asks for it), create an account (with an invitation code when registration is by invitation), or pick a
// display name as a guest. Which of these it offers follows `GET /api/server`: with guests off it is the
// sign-in page only; with registration closed there is no "Create an account".

import * as api from './api.js';
import { byTestId as $, showText } from './dom.js';

const PANELS = ['guest', 'signin', 'register'];

/** What the person sees for an error code of register or sign-in. */
function explain(err) {
  switch (err.code) {
    case 'bad_credentials': return 'Wrong username or password.';
    case 'two_factor_required': return 'Enter the code from your authenticator app.';
    case 'rate_limited':
      return err.retryAfter ? `Too many attempts. Try again in ${err.retryAfter} s.` : 'Too many attempts. Try again later.';
    case 'username_taken': return 'That username is taken. Pick another one.';
    case 'invalid_username': return `That username cannot be used: ${err.message}`;
    case 'weak_password': return `Choose a stronger password: ${err.message}`;
    case 'registration_closed': return 'This server does not take new accounts; ask an administrator for one.';
    case 'invite_invalid': return 'This invitation code is not valid, used up or expired.';
    case 'invalid_name': return 'Display names are 1 to 32 characters, without control characters.';
    case 'guests_not_allowed': return 'This server does not allow guests: sign in with an account.';
    case 'network': return 'Cannot reach the server. Check your connection and try again.';
    default: return err.message || err.code;
  }
}

export class Welcome {
  /** `onSession(user)`: a session exists now (signed in, registered, or a guest). `nameKey`: where the
   * guest's display name is remembered. */
  constructor({ storage, onSession, rememberName, rememberedName }) {
    this.storage = storage;
    this.onSession = onSession;
    this.rememberName = rememberName;
    this.rememberedName = rememberedName;
    this.info = { registration: 'closed', guests: 'on', accounts: false };
    this.panel = 'guest';
    this.needCode = false;
    const invite = new URLSearchParams(location.search).get('invite');
    if (invite) $('register-invite').value = invite;

    $('show-signin').addEventListener('click', () => this.show('signin'));
    $('show-register').addEventListener('click', () => this.show('register'));
    $('show-guest').addEventListener('click', () => this.show('guest'));
    $('name-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#guest();
    });
    $('signin-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#signIn();
    });
    $('register-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.#register();
    });
  }

  /** The server's settings (`GET /api/server`). */
  configure(info) {
    this.info = info;
    $('register-invite-field').hidden = info.registration !== 'invite';
  }

  get guestsAllowed() {
    return this.info.guests !== 'off';
  }

  get canRegister() {
    return this.info.accounts && this.info.registration !== 'closed';
  }

  /** The panel a newcomer sees first: the guest name when guests are on, else sign in (or register when
   * they came with a registration invitation). */
  defaultPanel() {
    if (this.canRegister && $('register-invite').value) return 'register';
    return this.guestsAllowed ? 'guest' : 'signin';
  }

  /** Shows `panel` (guest, signin, register; default: the first one for this server), with `notice`. */
  show(panel = this.defaultPanel(), notice = '') {
    if (panel === 'guest' && !this.guestsAllowed) panel = 'signin';
    if (panel === 'register' && !this.canRegister) panel = 'signin';
    if (panel === 'signin' && !this.info.accounts) panel = 'guest';
    this.panel = panel;
    for (const p of PANELS) $(`panel-${p}`).hidden = p !== panel;
    $('welcome-heading').textContent = panel === 'signin' ? 'Sign in to Confab'
      : panel === 'register' ? 'Create your Confab account' : 'Welcome to Confab';
    $('show-signin').hidden = panel === 'signin' || !this.info.accounts;
    $('show-register').hidden = panel === 'register' || !this.canRegister;
    $('show-guest').hidden = panel === 'guest' || !this.guestsAllowed;
    if (notice) showText($('welcome-notice'), notice);
    const first = panel === 'guest' ? $('display-name') : panel === 'signin' ? $('signin-username') : $('register-username');
    if (panel === 'guest' && !first.value) first.value = this.rememberedName() || '';
    first.focus();
  }

  async #guest() {
    const name = $('display-name').value.trim();
    if (!name) return showText($('name-error'), 'Enter a display name.');
    showText($('name-error'), '');
    let user;
    try {
      user = await api.guest(name);
    } catch (err) {
      return showText($('name-error'), explain(err));
    }
    this.rememberName(name);
    this.onSession(user);
  }

  async #signIn() {
    const username = $('signin-username').value.trim();
    const password = $('signin-password').value;
    const code = $('signin-code').value.replace(/\s+/g, '');
    const error = $('signin-error');
    if (!username || !password) return showText(error, 'Enter your username and password.');
    if (this.needCode && !code) return showText(error, explain({ code: 'two_factor_required' }));
    showText(error, '');
    const submit = $('signin-submit');
    submit.disabled = true;
    let user;
    try {
      user = await api.login({ username, password, code: this.needCode ? code : undefined });
    } catch (err) {
      if (err.code === 'two_factor_required') {
        // The password was right: the same form asks for the second factor, and the next submit sends it.
        const asked = this.needCode;
        this.needCode = true;
        $('signin-code-field').hidden = false;
        $('signin-code').value = '';
        $('signin-code').focus();
        showText(error, asked ? 'That code is not right. Try the current one.' : explain(err));
      } else if (this.needCode && err.code === 'bad_credentials') {
        // The password was right a moment ago: what failed is the code (wrong, or already used once).
        $('signin-code').select();
        showText(error, 'That code is not right, or was already used. Enter the next one your app shows.');
      } else {
        showText(error, explain(err));
      }
      return;
    } finally {
      submit.disabled = false;
    }
    this.#reset();
    this.onSession(user || (await api.me()));
  }

  async #register() {
    const username = $('register-username').value.trim();
    const password = $('register-password').value;
    const error = $('register-error');
    if (!username || !password) return showText(error, 'Choose a username and a password.');
    showText(error, '');
    const submit = $('register-submit');
    submit.disabled = true;
    let user;
    try {
      user = await api.register({
        username, password, displayName: $('register-display').value.trim(), invite: $('register-invite').value.trim(),
      });
    } catch (err) {
      return showText(error, explain(err));
    } finally {
      submit.disabled = false;
    }
    this.#reset();
    this.onSession(user || (await api.me()));
  }

  /** Passwords and codes do not stay in the page after they served. */
  #reset() {
    for (const id of ['signin-password', 'signin-code', 'register-password']) $(id).value = '';
    this.needCode = false;
    $('signin-code-field').hidden = true;
    showText($('welcome-notice'), '');
  }
}

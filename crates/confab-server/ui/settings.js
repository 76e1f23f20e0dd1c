// The settings panel (a dialog: the theme, and the account section that account.js renders) and the theme:
// "system" follows prefers-color-scheme, "light" and "dark" are a manual choice kept in localStorage.

import { readJson, writeJson } from './storage.js';

export class Settings {
  constructor({ storage, els, account }) {
    this.storage = storage;
    this.els = els;
    this.account = account;
    els.open.addEventListener('click', () => {
      this.#sync();
      account.render();
      account.refresh();
      els.dialog.showModal();
    });
    for (const radio of els.dialog.querySelectorAll('input[name="theme"]')) {
      radio.addEventListener('change', () => this.setTheme(radio.value));
    }
    els.toggle.addEventListener('click', () => this.setTheme(this.effective() === 'dark' ? 'light' : 'dark'));
    matchMedia('(prefers-color-scheme: dark)').addEventListener?.('change', () => this.#sync());
    this.#sync();
  }

  choice() {
    const c = readJson(this.storage, 'theme', 'system');
    return ['system', 'light', 'dark'].includes(c) ? c : 'system';
  }

  effective() {
    return document.documentElement.dataset.theme === 'dark' ? 'dark' : 'light';
  }

  setTheme(choice) {
    writeJson(this.storage, 'theme', choice);
    globalThis.confabApplyTheme?.();
    this.#sync();
  }

  #sync() {
    const choice = this.choice();
    for (const radio of this.els.dialog.querySelectorAll('input[name="theme"]')) radio.checked = radio.value === choice;
    const next = this.effective() === 'dark' ? 'light' : 'dark';
    this.els.toggle.setAttribute('aria-label', `Switch to the ${next} theme`);
    this.els.toggle.dataset.next = next;
  }
}

// Avatar colours come from a hash of the person's id (ui/format.js `hue`), so any hue can occur: the
// white initials must meet WCAG AA contrast (4.5:1) on every one of them, in the colour style.css
// gives `.avatar`. (axe-core in the browser tests only ever sees the few hues of that run's ids.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ui } from './ui.mjs';

const css = readFileSync(new URL(ui('style.css')), 'utf8');
const { hue } = await import(ui('format.js'));

function hslToRgb(h, s, l) {
  const k = (n) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [f(0), f(8), f(4)];
}

function luminance([r, g, b]) {
  const lin = (c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

test('white initials meet 4.5:1 on the avatar colour of every hue', () => {
  const rule = css.match(/\.avatar\s*\{[^}]*background:\s*hsl\(var\(--hue\)\s+([\d.]+)%\s+([\d.]+)%\)/);
  assert.ok(rule, 'style.css gives .avatar an hsl(var(--hue) S% L%) background');
  const [s, l] = [Number(rule[1]) / 100, Number(rule[2]) / 100];
  let worst = Infinity;
  for (let h = 0; h < 360; h++) {
    const contrast = 1.05 / (luminance(hslToRgb(h, s, l)) + 0.05);
    worst = Math.min(worst, contrast);
  }
  assert.ok(worst >= 4.5, `the lowest contrast over all hues is ${worst.toFixed(2)}`);
  assert.ok(Number.isInteger(hue('g_anything')) && hue('g_anything') >= 0 && hue('g_anything') < 360);
});

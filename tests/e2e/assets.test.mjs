// The embedded client as the server serves it: every file in ui/ is reachable under /static/ with its
// content type (a module missing from pages.rs's list would break the app), the shell carries the strict
// CSP and no inline script, unchanged files revalidate with 304, and unknown files are 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Server, repoRoot } from './helpers.mjs';

const uiDir = path.join(repoRoot, 'crates', 'confab-server', 'ui');
let server;
before(async () => { server = await Server.start(); });
after(async () => { await server?.dispose(); });

test('every ui/ file is served with its type, and revalidates by ETag', async () => {
  const files = readdirSync(uiDir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  assert.ok(files.length >= 15, files.join(' '));
  for (const file of files) {
    const res = await fetch(`${server.url}/static/${file}`);
    assert.equal(res.status, 200, file);
    const type = file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8';
    assert.equal(res.headers.get('content-type'), type, file);
    assert.equal(await res.text(), readFileSync(path.join(uiDir, file), 'utf8'), `${file} is the file in the tree`);
    const etag = res.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{16}"$/);
    const again = await fetch(`${server.url}/static/${file}`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304, file);
  }
  // Every module a file imports is among them.
  for (const file of files.filter((f) => f.endsWith('.js'))) {
    for (const [, dep] of readFileSync(path.join(uiDir, file), 'utf8').matchAll(/from '\.\/([\w-]+\.js)'/g)) {
      assert.ok(files.includes(dep), `${file} imports ${dep}`);
    }
  }
  assert.equal((await fetch(`${server.url}/static/nope.js`)).status, 404);
  assert.equal((await fetch(`${server.url}/static/..%2FCargo.toml`)).status, 404);
});

test('every page route serves the shell with a strict CSP and no inline script', async () => {
  for (const route of ['/', '/chat-room/general', '/chat-room/fine%20room', '/invite/some-code', '/register?invite=some-code']) {
    const res = await fetch(`${server.url}${route}`);
    assert.equal(res.status, 200, route);
    assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    const html = await res.text();
    for (const [, attrs] of html.matchAll(/<script([^>]*)>/g)) assert.match(attrs, /src="\/static\/[\w-]+\.js"/, 'no inline script');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
    for (const [, src] of html.matchAll(/(?:src|href)="\/static\/([\w.-]+)"/g)) {
      assert.equal((await fetch(`${server.url}/static/${src}`)).status, 200, src);
    }
  }
});

// The offline queue (ui/outbox.js), drafts and linkify/mentions (ui/format.js) under node: the queue
// survives a "reload" (a new Outbox over the same storage), keeps order per room, and links are safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ui } from './ui.mjs';

const { Outbox, isPermanent } = await import(ui('outbox.js'));
const { memoryStorage, Drafts } = await import(ui('storage.js'));
const { linkify, mentions, byteLength, initials } = await import(ui('format.js'));

test('queued messages survive a reload with their client ids, in order', () => {
  const storage = memoryStorage();
  const a = new Outbox(storage);
  const one = a.add('r', 'one');
  const two = a.add('r', 'two');
  a.markSending(one.clientId);
  const b = new Outbox(storage); // the page reloaded
  assert.deepEqual(b.entries.map((e) => [e.text, e.clientId, e.status]), [
    ['one', one.clientId, 'queued'], // in flight at the reload: sent again, the client_id makes it idempotent
    ['two', two.clientId, 'queued'],
  ]);
  assert.equal(b.next(() => true).text, 'one');
  b.remove(one.clientId);
  assert.equal(new Outbox(storage).entries.length, 1);
});

test('next() keeps each room in order: a failed or unjoined room blocks only itself', () => {
  const box = new Outbox(memoryStorage());
  const a1 = box.add('a', 'a1');
  box.add('a', 'a2');
  box.add('b', 'b1');
  assert.equal(box.next((room) => room === 'b').text, 'b1', 'room a not joined yet: b goes');
  box.fail(a1.clientId, 'text_too_long', 'too long');
  assert.equal(box.next(() => true).text, 'b1', 'a2 does not overtake the failed a1');
  box.requeue(a1.clientId);
  assert.equal(box.next(() => true).text, 'a1');
  assert.ok(isPermanent('text_too_long') && !isPermanent('rate_limited'));
});

test('corrupt storage gives an empty queue, not an exception', () => {
  const storage = memoryStorage();
  storage.setItem('confab.outbox', '{nope');
  assert.deepEqual(new Outbox(storage).entries, []);
  storage.setItem('confab.outbox', JSON.stringify([{ room: 1 }, { clientId: 'c', room: 'r', text: 't' }]));
  assert.equal(new Outbox(storage).entries.length, 1);
});

test('drafts are per room and survive a reload', () => {
  const storage = memoryStorage();
  const d = new Drafts(storage);
  d.set('a', 'half a thought');
  d.set('b', 'other');
  d.set('b', '');
  const again = new Drafts(storage);
  assert.equal(again.get('a'), 'half a thought');
  assert.equal(again.get('b'), '');
});

test('linkify finds http(s) and www links, leaves punctuation and other schemes as text', () => {
  assert.deepEqual(linkify('see https://example.com/a?b=1, ok'), [
    { text: 'see ' }, { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' }, { text: ', ok' },
  ]);
  assert.deepEqual(linkify('(www.example.org)'), [
    { text: '(' }, { text: 'www.example.org', href: 'https://www.example.org/' }, { text: ')' },
  ]);
  assert.deepEqual(linkify('https://en.wikipedia.org/wiki/Foo_(bar).'), [
    { text: 'https://en.wikipedia.org/wiki/Foo_(bar)', href: 'https://en.wikipedia.org/wiki/Foo_(bar)' }, { text: '.' },
  ]);
  for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', '<img src=x onerror=alert(1)>']) {
    assert.ok(linkify(text).every((s) => !s.href), text);
    assert.equal(linkify(text).map((s) => s.text).join(''), text, 'text is kept whole');
  }
  assert.deepEqual(linkify(''), []);
});

test('mentions: @name as a word, any case; not inside an address', () => {
  assert.ok(mentions('hi @Sam!', 'sam'));
  assert.ok(mentions('@sam', 'Sam'));
  assert.ok(mentions('ping @Sam Lee now', 'Sam Lee'));
  assert.ok(!mentions('hi @samuel', 'sam'));
  assert.ok(!mentions('mail sam@x.org', 'sam'));
  assert.ok(!mentions('anything', ''));
});

test('byte length and initials', () => {
  assert.equal(byteLength('é'), 2);
  assert.equal(initials('sam lee'), 'SL');
  assert.equal(initials('alice'), 'AL');
});

// Editing and deleting: only your own messages, seen live by the others, and kept after a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  serverAndBrowser,
  createRoom,
  newPerson,
  eventually,
  openRoom,
  messageWithText,
  messageContaining,
  sendMessage,
  rawConnect,
  rawRequest,
  rawClose,
  myUserId,
} from './helpers.mjs';

const ctx = serverAndBrowser();

test('edit and delete own messages; no edit on others\' (forbidden), no delete for a member', { timeout: 90000 }, async () => {
  const alice = await newPerson(ctx.browser, ctx.server, { name: 'alice' });
  const bob = await newPerson(ctx.browser, ctx.server, { name: 'bob' });

  const a = await createRoom(alice, 'edits');
  const b = await openRoom(bob, 'edits');

  await sendMessage(a, 'first draft');
  await sendMessage(b, 'a message by bob');
  const aliceMsgOnB = messageWithText(b, 'first draft');
  await aliceMsgOnB.waitFor();
  const bobMsgOnA = messageWithText(a, 'a message by bob');
  await bobMsgOnA.waitFor();
  const messageId = await messageWithText(a, 'first draft').getAttribute('data-message-id');
  assert.ok(messageId);
  const aliceMsg = a.locator(`[data-testid="message"][data-message-id="${messageId}"]`);
  assert.equal(await aliceMsg.getAttribute('data-author-id'), await myUserId(a));

  // Edit only on one's own messages. Alice created the room, so she owns it and moderates: Delete (and only
  // Delete) on Bob's message (moderation.test.mjs uses it); Bob, a member, has no control on hers.
  assert.equal(await bobMsgOnA.getByTestId('edit-button').count(), 0);
  assert.equal(await bobMsgOnA.getByTestId('delete-button').count(), 1);
  assert.equal(await aliceMsgOnB.getByTestId('edit-button').count(), 0);
  assert.equal(await aliceMsgOnB.getByTestId('delete-button').count(), 0);
  assert.equal(await aliceMsg.getByTestId('edit-button').count(), 1);

  // Esc cancels an edit: nothing changes anywhere.
  await aliceMsg.getByTestId('edit-button').click();
  await aliceMsg.getByTestId('edit-input').fill('not this');
  await aliceMsg.getByTestId('edit-input').press('Escape');
  await aliceMsg.getByTestId('edit-input').waitFor({ state: 'detached' });
  assert.equal(await aliceMsg.getByTestId('message-text').textContent(), 'first draft');
  assert.ok(await aliceMsg.getByTestId('edited-mark').isHidden());

  // Edit in place, Save: Bob sees the new text with the edited mark.
  await aliceMsg.getByTestId('edit-button').click();
  await aliceMsg.getByTestId('edit-input').fill('final text, edited');
  await aliceMsg.getByTestId('save-edit').click();
  const editedOnB = b.locator(`[data-testid="message"][data-message-id="${messageId}"]`);
  await eventually(async () => {
    assert.equal(await editedOnB.getByTestId('message-text').textContent(), 'final text, edited');
    assert.ok(await editedOnB.getByTestId('edited-mark').isVisible());
  });
  assert.equal(await messageWithText(b, 'first draft').count(), 0);
  await eventually(async () =>
    assert.equal(await aliceMsg.getByTestId('message-text').textContent(), 'final text, edited'),
  );

  // A second edit with Enter.
  await aliceMsg.getByTestId('edit-button').click();
  await aliceMsg.getByTestId('edit-input').fill('final text, edited twice');
  await aliceMsg.getByTestId('edit-input').press('Enter');
  await eventually(async () =>
    assert.equal(await editedOnB.getByTestId('message-text').textContent(), 'final text, edited twice'),
  );

  // Raw protocol: Alice (who created the room, so she owns it) still may not edit Bob's message, and Bob
  // (a plain member) may neither edit nor delete Alice's.
  const bobMessageId = Number(await bobMsgOnA.getAttribute('data-message-id'));
  const rawA = await alice.newPage('/healthz');
  await rawConnect(rawA);
  const joinedA = await rawRequest(rawA, 'join', { room: 'edits' });
  assert.equal(joinedA.type, 'ack', JSON.stringify(joinedA));
  const editOther = await rawRequest(rawA, 'edit', { room: 'edits', message_id: bobMessageId, text: 'hijacked' });
  assert.equal(editOther.type, 'error', JSON.stringify(editOther));
  assert.equal(editOther.code, 'forbidden');
  await rawClose(rawA);
  await rawA.close();

  const rawB = await bob.newPage('/healthz');
  await rawConnect(rawB);
  const joinedB = await rawRequest(rawB, 'join', { room: 'edits' });
  assert.equal(joinedB.type, 'ack', JSON.stringify(joinedB));
  assert.equal(joinedB.role, 'member');
  const bobEdits = await rawRequest(rawB, 'edit', { room: 'edits', message_id: Number(messageId), text: 'hijacked' });
  assert.equal(bobEdits.type, 'error', JSON.stringify(bobEdits));
  assert.equal(bobEdits.code, 'forbidden');
  const bobDeletes = await rawRequest(rawB, 'delete', { room: 'edits', message_id: Number(messageId) });
  assert.equal(bobDeletes.type, 'error', JSON.stringify(bobDeletes));
  assert.equal(bobDeletes.code, 'forbidden');
  await rawClose(rawB);
  await rawB.close();
  assert.equal(await messageWithText(b, 'a message by bob').count(), 1);
  assert.equal(await messageWithText(b, 'final text, edited twice').count(), 1);

  // Delete (with an inline confirmation): Bob sees it gone.
  await aliceMsg.getByTestId('delete-button').click();
  await aliceMsg.getByTestId('confirm-delete').click();
  await eventually(async () => {
    assert.equal(await editedOnB.getAttribute('data-deleted'), 'true');
    assert.equal(await editedOnB.getByTestId('message-text').textContent(), 'message deleted');
  });
  assert.equal(await messageContaining(b, 'final text').count(), 0);
  assert.equal(await editedOnB.getByTestId('edit-button').count(), 0);
  await eventually(async () => assert.equal(await aliceMsg.getAttribute('data-deleted'), 'true'));
  assert.equal(await a.locator(`[data-message-id="${messageId}"] [data-testid="edit-button"]`).count(), 0);

  // After a reload, history shows the current state: deleted stays deleted, Bob's message untouched.
  await b.reload();
  await b.getByTestId('composer').waitFor();
  await messageWithText(b, 'a message by bob').waitFor();
  assert.equal(await messageContaining(b, 'final text').count(), 0);
  assert.equal(await messageWithText(b, 'first draft').count(), 0);
  assert.equal(await messageWithText(b, 'hijacked').count(), 0);

  assert.deepEqual([...alice.pageErrors, ...bob.pageErrors], []);
});

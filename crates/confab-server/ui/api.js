// The HTTP API as the web client uses it (docs/api.md): sessions (`GET /api/me`, guests, register, sign in,
// sign out), the account (display name, password, two-factor, sessions, API tokens), room administration
// (members, roles, kick, ban, invites, webhooks) and direct conversations. Every failure is a ProtocolError
// with the server's error code (`bad_credentials`, `two_factor_required`, ...), plus `status` and, for
// `rate_limited`, `retryAfter` in seconds.

import { ProtocolError } from './protocol.js';

function errorFrom(body, res) {
  const e = body?.error && typeof body.error === 'object' ? body.error : body || {};
  const err = new ProtocolError(e.code || `http_${res.status}`, e.message || `HTTP ${res.status}`);
  err.status = res.status;
  const retry = Number(res.headers.get('retry-after'));
  if (Number.isFinite(retry) && retry > 0) err.retryAfter = retry;
  return err;
}

async function call(path, init) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  } catch {
    throw new ProtocolError('network', 'cannot reach the server');
  }
  const body = res.status === 204 ? null : await res.json().catch(() => null);
  return { res, body };
}

/** A JSON request; resolves with the body (null for 204), throws the server's error. */
async function send(method, path, data) {
  const init = { method };
  if (data !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(data);
  }
  const { res, body } = await call(path, init);
  if (!res.ok) throw errorFrom(body, res);
  return body;
}

const seg = encodeURIComponent;
const userOf = (body) => (body?.user && typeof body.user === 'object' ? body.user : null);

/* ---- the server and the session */

/** What this server allows: `{registration: open|invite|closed, guests: off|public|on, version}`. A server
 * without the endpoint is one from before accounts: guests only. */
export async function server() {
  const { res, body } = await call('/api/server');
  if (res.status === 404) return { registration: 'closed', guests: 'on', accounts: false };
  if (!res.ok) throw errorFrom(body, res);
  return { registration: 'open', guests: 'on', accounts: true, ...body };
}

/** The session's user, or null without one. */
export async function me() {
  const { res, body } = await call('/api/me');
  if (res.status === 401) return null;
  if (!res.ok) throw errorFrom(body, res);
  const user = userOf(body) || body;
  return user?.id ? user : null;
}

/** Starts a guest session named `name`; throws `invalid_name`, `guests_not_allowed` and the like. */
export async function guest(name) {
  const body = await send('POST', '/api/guest', { name });
  return userOf(body) || { id: null, name };
}

export async function register({ username, password, displayName, invite }) {
  const body = await send('POST', '/api/auth/register', {
    username, password, display_name: displayName || undefined, invite: invite || undefined,
  });
  return userOf(body);
}

/** Signs in; `code` is a 6-digit TOTP code or a recovery code when the account has two-factor on. */
export async function login({ username, password, code }) {
  const body = await send('POST', '/api/auth/login', { username, password, code: code || undefined });
  return userOf(body);
}

export const logout = (everywhere = false) => send('POST', '/api/auth/logout', { everywhere });

/* ---- the account */

export const updateAccount = (displayName) => send('PATCH', '/api/account', { display_name: displayName });
export const changePassword = (current, next) => send('POST', '/api/account/password', { current, new: next });
export const sessions = async () => (await send('GET', '/api/account/sessions'))?.sessions || [];
export const revokeSession = (id) => send('DELETE', `/api/account/sessions/${seg(id)}`);
export const tokens = async () => (await send('GET', '/api/account/tokens'))?.tokens || [];
/** `{token: {id, name, created_at, last_used_at}, secret}`: the secret is shown once. */
export const createToken = (name) => send('POST', '/api/account/tokens', { name });
export const revokeToken = (id) => send('DELETE', `/api/account/tokens/${seg(id)}`);
/** `{secret, otpauth_url}`. */
export const twoFactorSetup = () => send('POST', '/api/account/2fa/setup');
/** `{recovery_codes}`: shown once. */
export const twoFactorEnable = (code) => send('POST', '/api/account/2fa/enable', { code });
export const twoFactorDisable = (password) => send('POST', '/api/account/2fa/disable', { password });

/* ---- rooms */

export const createRoom = (name, isPrivate) => send('POST', '/api/rooms', { name, private: !!isPrivate });
export const members = async (room) => (await send('GET', `/api/rooms/${seg(room)}/members`))?.members || [];
/** `{code, url, expires_at, max_uses}`. */
export const createInvite = (room, fields = {}) => send('POST', `/api/rooms/${seg(room)}/invites`, fields);
export const acceptInvite = async (code) => (await send('POST', `/api/invites/${seg(code)}/accept`))?.room || null;
export const addMember = (room, username) => send('POST', `/api/rooms/${seg(room)}/members`, { username });
export const setRole = (room, actorId, role) => send('PUT', `/api/rooms/${seg(room)}/members/${seg(actorId)}`, { role });
export const transfer = (room, actorId) => send('POST', `/api/rooms/${seg(room)}/owner`, { actor_id: actorId });
export const kick = (room, actorId) => send('POST', `/api/rooms/${seg(room)}/kick`, { actor_id: actorId });
export const ban = (room, actorId) => send('POST', `/api/rooms/${seg(room)}/bans`, { actor_id: actorId });
export const unban = (room, actorId) => send('DELETE', `/api/rooms/${seg(room)}/bans/${seg(actorId)}`);
export const bans = async (room) => (await send('GET', `/api/rooms/${seg(room)}/bans`))?.bans || [];
export const webhooks = async (room) => (await send('GET', `/api/rooms/${seg(room)}/webhooks`))?.webhooks || [];
/** `{webhook: {id, name, created_at}, url}`: the URL carries the secret and is shown once. */
export const createWebhook = (room, name) => send('POST', `/api/rooms/${seg(room)}/webhooks`, { name });
export const revokeWebhook = (room, id) => send('DELETE', `/api/rooms/${seg(room)}/webhooks/${seg(id)}`);

/* ---- direct conversations */

/** The conversation with these people (usernames): the same set always gets the same room. */
export const openDirect = async (people) => (await send('POST', '/api/direct', { with: people }))?.room || null;
/** Every room the caller belongs to: `[{name, kind, role, top_seq, members?}]`. */
export const myRooms = async () => (await send('GET', '/api/my/rooms'))?.rooms || [];

// The HTTP side of sessions: who am I (`GET /api/me`) and a new guest session (`POST /api/guest`, which
// sets the HttpOnly `confab_session` cookie the WebSocket upgrade then carries).

import { ProtocolError } from './protocol.js';

function errorFrom(body, status) {
  const e = body?.error && typeof body.error === 'object' ? body.error : body || {};
  return new ProtocolError(e.code || `http_${status}`, e.message || `HTTP ${status}`);
}

async function call(path, init) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  } catch {
    throw new ProtocolError('network', 'cannot reach the server');
  }
  const body = await res.json().catch(() => null);
  return { res, body };
}

/** The session's user, or null without one. */
export async function me() {
  const { res, body } = await call('/api/me');
  if (res.status === 401) return null;
  if (!res.ok) throw errorFrom(body, res.status);
  const user = body?.user && typeof body.user === 'object' ? body.user : body;
  return user?.id ? user : null;
}

/** Starts a guest session named `name`; throws `invalid_name` and the like. */
export async function guest(name) {
  const { res, body } = await call('/api/guest', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (!res.ok) throw errorFrom(body, res.status);
  return body?.user && typeof body.user === 'object' ? body.user : { id: null, name };
}

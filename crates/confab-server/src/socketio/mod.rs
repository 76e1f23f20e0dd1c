//! Socket.IO v4 (Engine.IO v4) at `/socket.io/`, so that the original Flask-SocketIO app's clients, and
//! any Socket.IO client library, work against Confab unchanged (docs/socketio.md).
//!
//! - [`packet`]: parsing what clients send; [`encode`]: what they receive.
//! - [`engine`]: Engine.IO sessions across long-polling requests and the upgrade to WebSocket.
//! - [`socket`]: one task per session that speaks the seed's event vocabulary to the chat service.
//! - [`recovery`]: connection state recovery (`pid` and offsets), on this node or another.
//! - this file: the HTTP transport (GET polls, POST sends, CORS) and the WebSocket transport.
//!
//! Written here rather than with a Socket.IO crate so that both protocols share one delivery path:
//! the same bounded queue per connection, the same per-room sequencer (no reordering, and a slow
//! client is disconnected, never skipped), and room events encoded once per protocol.

pub mod encode;
pub mod engine;
pub use confab_engineio as packet;
mod recovery;
mod socket;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use confab_ws::handshake::NotUpgrade;
use confab_ws::upgrade::{Reader, Writer};
use confab_ws::{Message, WsUpgrade};

use crate::app::App;
use crate::conn::per_address::Slot;
use crate::conn::sequencer::Sequencer;
use crate::conn::{queue, writer, CloseReason, ConnShared, Outbound};
use crate::http::auth;
use crate::identity::{self, Identity};
use engine::EioSession;
use packet::EnginePacket;

/// Engine.IO's record separator between packets in one polling body.
const SEPARATOR: char = '\u{1e}';

struct Query {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
}

fn query(uri: &Uri) -> Query {
    let q = uri.query().unwrap_or("");
    Query {
        eio: auth::query_param(q, "EIO"),
        transport: auth::query_param(q, "transport"),
        sid: auth::query_param(q, "sid"),
    }
}

/// Engine.IO's error bodies: `{"code": n, "message": "..."}` with 400. The codes are Engine.IO's:
/// 0 transport unknown, 1 session id unknown, 2 bad handshake method, 3 bad request, 5 unsupported
/// protocol version.
fn engine_error(code: u8, message: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"code": code, "message": message}))).into_response()
}

/// Adds the CORS headers for an allowed cross-origin request.
fn with_cors(headers: &HeaderMap, mut response: Response) -> Response {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

fn text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
}

pub async fn preflight(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.origin_allowed(&headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
    with_cors(&headers, response)
}

/// Any method but GET, POST and OPTIONS: 400, as Engine.IO's servers answer (not axum's 405).
pub async fn bad_method() -> Response {
    engine_error(2, "Bad handshake method")
}

pub async fn get(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    ws: Result<WsUpgrade, NotUpgrade>,
) -> Response {
    let q = query(&uri);
    if q.eio.as_deref() != Some("4") {
        return engine_error(5, "Unsupported protocol version");
    }
    match (q.transport.as_deref(), q.sid, ws) {
        (Some("websocket"), sid, Ok(ws)) => {
            if let Err(refused) = app.admit_upgrade(&headers) {
                return refused;
            }
            let existing = match sid {
                Some(sid) => match app.engine.get(&sid) {
                    Some(s) if s.claim_websocket() => Some(s),
                    // A second WebSocket for a session that already has (or is probing) one.
                    Some(_) => return engine_error(3, "Session already upgraded"),
                    None => return engine_error(1, "Session ID unknown"),
                },
                None => None,
            };
            // A new session takes a place in its address's count; an upgrade keeps the polling one's.
            let slot = match existing {
                Some(_) => None,
                None => match app.address_slot(peer.ip()) {
                    Ok(slot) => Some(slot),
                    Err(refused) => return refused,
                },
            };
            let actor = cookie_actor(&app, &headers).await;
            let app2 = Arc::clone(&app);
            let max = app.engine.max_payload;
            let ip = peer.ip();
            ws.on_upgrade(max, move |reader, writer| websocket(app2, reader, writer, existing, actor, ip, slot))
        }
        (Some("websocket"), _, Err(_)) => engine_error(3, "Bad request"),
        (Some("polling"), None, _) => {
            if !app.origin_allowed(&headers) {
                return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
            }
            if app.shutdown.draining() {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
            }
            if app.connection_count() >= app.chat.limits.max_connections {
                return (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response();
            }
            let slot = match app.address_slot(peer.ip()) {
                Ok(slot) => slot,
                Err(refused) => return refused,
            };
            let actor = cookie_actor(&app, &headers).await;
            let session = open_session(&app, actor, peer.ip(), Some(slot));
            with_cors(&headers, text(app.engine.open_packet(&session.sid, true)))
        }
        (Some("polling"), Some(sid), _) => {
            if !app.origin_allowed(&headers) {
                return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
            }
            let Some(session) = app.engine.get(&sid) else { return engine_error(1, "Session ID unknown") };
            with_cors(&headers, poll(&app, &session).await)
        }
        _ => engine_error(0, "Transport unknown"),
    }
}

pub async fn post(State(app): State<Arc<App>>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    if !app.origin_allowed(&headers) {
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    let q = query(&uri);
    let Some(sid) = q.sid else { return engine_error(2, "Bad handshake method") };
    let Some(session) = app.engine.get(&sid) else { return engine_error(1, "Session ID unknown") };
    if body.len() > app.engine.max_payload {
        session.conn.kill(CloseReason::TooBig);
        return (StatusCode::PAYLOAD_TOO_LARGE, "payload too large").into_response();
    }
    // A body that is not UTF-8 or holds a packet Engine.IO does not know ends the session (the
    // protocol's "parse error"); the next request with this sid gets 400 "Session ID unknown".
    let Ok(body) = std::str::from_utf8(&body) else {
        session.conn.kill(CloseReason::BadUtf8);
        return engine_error(3, "Bad request");
    };
    for raw in body.split(SEPARATOR) {
        if receive(&app, &session, raw).await.is_err() {
            session.conn.kill(CloseReason::ProtocolError);
            return engine_error(3, "Bad request");
        }
    }
    with_cors(&headers, ([(header::CONTENT_TYPE, "text/html")], "ok").into_response())
}

/// The session cookie's identity; a cookie that no longer works (or a setup-only administrator's)
/// counts as none.
async fn cookie_actor(app: &App, headers: &HeaderMap) -> Option<Identity> {
    let token = auth::cookie(headers, auth::COOKIE)?;
    identity::resolve(app, &token).await.ok().filter(|me| !me.setup_only)
}

/// Starts an Engine.IO session and its socket task.
fn open_session(app: &Arc<App>, actor: Option<Identity>, peer: IpAddr, slot: Option<Slot>) -> Arc<EioSession> {
    let encoder = if app.engine.recovery.is_some() { &encode::SOCKETIO_RECOVERY } else { &encode::SOCKETIO };
    let (conn, rx) = ConnShared::new(encoder, app.chat.limits.outbound_queue);
    let (inbound_tx, inbound_rx) = queue::channel(256);
    let session = app.engine.create(conn, rx, inbound_tx, peer);
    let (app2, session2) = (Arc::clone(app), Arc::clone(&session));
    tokio::spawn(async move {
        let _slot = slot; // the address's place, held as long as the session
        socket::run(app2, session2, inbound_rx, actor).await
    });
    session
}

/// A packet that is not Engine.IO: the caller closes the session.
struct InvalidPacket;

/// One packet from the client, by either transport.
async fn receive(app: &App, session: &EioSession, raw: &str) -> Result<(), InvalidPacket> {
    app.engine.touch(session);
    // `b<base64>` is a binary packet on polling (an attachment of a binary event, which the socket
    // has already answered with an error); like a binary WebSocket frame it is dropped.
    if raw.starts_with('b') {
        return Ok(());
    }
    match packet::engine(raw).ok_or(InvalidPacket)? {
        EnginePacket::Message(m) => {
            let _ = session.inbound.send(m.to_string()).await;
        }
        EnginePacket::Close => session.close_by_client(),
        // Pongs and noops only prove the client is alive; upgrades are handled by the WebSocket.
        EnginePacket::Ping(_) | EnginePacket::Pong(_) | EnginePacket::Upgrade | EnginePacket::Noop => {}
    }
    Ok(())
}

/// A long-poll: waits for outbound packets (a ping comes every interval) and returns them together.
async fn poll(app: &App, session: &EioSession) -> Response {
    let Ok(mut out) = session.out.try_lock() else {
        session.conn.kill(CloseReason::Normal);
        return engine_error(3, "Overlapping polling requests");
    };
    let Some((rx, sequencer)) = out.as_mut() else { return engine_error(3, "Session upgraded to WebSocket") };
    let mut items = Vec::new();
    let mut frames: Vec<Utf8Bytes> = Vec::new();
    let wait = app.engine.ping_interval + app.engine.ping_timeout;
    while frames.is_empty() {
        if session.upgrading() {
            return text("6".into());
        }
        tokio::select! {
            biased;
            // The client's own close is answered with a noop: it knows (Engine.IO's test suite checks).
            reason = session.conn.killed() => {
                if reason == CloseReason::GoingAway {
                    return text(last_poll(app, session, rx, sequencer).await);
                }
                if session.closed_by_client() {
                    return text("6".into());
                }
                if matches!(reason, CloseReason::SessionRevoked | CloseReason::SessionExpired) {
                    // The goodbye queued just before the kill (an `error` event saying why, and a
                    // DISCONNECT) goes out with the close packet, as the WebSocket writer sends it.
                    while let Some(item) = rx.try_recv() {
                        if sequencer.push(item, &mut frames).is_err() {
                            break;
                        }
                    }
                }
                frames.push(Utf8Bytes::from_static("1"));
                break;
            }
            _ = session.released() => return text("6".into()),
            n = rx.recv_many(&mut items, 256) => {
                if n == 0 {
                    return text("1".into());
                }
                for item in items.drain(..) {
                    if let Err(reason) = sequencer.push(item, &mut frames) {
                        session.conn.kill(reason);
                        return text("1".into());
                    }
                }
            }
            _ = tokio::time::sleep(wait) => return text("6".into()),
        }
    }
    let mut body = String::with_capacity(frames.iter().map(|f| f.len() + 1).sum());
    for (i, f) in frames.iter().enumerate() {
        if i > 0 {
            body.push(SEPARATOR);
        }
        body.push_str(f.as_str());
    }
    text(body)
}

/// The poll pending when the server shuts down: once the socket has answered what was in flight
/// (or the shutdown's deadline passed), everything queued, then the close packet, so the client
/// reconnects (elsewhere).
async fn last_poll(app: &App, session: &EioSession, rx: &mut queue::Receiver<Outbound>, sequencer: &mut Sequencer) -> String {
    let _ = tokio::time::timeout_at(app.shutdown.answers_by(), session.conn.settled()).await;
    let mut frames: Vec<Utf8Bytes> = Vec::new();
    while let Some(item) = rx.try_recv() {
        if sequencer.push(item, &mut frames).is_err() {
            break;
        }
    }
    let mut body = String::new();
    for f in &frames {
        body.push_str(f.as_str());
        body.push(SEPARATOR);
    }
    body.push('1');
    body
}

/// The WebSocket transport: a new session, or the upgrade of a polling one.
async fn websocket(
    app: Arc<App>,
    mut stream: Reader,
    mut sink: Writer,
    existing: Option<Arc<EioSession>>,
    actor: Option<Identity>,
    peer: IpAddr,
    slot: Option<Slot>,
) {
    let session = match existing {
        Some(session) => {
            // The probe: `2probe` answered by `3probe`, then `5` once the client has paused polling.
            match stream.next().await {
                Some(Ok(Message::Text(t))) if t == "2probe" => {}
                _ => return session.unclaim_websocket(),
            }
            if sink.send_text("3probe").await.is_err() {
                return session.unclaim_websocket();
            }
            session.begin_upgrade();
            loop {
                match stream.next().await {
                    Some(Ok(Message::Text(t))) if t == "5" => break,
                    Some(Ok(Message::Text(t))) => {
                        if receive(&app, &session, &t).await.is_err() {
                            return session.conn.kill(CloseReason::ProtocolError);
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                }
            }
            session
        }
        None => {
            let session = open_session(&app, actor, peer, slot);
            let open = app.engine.open_packet(&session.sid, false);
            if sink.send_text(&open).await.is_err() {
                session.conn.kill(CloseReason::Normal);
                return;
            }
            session
        }
    };
    let Some((rx, sequencer)) = session.out.lock().await.take() else { return };
    let out = writer::Outgoing::new(sink, sequencer);
    let stopping = Arc::clone(&app);
    let writer = tokio::spawn(writer::run(out, rx, Arc::clone(&session.conn), move || stopping.shutdown.answers_by()));
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if receive(&app, &session, &t).await.is_err() {
                        session.conn.kill(CloseReason::ProtocolError);
                        break;
                    }
                }
                Some(Ok(Message::Ping(payload))) => {
                    app.engine.touch(&session);
                    session.conn.ping(payload);
                }
                Some(Ok(Message::Binary | Message::Pong)) => app.engine.touch(&session),
                Some(Err(e)) => {
                    session.conn.kill(CloseReason::from(&e));
                    break;
                }
                _ => break,
            },
            _ = session.conn.killed() => break,
        }
    }
    session.conn.kill(CloseReason::Normal);
    let _ = writer.await;
    if session.conn.kill_reason().is_some_and(CloseReason::server_initiated) {
        stream.drain_until_closed().await;
    }
}

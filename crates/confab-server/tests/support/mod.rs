//! Shared by the integration tests: a real `confab` process on an ephemeral port with its own data
//! directory, and a native-protocol WebSocket client that keeps events aside while it waits for an
//! answer.
//!
//! The store is SQLite in the data directory unless `CONFAB_TEST_STORE=postgres`: then each server
//! gets a PostgreSQL schema of its own (`confab_pg_srv_<random>`, dropped with the server) in
//! `CONFAB_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), kept across
//! restarts like the data directory. scripts/test runs the native protocol suite both ways.

#![allow(dead_code)]

pub mod accounts;
pub mod cluster;
pub mod raw_ws;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub struct Server {
    child: Child,
    pub addr: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    args: Vec<String>,
    /// The PostgreSQL schema of this server (and its restarts), when the tests run on PostgreSQL.
    _schema: Option<PgSchema>,
}

/// A PostgreSQL schema for one server, dropped when the server is.
struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    /// A new schema name when `CONFAB_TEST_STORE=postgres`; the server creates the schema.
    fn for_this_run() -> Option<PgSchema> {
        match std::env::var("CONFAB_TEST_STORE").as_deref() {
            Ok("postgres") => {}
            Ok("sqlite") | Err(_) => return None,
            Ok(other) => panic!("CONFAB_TEST_STORE={other:?}: use sqlite or postgres"),
        }
        let url = std::env::var("CONFAB_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let tail: String = (0..12).map(|_| char::from(b'a' + rand::random_range(0..26u8))).collect();
        Some(PgSchema { url, name: format!("confab_pg_srv_{tail}") })
    }

    fn args(&self) -> [String; 4] {
        ["--database-url".into(), self.url.clone(), "--database-schema".into(), self.name.clone()]
    }
}

impl Drop for PgSchema {
    /// On a thread of its own: a destructor cannot await, and this one may run inside a runtime.
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
                let task = tokio::spawn(conn);
                let sql = format!("SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {name} CASCADE");
                let done = client.batch_execute(&sql).await.map_err(|e| e.to_string());
                drop(client);
                let _ = task.await;
                done
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

impl Server {
    /// Starts a server with a fresh data directory and a short leave grace period.
    pub fn start(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let schema = PgSchema::for_this_run();
        let mut s = Server::launch(&dir, "127.0.0.1:0", extra, schema.as_ref());
        s._tmp = Some(tmp);
        s._schema = schema;
        s
    }

    /// Starts a server on SQLite in `dir`, whatever `CONFAB_TEST_STORE` says.
    pub fn start_in(dir: &Path, bind: &str, extra: &[&str]) -> Server {
        Server::launch(dir, bind, extra, None)
    }

    /// Starts a server on SQLite at the default log level (no `CONFAB_LOG`), its stderr piped to
    /// the caller instead of inherited (for tests that read the logs).
    pub fn start_logged(extra: &[&str]) -> (Server, std::process::ChildStderr) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Server::spawn(tmp.path(), "127.0.0.1:0", extra, None, true);
        s._tmp = Some(tmp);
        let stderr = s.child.stderr.take().expect("piped stderr");
        (s, stderr)
    }

    fn launch(dir: &Path, bind: &str, extra: &[&str], schema: Option<&PgSchema>) -> Server {
        Server::spawn(dir, bind, extra, schema, false)
    }

    fn spawn(dir: &Path, bind: &str, extra: &[&str], schema: Option<&PgSchema>, logged: bool) -> Server {
        let mut args: Vec<String> = Vec::new();
        if !extra.contains(&"--leave-grace-ms") {
            args.extend(["--leave-grace-ms".to_string(), "300".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_confab"));
        command.arg("--bind").arg(bind).arg("--data-dir").arg(dir);
        command.args(schema.map(PgSchema::args).into_iter().flatten()).args(&args).stdout(Stdio::piped());
        if logged {
            command.env_remove("CONFAB_LOG").stderr(Stdio::piped());
        } else {
            command.env("CONFAB_LOG", "warn").stderr(Stdio::inherit());
        }
        let mut child = command.spawn().expect("start confab");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_string();
        Server { child, addr, data_dir: dir.to_path_buf(), _tmp: None, args, _schema: None }
    }

    /// Kills the process with SIGKILL and starts it again on the same port and data directory.
    pub fn restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let extra: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut next = Server::launch(&self.data_dir, &self.addr, &extra, self._schema.as_ref());
        next._tmp = self._tmp.take();
        next._schema = self._schema.take();
        next
    }

    /// Like [`Server::restart`], with other arguments (the store stays the same).
    pub fn restart_with(mut self, extra: &[&str]) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut next = Server::launch(&self.data_dir, "127.0.0.1:0", extra, self._schema.as_ref());
        next._tmp = self._tmp.take();
        next._schema = self._schema.take();
        next
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// The arguments that name this server's store, for `confab admin` commands run beside it.
    pub fn store_args(&self) -> Vec<String> {
        match &self._schema {
            Some(schema) => schema.args().to_vec(),
            None => vec!["--data-dir".into(), self.data_dir.display().to_string()],
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (a graceful stop) and waits for the process to exit.
    pub fn terminate(&mut self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "could not signal the server");
        let _ = self.child.wait();
    }
}

impl Server {
    /// Sends SIGTERM without waiting (the test watches the shutdown from its clients).
    pub fn signal_term(&self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "could not signal the server");
    }

    /// Waits (at most `limit`) for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let until = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(std::time::Instant::now() < until, "the server did not exit within {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port and data (or schema) after it exited by itself.
    pub fn start_again(self) -> Server {
        self.restart()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A native protocol client.
pub struct Client {
    ws: Ws,
    next_id: u64,
    /// Frames that arrived while waiting for something else.
    pending: VecDeque<Value>,
    pub welcome: Value,
    pub user: Value,
}

impl Client {
    pub async fn connect_raw(server: &Server) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(server.url("/ws")).await.expect("connect");
        let mut c = Client { ws, next_id: 1, pending: VecDeque::new(), welcome: Value::Null, user: Value::Null };
        c.welcome = c.recv().await;
        assert_eq!(c.welcome["type"], "welcome");
        c
    }

    /// Connects from the local address `source` (another loopback address, such as 127.0.0.2, is
    /// another client address to the server) and becomes a new guest called `name`.
    pub async fn guest_from(server: &Server, source: &str, name: &str) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(format!("{source}:0").parse().expect("source address")).expect("bind the source address");
        let tcp = socket.connect(server.addr.parse().expect("server address")).await.expect("connect");
        let (ws, _) = tokio_tungstenite::client_async(server.url("/ws"), MaybeTlsStream::Plain(tcp)).await.expect("upgrade");
        let mut c = Client { ws, next_id: 1, pending: VecDeque::new(), welcome: Value::Null, user: Value::Null };
        c.welcome = c.recv().await;
        let ack = c.ok("hello", json!({"name": name})).await;
        c.user = ack["user"].clone();
        c.user["token"] = ack["token"].clone();
        c
    }

    /// Connects and becomes a new guest called `name`.
    pub async fn guest(server: &Server, name: &str) -> Client {
        let mut c = Client::connect_raw(server).await;
        let ack = c.ok("hello", json!({"name": name})).await;
        c.user = ack["user"].clone();
        c.user["token"] = ack["token"].clone();
        c
    }

    /// Connects with an existing session token.
    pub async fn with_token(server: &Server, token: &str) -> Client {
        let mut c = Client::connect_raw(server).await;
        let ack = c.ok("hello", json!({"token": token})).await;
        c.user = ack["user"].clone();
        c.user["token"] = Value::from(token);
        c
    }

    pub fn token(&self) -> String {
        self.user["token"].as_str().unwrap_or_default().to_string()
    }

    pub fn id(&self) -> String {
        self.user["id"].as_str().unwrap_or_default().to_string()
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends without failing the test when the server has already closed the connection.
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::Text(text.into())).await.is_ok()
    }

    pub async fn send_message(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("send");
    }

    /// The next frame from the server (after any kept aside).
    pub async fn recv(&mut self) -> Value {
        if let Some(v) = self.pending.pop_front() {
            return v;
        }
        self.recv_wire().await
    }

    async fn recv_wire(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("timed out waiting for a frame");
            match msg {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).expect("server sent JSON"),
                Some(Ok(Message::Close(frame))) => {
                    return json!({"type": "closed", "code": frame.as_ref().map(|f| u16::from(f.code)), "reason": frame.map(|f| f.reason.to_string())})
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return json!({"type": "closed", "error": e.to_string()}),
                None => return json!({"type": "closed"}),
            }
        }
    }

    /// A frame kept aside earlier, if any.
    pub fn try_pending(&mut self) -> Option<Value> {
        self.pending.pop_front()
    }

    /// Sends a request and returns its answer (ack or error); other frames are kept for later.
    pub async fn request(&mut self, kind: &str, mut fields: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        fields["type"] = Value::from(kind);
        fields["id"] = Value::from(id);
        self.send_text(&fields.to_string()).await;
        self.answer(id).await
    }

    pub async fn answer(&mut self, id: u64) -> Value {
        let mut kept = Vec::new();
        let found = loop {
            let v = self.recv_wire().await;
            if v["id"] == json!(id) && (v["type"] == "ack" || v["type"] == "error") {
                break v;
            }
            if v["type"] == "closed" {
                panic!("connection closed while waiting for answer {id}: {v}");
            }
            kept.push(v);
        };
        self.pending.extend(kept);
        found
    }

    /// A request that must succeed.
    pub async fn ok(&mut self, kind: &str, fields: Value) -> Value {
        let v = self.request(kind, fields).await;
        assert_eq!(v["type"], "ack", "{kind} failed: {v}");
        v
    }

    /// A request that must fail with `code`.
    pub async fn refused(&mut self, kind: &str, fields: Value, code: &str) -> Value {
        let v = self.request(kind, fields).await;
        assert_eq!(v["type"], "error", "{kind} should fail with {code}: {v}");
        assert_eq!(v["code"], code, "{kind}: {v}");
        v
    }

    /// The next room event (skipping lobby updates and `added_to_room` notices, which are not room
    /// events; `quiet` still counts them).
    pub async fn event(&mut self) -> Value {
        loop {
            let v = self.recv().await;
            match v["type"].as_str() {
                Some("event") => return v,
                Some("room_update" | "added_to_room") => continue,
                _ => panic!("expected an event, got {v}"),
            }
        }
    }

    /// The next room event of `kind`, skipping others (joins of other clients, for instance).
    pub async fn event_of(&mut self, kind: &str) -> Value {
        loop {
            let v = self.event().await;
            if v["kind"] == kind {
                return v;
            }
        }
    }

    /// Asserts that no frame arrives within `ms` (other than lobby updates).
    pub async fn quiet(&mut self, ms: u64) {
        if let Some(v) = self.pending.iter().find(|v| v["type"] != "room_update") {
            panic!("expected silence, had {v}");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    assert_eq!(v["type"], "room_update", "expected silence, got {v}");
                }
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    pub async fn join(&mut self, room: &str) -> Value {
        self.ok("join", json!({"room": room})).await
    }

    pub async fn say(&mut self, room: &str, text: &str) -> Value {
        self.ok("send", json!({"room": room, "text": text})).await
    }

    /// Closes the connection abruptly (no close handshake), as a lost network would.
    pub fn drop_connection(self) {
        drop(self.ws);
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Opens a raw WebSocket with extra request headers (for Origin checks).
pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = url.into_client_request()?;
    for (k, v) in headers {
        req.headers_mut().insert(
            axum_header_name(k),
            v.parse().expect("header value"),
        );
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

fn axum_header_name(name: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).expect("header name")
}

/// A room name unique to one test.
pub fn room(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

// --- raw HTTP, Engine.IO polling and raw Socket.IO WebSocket (conformance and hostile-input tests) ---

/// An HTTP answer as it came off the wire.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
}

/// One HTTP/1.1 request on its own connection, written byte for byte as given (so a test can send
/// paths and bodies no HTTP library would), and the whole answer.
pub async fn http(server: &Server, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    http_at(&server.addr, method, path, headers, body).await
}

/// [`http`] to an address, for tasks that do not hold the `Server`.
pub async fn http_at(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tcp.write_all(req.as_bytes()).await.expect("write request");
    // A server that refuses a body it will not read (past a body limit) may answer and close before
    // all of it is written: the answer is what counts, so a broken pipe here is not a failure.
    let written = tcp.write_all(body).await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(WAIT, tcp.read_to_end(&mut raw)).await.expect("timed out reading the answer");
    if raw.is_empty() {
        written.expect("write body");
        read.expect("read");
    }
    parse_http(&raw)
}

fn parse_http(raw: &[u8]) -> HttpResponse {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no header end: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        let (mut out, mut rest) = (Vec::new(), &body[..]);
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
            rest = &rest[eol + 4 + size..];
        }
        body = out;
    }
    HttpResponse { status, headers, body }
}

/// POST /api/guest with `body` as given; the answer.
pub async fn post_guest(server: &Server, body: &[u8]) -> HttpResponse {
    http(server, "POST", "/api/guest", &[("Content-Type", "application/json")], body).await
}

/// The path of an Engine.IO v4 polling request for session `sid`.
pub fn polling(sid: &str) -> String {
    format!("/socket.io/?EIO=4&transport=polling&sid={sid}")
}

/// Opens an Engine.IO polling session; its sid and the open packet's JSON.
pub async fn eio_open(server: &Server) -> (String, Value) {
    let r = http(server, "GET", "/socket.io/?EIO=4&transport=polling", &[], b"").await;
    assert_eq!(r.status, 200, "handshake: {r:?}");
    let text = r.text();
    let open: Value = serde_json::from_str(text.strip_prefix('0').expect("open packet")).expect("open JSON");
    (open["sid"].as_str().expect("sid").to_string(), open)
}

/// One long-poll: the packets it returned (split at the record separator), or the HTTP answer when
/// it is not 200.
pub async fn eio_poll(server: &Server, sid: &str) -> Result<Vec<String>, HttpResponse> {
    let r = http(server, "GET", &polling(sid), &[], b"").await;
    if r.status != 200 {
        return Err(r);
    }
    Ok(r.text().split('\u{1e}').map(str::to_string).collect())
}

pub async fn eio_post(server: &Server, sid: &str, body: &str) -> HttpResponse {
    http(server, "POST", &polling(sid), &[("Content-Type", "text/plain;charset=UTF-8")], body.as_bytes()).await
}

/// Polls until a packet that `want` accepts arrives (answering pings on the way); every packet seen.
pub async fn eio_poll_until(server: &Server, sid: &str, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        let packets = eio_poll(server, sid).await.unwrap_or_else(|r| panic!("poll failed: {} {}", r.status, r.text()));
        for p in packets {
            if p == "2" {
                eio_post(server, sid, "3").await;
            }
            let done = want(&p);
            seen.push(p);
            if done {
                return seen;
            }
        }
    }
    panic!("no matching packet; saw {seen:?}");
}

/// A Socket.IO client on the raw WebSocket transport: Engine.IO and Socket.IO packets as text.
pub struct SioWs {
    pub ws: Ws,
    pub sid: String,
}

impl SioWs {
    /// Opens `/socket.io/?EIO=4&transport=websocket` and reads the open packet (not yet CONNECTed).
    pub async fn open(server: &Server) -> SioWs {
        let (ws, _) = tokio_tungstenite::connect_async(server.url("/socket.io/?EIO=4&transport=websocket")).await.expect("connect");
        let mut c = SioWs { ws, sid: String::new() };
        let open = c.recv().await;
        let open: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).expect("open JSON");
        c.sid = open["sid"].as_str().expect("sid").to_string();
        c
    }

    /// Opens and CONNECTs to the default namespace, with a session token when given.
    pub async fn connect(server: &Server, token: Option<&str>) -> SioWs {
        let mut c = SioWs::open(server).await;
        let auth = token.map(|t| json!({"token": t}).to_string()).unwrap_or_default();
        c.send(&format!("40{auth}")).await;
        let ok = c.recv().await;
        assert!(ok.starts_with("40{"), "CONNECT refused: {ok}");
        c
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.expect("send");
    }

    /// The next text packet, answering Engine.IO pings on the way; `closed <code>` when the server
    /// closed the connection.
    pub async fn recv(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next()).await.expect("timed out waiting for a packet");
            match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::Text("3".into())).await;
                }
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(Message::Close(frame))) => return format!("closed {}", frame.map_or(1005, |f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return format!("closed error {e}"),
                None => return "closed".to_string(),
            }
        }
    }

    /// Every packet until the server closes the connection, the `closed <code>` one last.
    pub async fn until_closed(&mut self) -> Vec<String> {
        let mut packets = Vec::new();
        loop {
            let p = self.recv().await;
            let done = p.starts_with("closed");
            packets.push(p);
            if done {
                return packets;
            }
        }
    }

    /// Emits `[name, payload]` with acknowledgement id `ack` and returns the ack's first argument;
    /// events that arrive first are skipped.
    pub async fn call(&mut self, ack: u64, name: &str, payload: Value) -> Value {
        self.send(&format!("42{ack}{}", json!([name, payload]))).await;
        self.ack(ack).await
    }

    /// Waits for acknowledgement `ack` (`43<ack>[...]`) and returns its first argument.
    pub async fn ack(&mut self, ack: u64) -> Value {
        let prefix = format!("43{ack}");
        loop {
            let p = self.recv().await;
            assert!(!p.starts_with("closed"), "closed while waiting for ack {ack}: {p}");
            if let Some(rest) = p.strip_prefix(&prefix).filter(|r| r.starts_with('[')) {
                let args: Value = serde_json::from_str(rest).expect("ack JSON");
                return args[0].clone();
            }
        }
    }

    /// Waits for an event called `name` (`42[name, ...]`) and returns its payload.
    pub async fn event(&mut self, name: &str) -> Value {
        loop {
            let p = self.recv().await;
            assert!(!p.starts_with("closed"), "closed while waiting for {name}: {p}");
            if let Some(rest) = p.strip_prefix("42") {
                let v: Value = serde_json::from_str(rest).expect("event JSON");
                if v[0] == name {
                    return v[1].clone();
                }
            }
        }
    }
}

/// The next text message on a raw WebSocket; None once the server closed it.
pub async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Some(t.to_string()),
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// A WebSocket opened over raw TCP (no client library), for frames a library refuses to send, such
/// as a text frame that is not UTF-8. The server's first frames are not read.
pub async fn raw_websocket(server: &Server, path: &str) -> TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(&server.addr).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(tcp.read(&mut b).await.expect("read"), 1, "closed during the upgrade");
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
    tcp
}

/// Writes one masked frame (`opcode` with FIN set) carrying `payload`.
pub async fn raw_frame(tcp: &mut TcpStream, opcode: u8, payload: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let mask = [7u8, 1, 9, 3];
    let mut f = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    tcp.write_all(&f).await.expect("write frame");
}

/// Reads server frames until a close frame; its code (None if the connection ended without one).
pub async fn raw_close_code(tcp: &mut TcpStream) -> Option<u16> {
    use tokio::io::AsyncReadExt;
    loop {
        let mut h = [0u8; 2];
        tokio::time::timeout(WAIT, tcp.read_exact(&mut h)).await.expect("timed out").ok()?;
        let len = match h[1] & 0x7F {
            126 => tcp.read_u16().await.ok()? as usize,
            127 => tcp.read_u64().await.ok()? as usize,
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).await.ok()?;
        if h[0] & 0x0F == 0x8 {
            return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        }
    }
}

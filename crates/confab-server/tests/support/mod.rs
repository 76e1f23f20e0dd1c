//! Shared by the integration tests: a real `confab` process on an ephemeral port with its own data
//! directory, and a native-protocol WebSocket client that keeps events aside while it waits for an
//! answer.

#![allow(dead_code)]

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
}

impl Server {
    /// Starts a server with a fresh data directory and a short leave grace period.
    pub fn start(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Server::start_in(&dir, "127.0.0.1:0", extra);
        s._tmp = Some(tmp);
        s
    }

    pub fn start_in(dir: &Path, bind: &str, extra: &[&str]) -> Server {
        let mut args: Vec<String> = Vec::new();
        if !extra.contains(&"--leave-grace-ms") {
            args.extend(["--leave-grace-ms".to_string(), "300".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
            .arg("--bind")
            .arg(bind)
            .arg("--data-dir")
            .arg(dir)
            .args(&args)
            .env("CONFAB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start confab");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
        let addr = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected: {line:?}")).to_string();
        Server { child, addr, data_dir: dir.to_path_buf(), _tmp: None, args }
    }

    /// Kills the process with SIGKILL and starts it again on the same port and data directory.
    pub fn restart(mut self) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let extra: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut next = Server::start_in(&self.data_dir, &self.addr, &extra);
        next._tmp = self._tmp.take();
        next
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

    /// The next room event (skipping lobby updates).
    pub async fn event(&mut self) -> Value {
        loop {
            let v = self.recv().await;
            match v["type"].as_str() {
                Some("event") => return v,
                Some("room_update") => continue,
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

//! One benchmark connection: WebSocket over TCP, then either Confab's native protocol
//! (docs/protocol.md) or Socket.IO v4 over a raw WebSocket (Engine.IO v4) with the
//! seed's vocabulary (shared/seed-protocol.md).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// Confab's own protocol at /ws
    Native,
    /// Socket.IO v4 (Engine.IO v4 over WebSocket) at /socket.io/, seed vocabulary
    Sio,
}

/// How a connection ended, when the peer closed it.
#[derive(Debug, Clone)]
pub struct Closed {
    pub code: Option<u16>,
    pub reason: String,
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "closed by server: code {:?} reason {:?}",
            self.code, self.reason
        )
    }
}
impl std::error::Error for Closed {}

#[derive(Clone, Debug)]
pub struct ConnOpts {
    pub addr: SocketAddr,
    pub proto: Proto,
    pub read_buffer: usize,
    pub recv_buf: Option<u32>,
    pub setup_timeout: Duration,
}

pub struct Conn {
    pub ws: WebSocketStream<TcpStream>,
    pub proto: Proto,
    pub name: String,
    pub token: Option<String>,
    pub next_id: u64,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<serde_json::Value>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    user: Option<serde_json::Value>,
    #[serde(default)]
    top_seq: Option<u64>,
    #[serde(default)]
    replayed: Option<u64>,
    #[serde(default)]
    complete: Option<bool>,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct JoinInfo {
    pub top_seq: Option<u64>,
    pub replayed: Option<u64>,
    pub complete: Option<bool>,
}

pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

impl Conn {
    /// TCP connect, WebSocket upgrade, protocol handshake (Socket.IO `40`, native `hello`).
    /// `token`: resume a native guest session instead of creating one.
    pub async fn open(o: &ConnOpts, name: &str, token: Option<&str>) -> Result<Conn> {
        timeout(o.setup_timeout, Self::open_inner(o, name, token))
            .await
            .map_err(|_| anyhow!("connection setup timed out"))?
    }

    async fn open_inner(o: &ConnOpts, name: &str, token: Option<&str>) -> Result<Conn> {
        let sock = TcpSocket::new_v4()?;
        if let Some(rb) = o.recv_buf {
            sock.set_recv_buffer_size(rb)?;
        }
        let stream = sock.connect(o.addr).await.context("tcp connect")?;
        stream.set_nodelay(true)?;
        let url = match o.proto {
            Proto::Native => format!("ws://{}/ws", o.addr),
            Proto::Sio => format!("ws://{}/socket.io/?EIO=4&transport=websocket", o.addr),
        };
        let cfg = WebSocketConfig::default()
            .read_buffer_size(o.read_buffer)
            .write_buffer_size(0)
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(16 << 20));
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(cfg))
            .await
            .context("websocket upgrade")?;
        let mut c = Conn {
            ws,
            proto: o.proto,
            name: name.to_string(),
            token: None,
            next_id: 1,
        };
        match o.proto {
            Proto::Sio => {
                let open = c.recv().await?;
                if !open.starts_with('0') {
                    bail!("expected Engine.IO open packet, got {}", trunc(&open));
                }
                c.send_text("40".to_string()).await?;
                loop {
                    let f = c.recv().await?;
                    if f.starts_with("40") {
                        break;
                    }
                    if f.starts_with("44") {
                        bail!("Socket.IO connect refused: {}", trunc(&f));
                    }
                }
            }
            Proto::Native => {
                let welcome = c.recv().await?;
                let w: Answer = serde_json::from_str(&welcome).context("welcome")?;
                if w.ty != "welcome" {
                    bail!("expected welcome, got {}", trunc(&welcome));
                }
                let id = c.take_id();
                let hello = match token {
                    Some(t) => format!(r#"{{"type":"hello","id":{id},"token":{}}}"#, json_str(t)),
                    None => format!(r#"{{"type":"hello","id":{id},"name":{}}}"#, json_str(name)),
                };
                c.send_text(hello).await?;
                let a = c.wait_answer(id).await.context("hello")?;
                c.token = a.token.or_else(|| token.map(|t| t.to_string()));
                if let Some(u) = a
                    .user
                    .as_ref()
                    .and_then(|u| u.get("name"))
                    .and_then(|n| n.as_str())
                {
                    c.name = u.to_string();
                }
            }
        }
        Ok(c)
    }

    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub async fn send_text(&mut self, s: String) -> Result<()> {
        self.ws.send(Message::Text(s.into())).await?;
        Ok(())
    }

    /// Next text frame; answers Engine.IO pings; a close frame becomes a `Closed` error.
    pub async fn recv(&mut self) -> Result<Utf8Bytes> {
        loop {
            match self.ws.next().await {
                None => bail!(Closed {
                    code: None,
                    reason: "eof".into()
                }),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Message::Text(t))) => {
                    if self.proto == Proto::Sio && t.as_str() == "2" {
                        self.send_text("3".into()).await?;
                        continue;
                    }
                    return Ok(t);
                }
                Some(Ok(Message::Close(f))) => {
                    let (code, reason) = match f {
                        Some(f) => (Some(u16::from(f.code)), f.reason.to_string()),
                        None => (None, String::new()),
                    };
                    bail!(Closed { code, reason })
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    async fn wait_answer(&mut self, id: u64) -> Result<Answer> {
        loop {
            let f = self.recv().await?;
            if memchr::memmem::find(f.as_bytes(), b"\"ack\"").is_none()
                && memchr::memmem::find(f.as_bytes(), b"\"error\"").is_none()
            {
                continue;
            }
            let a: Answer = match serde_json::from_str(&f) {
                Ok(a) => a,
                Err(_) => continue,
            };
            let aid = a.id.as_ref().and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            });
            if a.ty == "error" && (aid == Some(id) || aid.is_none()) {
                bail!(
                    "server error {}: {}",
                    a.code.unwrap_or_default(),
                    a.message.map(|m| m.to_string()).unwrap_or_default()
                );
            }
            if a.ty == "ack" && aid == Some(id) {
                return Ok(a);
            }
        }
    }

    /// Native `history` page after `after` (oldest first): (events as (seq, is_bench_message), more).
    pub async fn history_after(
        &mut self,
        room: &str,
        after: u64,
        limit: u32,
    ) -> Result<(Vec<(u64, bool)>, bool)> {
        let id = self.take_id();
        self.send_text(format!(
            r#"{{"type":"history","id":{id},"room":{},"after":{after},"limit":{limit}}}"#,
            json_str(room)
        ))
        .await?;
        loop {
            let f = self.recv().await?;
            if memchr::memmem::find(f.as_bytes(), b"\"events\"").is_none()
                && memchr::memmem::find(f.as_bytes(), b"\"error\"").is_none()
            {
                continue;
            }
            let v: serde_json::Value = match serde_json::from_str(&f) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if v.get("id").and_then(|i| i.as_u64()) != Some(id) {
                continue;
            }
            if v.get("type").and_then(|t| t.as_str()) == Some("error") {
                bail!("history refused: {}", trunc(&f));
            }
            let evs = v
                .get("events")
                .and_then(|e| e.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            let seq = e.get("seq")?.as_u64()?;
                            let text = e
                                .pointer("/message/content/text")
                                .and_then(|t| t.as_str())
                                .unwrap_or("");
                            Some((seq, text.starts_with("~b")))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let more = v.get("more").and_then(|m| m.as_bool()).unwrap_or(false);
            return Ok((evs, more));
        }
    }

    /// Join a room and wait until the server confirmed it (native: the ack; Socket.IO: our own
    /// "has joined the room." notice, which the seed broadcasts to the room after joining).
    pub async fn join(&mut self, room: &str, since: Option<u64>) -> Result<JoinInfo> {
        match self.proto {
            Proto::Native => {
                let id = self.take_id();
                let since = since
                    .map(|s| format!(r#","since":{s}"#))
                    .unwrap_or_default();
                self.send_text(format!(
                    r#"{{"type":"join","id":{id},"room":{},"create":true{since}}}"#,
                    json_str(room)
                ))
                .await?;
                let a = self.wait_answer(id).await.context("join")?;
                Ok(JoinInfo {
                    top_seq: a.top_seq,
                    replayed: a.replayed,
                    complete: a.complete,
                })
            }
            Proto::Sio => {
                self.send_text(format!(r#"42["check_room",{}]"#, json_str(room)))
                    .await?;
                self.send_text(format!(
                    r#"42["join_room",{{"room":{},"user":{}}}]"#,
                    json_str(room),
                    json_str(&self.name)
                ))
                .await?;
                let needle = format!("{} has joined the room.", self.name);
                loop {
                    let f = self.recv().await?;
                    if f.starts_with("42[\"room_message\"")
                        && memchr::memmem::find(f.as_bytes(), needle.as_bytes()).is_some()
                    {
                        return Ok(JoinInfo::default());
                    }
                    if f.starts_with("42[\"error\"") {
                        bail!("join refused: {}", trunc(&f));
                    }
                }
            }
        }
    }

    /// A chat message in this protocol's vocabulary.
    pub fn message_frame(&mut self, room_json: &str, text: &str, client_id: &str) -> String {
        match self.proto {
            Proto::Native => {
                let id = self.take_id();
                format!(
                    r#"{{"type":"send","id":{id},"room":{room_json},"text":"{text}","client_id":"{client_id}"}}"#
                )
            }
            Proto::Sio => format!(
                r#"42["send_message",{{"room":{room_json},"user":{},"message":"{text}","message_id":"{client_id}"}}]"#,
                json_str(&self.name)
            ),
        }
    }

    pub async fn close(mut self) {
        let _ = timeout(Duration::from_millis(500), self.ws.close(None)).await;
    }
}

pub fn trunc(s: &str) -> String {
    if s.len() > 200 {
        let mut e = 200;
        while !s.is_char_boundary(e) {
            e -= 1;
        }
        format!("{}…", &s[..e])
    } else {
        s.to_string()
    }
}

/// Parse `"seq":N` out of a native event frame without a full JSON parse.
pub fn find_seq(f: &[u8]) -> Option<u64> {
    let p = memchr::memmem::find(f, b"\"seq\":")? + 6;
    let mut v: u64 = 0;
    let mut any = false;
    for &b in &f[p..] {
        if b.is_ascii_digit() {
            v = v * 10 + (b - b'0') as u64;
            any = true;
        } else if b == b' ' && !any {
            continue;
        } else {
            break;
        }
    }
    any.then_some(v)
}

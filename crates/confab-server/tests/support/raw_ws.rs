//! A WebSocket client on a plain TCP socket that sends exactly the bytes a test asks for (bad
//! frames included) and reads the server's frames as they are on the wire: what the conformance and
//! control-frame tests need, and what no WebSocket library lets a test do.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{Server, WAIT};

pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;
/// The FIN bit of a frame's first byte.
pub const FIN: u8 = 0x80;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A close frame's status code.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn json(&self) -> Value {
        assert_eq!(self.opcode, TEXT, "expected a text frame, got {self:?}");
        serde_json::from_slice(&self.payload).expect("server sent JSON")
    }
}

/// A client frame: `first` is the FIN/RSV/opcode byte; the payload is masked, its length in the
/// shortest form (RFC 6455 §5.2).
pub fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    frame_with_len(first, payload, payload.len() as u64)
}

/// A client frame whose header announces `len` bytes, whatever `payload` holds.
pub fn frame_with_len(first: u8, payload: &[u8], len: u64) -> Vec<u8> {
    let mask = [0x37, 0xFA, 0x21, 0x3D];
    let mut out = vec![first];
    match len {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// A close frame's payload: the code, then the reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    [&code.to_be_bytes()[..], reason].concat()
}

/// A native `ping` request with this id, padded with a string field to exactly `len` bytes.
pub fn ping_request(id: u64, len: usize) -> Vec<u8> {
    let bare = json!({"type": "ping", "id": id, "pad": ""}).to_string();
    assert!(len >= bare.len(), "{len} bytes cannot hold a ping request");
    json!({"type": "ping", "id": id, "pad": "x".repeat(len - bare.len())}).to_string().into_bytes()
}

pub struct RawWs {
    stream: OwnedReadHalf,
    /// `None` once a test took it to write from another task.
    writer: Option<OwnedWriteHalf>,
    /// Bytes read but not yet parsed into a frame.
    buf: Vec<u8>,
}

impl RawWs {
    /// Opens `path` with a valid upgrade request and checks the `101`.
    pub async fn connect(server: &Server, path: &str) -> RawWs {
        let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            server.addr
        );
        stream.write_all(request.as_bytes()).await.expect("send the upgrade");
        let (stream, writer) = stream.into_split();
        let mut ws = RawWs { stream, writer: Some(writer), buf: Vec::new() };
        let head = loop {
            if let Some(end) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&ws.buf[..end]).into_owned();
                ws.buf.drain(..end + 4);
                break head;
            }
            assert!(ws.fill().await > 0, "connection closed during the handshake");
        };
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
        ws
    }

    /// Opens `/ws`, reads the welcome, and says hello as a new guest.
    pub async fn native(server: &Server) -> RawWs {
        let mut ws = RawWs::connect(server, "/ws").await;
        assert_eq!(ws.next_text().await["type"], "welcome");
        ws.send(frame(FIN | TEXT, br#"{"type":"hello","id":0,"name":"raw"}"#)).await;
        assert_eq!(ws.next_text().await["type"], "ack");
        ws
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout(WAIT, self.stream.read(&mut chunk)).await.expect("timed out reading") {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                n
            }
            Err(_) => 0,
        }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        assert!(self.try_send(bytes).await, "send");
    }

    /// Sends without failing when the server has already closed the connection.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> bool {
        let writer = self.writer.as_mut().expect("the writing half was taken");
        writer.write_all(bytes.as_ref()).await.is_ok()
    }

    /// Gives back the writing half taken with [`RawWs::take_writer`].
    pub fn give_writer(&mut self, writer: OwnedWriteHalf) {
        self.writer = Some(writer);
    }

    /// The writing half, to send from another task while this one reads.
    pub fn take_writer(&mut self) -> OwnedWriteHalf {
        self.writer.take().expect("the writing half was taken")
    }

    /// Sends `bytes` in pieces of `chunk` bytes, pausing between them.
    pub async fn send_in_chunks(&mut self, bytes: &[u8], chunk: usize) {
        for piece in bytes.chunks(chunk) {
            self.send(piece).await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The next frame from the server; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if self.fill().await == 0 {
                assert!(self.buf.is_empty(), "connection ended inside a frame");
                return None;
            }
        }
    }

    /// The next text frame as JSON (pongs, and the server's heartbeat pings, are skipped).
    pub async fn next_text(&mut self) -> Value {
        loop {
            let f = self.next().await.expect("connection ended while waiting for a text frame");
            if f.opcode != PONG && f.opcode != PING {
                return f.json();
            }
        }
    }

    /// The answer (ack or error) with `id`: fails on anything else but pongs.
    pub async fn answer(&mut self, id: u64) -> Value {
        let v = self.next_text().await;
        assert_eq!(v["id"], id, "expected the answer to request {id}, got {v}");
        v
    }

    /// The server's close frame (after any frames the test does not care about but pongs and text),
    /// and then the end of the connection: the server closes TCP after the closing handshake.
    pub async fn expect_close(&mut self, code: u16) {
        let f = self.next().await.expect("connection ended without a close frame");
        assert_eq!((f.opcode, f.close_code()), (CLOSE, Some(code)), "expected close {code}, got {f:?} {:?}", String::from_utf8_lossy(&f.payload));
        self.expect_end().await;
    }

    /// After a close frame: nothing more, and the connection ends.
    pub async fn expect_end(&mut self) {
        if self.writer.is_some() {
            let _ = self.try_send(frame(FIN | CLOSE, &close_payload(1000, b""))).await;
        }
        assert_eq!(self.next().await, None, "a frame after the close frame");
    }
}

/// One whole server frame at the start of `b`, and its length on the wire.
fn parse(b: &[u8]) -> Option<(Frame, usize)> {
    if b.len() < 2 {
        return None;
    }
    assert_eq!(b[1] & 0x80, 0, "server frames are never masked");
    assert_eq!(b[0] & 0x70, 0, "the server set reserved bits");
    let (len, at) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
        127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().ok()?) as usize, 10),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if b.len() < at + len {
        return None;
    }
    Some((Frame { fin: b[0] & 0x80 != 0, opcode: b[0] & 0x0F, payload: b[at..at + len].to_vec() }, at + len))
}

//! The bodies of the fuzz targets `ws_frame_reader` and `ws_handshake` (`fuzz/`), here so that the
//! inputs the fuzzer found are replayed by a plain `cargo test` (`tests/fuzz_regressions.rs`)
//! without cargo-fuzz or a nightly compiler. Each panics when a property fails, not only on a crash.

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, ReadBuf};

use crate::handshake::{self, NotUpgrade};
use crate::{Message, WsError, WsReader};

/// Bytes from a "socket" in pieces of `chunk`, with a `Pending` before every piece, as a slow
/// network delivers them.
struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
    ready: bool,
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        if !self.ready && !self.data.is_empty() {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let n = self.chunk.min(self.data.len()).min(buf.remaining());
        let (now, later) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

/// Every message the reader makes of `wire`, read `chunk` bytes at a time.
fn read_all(wire: &[u8], max: usize, chunk: usize) -> Vec<Result<Message, WsError>> {
    let mut reader = WsReader::new(Trickle { data: wire, chunk, ready: false }, max);
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    loop {
        let mut next = pin!(reader.next());
        let item = loop {
            if let Poll::Ready(item) = next.as_mut().poll(&mut cx) {
                break item;
            }
        };
        match item {
            Some(m) => out.push(m),
            None => return out,
        }
    }
}

/// The first byte picks the message limit and the read size; the rest is what the client sent.
/// The reader must make the same messages of it however the bytes are split, nothing after an
/// error or a close frame, and no text above the limit.
pub fn frame_reader(data: &[u8]) {
    let Some((&shape, wire)) = data.split_first() else { return };
    let max = [16, 125, 1000, 65536][(shape & 3) as usize];
    let chunk = 1 + (shape >> 2) as usize;
    let whole = read_all(wire, max, usize::MAX);
    let split = read_all(wire, max, chunk);
    assert_eq!(whole, split, "messages depend on how the bytes were split ({chunk}-byte reads)");
    for (i, m) in whole.iter().enumerate() {
        if matches!(m, Err(_) | Ok(Message::Close(_))) {
            assert_eq!(i, whole.len() - 1, "a message after an error or a close frame");
        }
        if let Ok(Message::Text(t)) = m {
            assert!(t.len() <= max, "a {}-byte text above the {max}-byte limit", t.len());
        }
        if let Ok(Message::Close(Some(code))) = m {
            assert!(crate::close::valid_from_peer(*code), "close code {code} let through");
        }
    }
}

/// An HTTP request head as a client sends it, parsed as hyper does (httparse), then checked as an
/// upgrade: an accepted key is always one that makes a valid `Sec-WebSocket-Accept` header.
pub fn handshake(data: &[u8]) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let Ok(httparse::Status::Complete(_)) = req.parse(data) else { return };
    let Some(Ok(method)) = req.method.map(|m| http::Method::from_bytes(m.as_bytes())) else { return };
    let mut map = http::HeaderMap::new();
    for h in req.headers.iter() {
        if let (Ok(name), Ok(value)) = (http::HeaderName::from_bytes(h.name.as_bytes()), http::HeaderValue::from_bytes(h.value)) {
            map.append(name, value);
        }
    }
    match handshake::check(&method, &map) {
        Ok(key) => {
            assert_eq!(key.len(), 24);
            let accept = handshake::accept_key(key.as_bytes());
            assert_eq!(accept.len(), 28);
            assert!(http::HeaderValue::from_str(&accept).is_ok());
        }
        Err(NotUpgrade(status, _)) => assert!(status == 400 || status == 426, "{status}"),
    }
}

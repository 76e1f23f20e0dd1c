//! Reading client frames (RFC 6455 §5).
//!
//! Each read takes up to `CHUNK` (4 KiB) bytes into a buffer on the stack (inside one poll, so it is never
//! part of the connection's future); whole frames are parsed out of it and only an incomplete tail is
//! kept on the heap, until the frame completes. An idle connection therefore holds no read buffer.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, ReadBuf};

use crate::{close, Message, WsError};

/// Bytes taken from the socket per read.
const CHUNK: usize = 4096;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

pub struct WsReader<R> {
    io: R,
    /// Bytes read but not yet parsed: the start of a frame. Empty (unallocated) between frames.
    pending: Vec<u8>,
    /// A fragmented message being assembled.
    partial: Option<Partial>,
    max_message: usize,
    /// The peer's close frame was read, or the stream ended.
    done: bool,
}

/// A message whose first fragments were read.
struct Partial {
    text: bool,
    data: Vec<u8>,
    /// How much of `data` is known to be UTF-8 (text only): checked as fragments arrive, so a
    /// message that cannot become valid fails at its first bad byte, not after its last fragment.
    checked: usize,
}

impl Partial {
    fn new(text: bool, data: &[u8]) -> Result<Self, WsError> {
        let mut p = Partial { text, data: Vec::new(), checked: 0 };
        p.extend(data)?;
        Ok(p)
    }

    fn extend(&mut self, more: &[u8]) -> Result<(), WsError> {
        self.data.extend_from_slice(more);
        if self.text {
            match std::str::from_utf8(&self.data[self.checked..]) {
                Ok(_) => self.checked = self.data.len(),
                // A sequence cut at the end of this fragment may still complete in the next.
                Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
                Err(_) => return Err(WsError::BadUtf8),
            }
        }
        Ok(())
    }
}

/// A parsed frame header.
struct Header {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header length in bytes.
    len: usize,
    payload: usize,
}

impl<R: AsyncRead + Unpin> WsReader<R> {
    pub fn new(io: R, max_message: usize) -> Self {
        Self::with_buffered(io, max_message, Vec::new())
    }

    /// A reader that first parses `buffered`: bytes already read from the connection.
    pub fn with_buffered(io: R, max_message: usize, buffered: Vec<u8>) -> Self {
        WsReader { io, pending: buffered, partial: None, max_message, done: false }
    }

    /// The next message; `None` once the connection ended (after a close frame or EOF).
    pub async fn next(&mut self) -> Option<Result<Message, WsError>> {
        loop {
            match self.parse() {
                Ok(Some(message)) => return Some(Ok(message)),
                Ok(None) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            if self.done {
                return None;
            }
            match poll_fn(|cx| self.poll_fill(cx)).await {
                Ok(0) => {
                    self.done = true;
                    if !self.pending.is_empty() || self.partial.is_some() {
                        return Some(Err(WsError::Io("connection ended inside a frame".into())));
                    }
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(WsError::Io(e.to_string())));
                }
            }
        }
    }

    /// After sending our close frame: reads (and drops) what the client still sends until its close
    /// frame or the end, for at most two seconds. Closing a socket with unread bytes makes the kernel
    /// reset the connection, and the client may then lose our close frame (and the frames before it)
    /// to the reset.
    pub async fn drain_until_closed(&mut self) {
        let drain = async {
            while let Some(Ok(message)) = self.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        // Uninitialised: this runs on every poll of the connection's task, and zeroing 4 KiB each
        // time showed in the profile.
        let mut chunk = [std::mem::MaybeUninit::<u8>::uninit(); CHUNK];
        let mut buf = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        let n = buf.filled().len();
        self.pending.extend_from_slice(buf.filled());
        Poll::Ready(Ok(n))
    }

    /// Takes one message out of `pending` if a whole one is there. Control frames are messages of
    /// their own, even between the fragments of another.
    fn parse(&mut self) -> Result<Option<Message>, WsError> {
        while !self.done {
            let Some(h) = self.header()? else { return Ok(None) };
            if self.pending.len() < h.len + h.payload {
                return Ok(None);
            }
            let end = h.len + h.payload;
            let payload = &mut self.pending[h.len..end];
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= h.mask[i & 3];
            }
            let message = match h.opcode {
                OP_PING => Some(Message::Ping(Bytes::copy_from_slice(payload))),
                OP_PONG => Some(Message::Pong),
                OP_CLOSE => {
                    self.done = true;
                    Some(Message::Close(close_code(payload)?))
                }
                OP_TEXT | OP_BINARY if h.fin => Some(finish(h.opcode == OP_TEXT, payload.to_vec())?),
                OP_TEXT | OP_BINARY => {
                    self.partial = Some(Partial::new(h.opcode == OP_TEXT, payload)?);
                    None
                }
                _ => {
                    // OP_CONTINUATION: `header` checked that a message is open.
                    let mut partial = self.partial.take().ok_or(WsError::Protocol("continuation without a message"))?;
                    partial.extend(payload)?;
                    if h.fin {
                        Some(finish(partial.text, partial.data)?)
                    } else {
                        self.partial = Some(partial);
                        None
                    }
                }
            };
            self.consume(end);
            if message.is_some() {
                return Ok(message);
            }
        }
        Ok(None)
    }

    /// Drops `n` parsed bytes; frees the buffer when nothing is left, so idle connections keep none.
    fn consume(&mut self, n: usize) {
        if n >= self.pending.len() {
            self.pending = Vec::new();
        } else {
            self.pending.drain(..n);
        }
    }

    /// Parses and checks the header at the start of `pending`; `None` until all of it is there.
    fn header(&self) -> Result<Option<Header>, WsError> {
        let b = &self.pending;
        if b.len() < 2 {
            return Ok(None);
        }
        let fin = b[0] & 0x80 != 0;
        if b[0] & 0x70 != 0 {
            return Err(WsError::Protocol("reserved bits set (no extension was negotiated)"));
        }
        let opcode = b[0] & 0x0F;
        if b[1] & 0x80 == 0 {
            return Err(WsError::Protocol("client frames must be masked"));
        }
        let (payload, at) = match b[1] & 0x7F {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as u64, 4),
            127 if b.len() >= 10 => (u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")), 10),
            126 | 127 => return Ok(None),
            n => (n as u64, 2),
        };
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG if !fin || payload > 125 => {
                return Err(WsError::Protocol("control frames must be whole and at most 125 bytes"))
            }
            OP_CLOSE | OP_PING | OP_PONG => {}
            OP_TEXT | OP_BINARY if self.partial.is_some() => {
                return Err(WsError::Protocol("a new message began before the last one ended"))
            }
            OP_TEXT | OP_BINARY => {}
            OP_CONTINUATION if self.partial.is_none() => return Err(WsError::Protocol("continuation without a message")),
            OP_CONTINUATION => {}
            _ => return Err(WsError::Protocol("unknown opcode")),
        }
        if payload >> 63 != 0 {
            return Err(WsError::Protocol("a 64-bit length with its most significant bit set"));
        }
        // Refuse an oversized message as soon as its header says so, before buffering it. (Added
        // with overflow in mind: the fuzzer found a continuation whose length wrapped the sum.)
        let so_far = self.partial.as_ref().map_or(0, |p| p.data.len()) as u64;
        if opcode < OP_CLOSE && so_far.saturating_add(payload) > self.max_message as u64 {
            return Err(WsError::TooBig(self.max_message));
        }
        if b.len() < at + 4 {
            return Ok(None);
        }
        let mask = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        Ok(Some(Header { fin, opcode, mask, len: at + 4, payload: payload as usize }))
    }
}

/// The status code of a close frame's payload: none, or two bytes of a code a peer may send and
/// then a UTF-8 reason (RFC 6455 §5.5.1, §7.4).
fn close_code(payload: &[u8]) -> Result<Option<u16>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::Protocol("a close frame's payload is empty or a 2-byte code and a reason")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close::valid_from_peer(code) {
                return Err(WsError::Protocol("close code not allowed on the wire"));
            }
            std::str::from_utf8(reason).map_err(|_| WsError::BadUtf8)?;
            Ok(Some(code))
        }
    }
}

fn finish(text: bool, data: Vec<u8>) -> Result<Message, WsError> {
    if text {
        String::from_utf8(data).map(Message::Text).map_err(|_| WsError::BadUtf8)
    } else {
        Ok(Message::Binary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame: `first` is the FIN/opcode byte.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = vec![first];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        out
    }

    async fn read_all(bytes: Vec<u8>, max: usize) -> Vec<Result<Message, WsError>> {
        let mut reader = WsReader::new(&bytes[..], max);
        let mut out = Vec::new();
        while let Some(m) = reader.next().await {
            out.push(m);
        }
        out
    }

    #[tokio::test]
    async fn whole_fragmented_and_control_frames() {
        let long = "x".repeat(70_000);
        let mut wire = frame(0x81, b"hello");
        wire.extend(frame(0x01, "héllo, ".as_bytes()));
        wire.extend(frame(0x89, b"are you there")); // a ping between fragments
        wire.extend(frame(0x80, b"world"));
        wire.extend(frame(0x81, long.as_bytes())); // 64-bit length
        wire.extend(frame(0x82, &[0, 1, 2]));
        wire.extend(frame(0x88, &1000u16.to_be_bytes()));
        wire.extend(frame(0x81, b"after close: never read"));
        let got = read_all(wire, 100_000).await;
        assert_eq!(
            got,
            vec![
                Ok(Message::Text("hello".into())),
                Ok(Message::Ping(Bytes::from_static(b"are you there"))),
                Ok(Message::Text("héllo, world".into())),
                Ok(Message::Text(long)),
                Ok(Message::Binary),
                Ok(Message::Close(Some(1000))),
            ]
        );
    }

    #[tokio::test]
    async fn frames_split_across_reads_are_reassembled() {
        let (mut client, server) = tokio::io::duplex(64);
        let wire = [frame(0x81, b"first"), frame(0x81, &[b'y'; 300])].concat();
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for byte in wire {
                client.write_all(&[byte]).await.unwrap();
            }
        });
        let mut reader = WsReader::new(server, 1000);
        assert_eq!(reader.next().await, Some(Ok(Message::Text("first".into()))));
        assert_eq!(reader.next().await, Some(Ok(Message::Text("y".repeat(300)))));
        writer.await.unwrap();
        assert_eq!(reader.next().await, None);
        assert!(reader.pending.capacity() == 0, "no buffer kept between frames");
    }

    #[tokio::test]
    async fn bad_frames_are_refused_with_their_reason() {
        let unmasked = vec![0x81, 0x02, b'h', b'i'];
        let cases: Vec<(Vec<u8>, WsError)> = vec![
            (unmasked, WsError::Protocol("client frames must be masked")),
            (frame(0xC1, b"x"), WsError::Protocol("reserved bits set (no extension was negotiated)")),
            (frame(0x83, b"x"), WsError::Protocol("unknown opcode")),
            (frame(0x80, b"x"), WsError::Protocol("continuation without a message")),
            (frame(0x09, b"x"), WsError::Protocol("control frames must be whole and at most 125 bytes")),
            (frame(0x89, &[0; 126]), WsError::Protocol("control frames must be whole and at most 125 bytes")),
            ([frame(0x01, b"a"), frame(0x81, b"b")].concat(), WsError::Protocol("a new message began before the last one ended")),
            (frame(0x81, &[0xFF, 0xFE]), WsError::BadUtf8),
            (frame(0x81, &[b'a'; 11]), WsError::TooBig(10)),
            ([frame(0x01, &[b'a'; 6]), frame(0x80, &[b'a'; 6])].concat(), WsError::TooBig(10)),
            (frame(0x88, &[3]), WsError::Protocol("a close frame's payload is empty or a 2-byte code and a reason")),
            (frame(0x88, &1005u16.to_be_bytes()), WsError::Protocol("close code not allowed on the wire")),
            (frame(0x88, &[0x03, 0xE8, 0xFF]), WsError::BadUtf8),
            // Fails at the fragment that cannot become UTF-8; the message never ends.
            (frame(0x01, &[b'a', 0xC0, 0x80]), WsError::BadUtf8),
        ];
        for (wire, want) in cases {
            let got = read_all(wire, 10).await;
            assert_eq!(got, vec![Err(want)]);
        }
    }

    #[tokio::test]
    async fn an_oversized_header_is_refused_before_its_payload_arrives() {
        // Only the header of a 1 GB frame: refused at once, not after buffering.
        let mut wire = vec![0x81, 0x80 | 127];
        wire.extend_from_slice(&(1u64 << 30).to_be_bytes());
        wire.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(read_all(wire, 1 << 20).await, vec![Err(WsError::TooBig(1 << 20))]);
    }

    #[tokio::test]
    async fn lengths_that_overflow_are_refused() {
        // A continuation announcing 2^63 - 1 bytes after 6: the sum must not wrap past the limit.
        let mut wire = frame(0x01, b"abcdef");
        wire.extend([0x80, 0x80 | 127]);
        wire.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
        wire.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(read_all(wire, 100).await, vec![Err(WsError::TooBig(100))]);
        let mut wire = vec![0x81, 0x80 | 127];
        wire.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(read_all(wire, 100).await, vec![Err(WsError::Protocol("a 64-bit length with its most significant bit set"))]);
    }

    #[tokio::test]
    async fn a_utf8_sequence_cut_between_fragments_is_whole_again() {
        let euro = "€".as_bytes();
        let wire = [frame(0x01, &euro[..1]), frame(0x00, &euro[1..2]), frame(0x80, &euro[2..])].concat();
        assert_eq!(read_all(wire, 100).await, vec![Ok(Message::Text("€".into()))]);
    }

    #[tokio::test]
    async fn ending_inside_a_frame_is_an_error() {
        let mut wire = frame(0x81, b"hello");
        wire.truncate(5);
        let got = read_all(wire, 100).await;
        assert!(matches!(got.as_slice(), [Err(WsError::Io(_))]), "{got:?}");
    }
}

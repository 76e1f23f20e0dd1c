//! Writing server frames (RFC 6455 §5): unmasked, unfragmented.
//!
//! A batch of frames goes out in vectored writes: per frame, its header (built here, 2-10 bytes)
//! and its payload (borrowed from the caller: for room events, the bytes every member shares).

use std::future::poll_fn;
use std::io::IoSlice;
use std::pin::Pin;

use tokio::io::{AsyncWrite, AsyncWriteExt};

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;
/// Frames per vectored write: two slices each, under the kernel's 1,024-slice limit.
const FRAMES_PER_WRITE: usize = 500;

/// Anything that is the text of a frame.
pub trait Text {
    fn text(&self) -> &str;
}

impl Text for &str {
    fn text(&self) -> &str {
        self
    }
}

impl Text for String {
    fn text(&self) -> &str {
        self
    }
}

pub struct WsWriter<W> {
    io: W,
}

/// A frame header: FIN, the opcode, and the payload length (no mask: server frames are unmasked).
#[derive(Clone, Copy)]
struct Header {
    bytes: [u8; 10],
    len: u8,
}

impl Header {
    fn new(opcode: u8, payload: usize) -> Self {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | opcode;
        let len = if payload < 126 {
            bytes[1] = payload as u8;
            2
        } else if payload <= 0xFFFF {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&(payload as u16).to_be_bytes());
            4
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(payload as u64).to_be_bytes());
            10
        };
        Header { bytes, len }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl<W: AsyncWrite + Unpin> WsWriter<W> {
    pub fn new(io: W) -> Self {
        WsWriter { io }
    }

    /// Sends text frames, as few writes as the kernel allows.
    pub async fn send_texts<T: Text>(&mut self, texts: &[T]) -> std::io::Result<()> {
        for chunk in texts.chunks(FRAMES_PER_WRITE) {
            let headers: Vec<Header> = chunk.iter().map(|t| Header::new(OP_TEXT, t.text().len())).collect();
            let mut slices = Vec::with_capacity(chunk.len() * 2);
            for (h, t) in headers.iter().zip(chunk) {
                slices.push(IoSlice::new(h.as_slice()));
                slices.push(IoSlice::new(t.text().as_bytes()));
            }
            self.write_all_vectored(&mut slices).await?;
        }
        Ok(())
    }

    pub async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_texts(&[text]).await
    }

    /// Answers a ping.
    pub async fn pong(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let h = Header::new(OP_PONG, payload.len());
        self.write_all_vectored(&mut [IoSlice::new(h.as_slice()), IoSlice::new(payload)]).await
    }

    /// Sends a ping (a heartbeat: the peer owes a pong); `payload` is at most 125 bytes.
    pub async fn ping(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let payload = &payload[..payload.len().min(125)];
        let h = Header::new(OP_PING, payload.len());
        self.write_all_vectored(&mut [IoSlice::new(h.as_slice()), IoSlice::new(payload)]).await
    }

    /// Sends a close frame with `code` and `reason` (cut to fit a control frame), then shuts the
    /// sending side down.
    pub async fn close(&mut self, code: u16, reason: &str) -> std::io::Result<()> {
        let mut payload = code.to_be_bytes().to_vec();
        let mut cut = reason.len().min(123);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..cut]);
        let h = Header::new(OP_CLOSE, payload.len());
        self.write_all_vectored(&mut [IoSlice::new(h.as_slice()), IoSlice::new(&payload)]).await?;
        self.io.shutdown().await
    }

    async fn write_all_vectored(&mut self, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
        while !slices.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut self.io).poll_write_vectored(cx, slices)).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        self.io.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn frames_have_rfc_headers_for_every_length_class() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut w = WsWriter::new(client);
        let texts = ["hi".to_string(), "m".repeat(200), "l".repeat(70_000)];
        w.send_texts(&texts).await.unwrap();
        w.pong(b"p").await.unwrap();
        w.close(4000, "slow_consumer").await.unwrap();
        let mut wire = Vec::new();
        server.read_to_end(&mut wire).await.unwrap();

        let mut expect = vec![0x81, 2, b'h', b'i'];
        expect.extend([0x81, 126, 0, 200]);
        expect.extend(texts[1].as_bytes());
        expect.extend([0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        expect.extend(texts[2].as_bytes());
        expect.extend([0x8A, 1, b'p']);
        expect.extend([0x88, 15, 0x0F, 0xA0]);
        expect.extend(b"slow_consumer");
        assert_eq!(wire, expect);
    }

    #[tokio::test]
    async fn partial_writes_resume_where_they_stopped() {
        // A pipe of 7 bytes forces many partial vectored writes.
        let (client, mut server) = tokio::io::duplex(7);
        let texts: Vec<String> = (0..1200).map(|i| format!("message {i}")).collect();
        let expected: Vec<u8> = texts.iter().flat_map(|t| [vec![0x81, t.len() as u8], t.as_bytes().to_vec()].concat()).collect();
        let reader = tokio::spawn(async move {
            let mut wire = Vec::new();
            server.read_to_end(&mut wire).await.unwrap();
            wire
        });
        let mut w = WsWriter::new(client);
        w.send_texts(&texts).await.unwrap();
        drop(w);
        assert_eq!(reader.await.unwrap(), expected);
    }
}

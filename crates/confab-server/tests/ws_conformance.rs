//! WebSocket conformance, the test of record for `confab-ws`: the cases of the Autobahn test suite
//! (sections 1-7 and 9) that an implementation can get wrong, re-created as raw-TCP tests against the
//! real server (Autobahn itself needs Python 2 or Docker). Each asserts what RFC 6455 requires: the
//! close code the server sends, or the answer it gives. The native protocol answers text frames, so
//! "echo" here means a `ping` request (padded to the length under test) gets its `ack`.

mod support;

use support::raw_ws::*;
use support::Server;

/// Requests are not rate limited here: some cases send a thousand.
fn server() -> Server {
    Server::start(&["--requests-per-second", "0"])
}

/// Autobahn 1.1, 1.2: text messages of every length class (7-bit, 16-bit and 64-bit lengths, at
/// their edges), whole and written in small pieces; binary messages are refused by the protocol,
/// not by the codec.
#[tokio::test]
async fn section_1_framing_of_every_length_class() {
    let server = server();
    let mut ws = RawWs::native(&server).await;
    let mut id = 1;
    for len in [32, 125, 126, 127, 128, 65535, 65536] {
        ws.send(frame(FIN | TEXT, &ping_request(id, len))).await;
        assert_eq!(ws.answer(id).await["type"], "ack", "{len}-byte text");
        id += 1;
        ws.send_in_chunks(&frame(FIN | TEXT, &ping_request(id, len)), 997.min(len / 3)).await;
        assert_eq!(ws.answer(id).await["type"], "ack", "{len}-byte text in pieces");
        id += 1;
    }
    ws.send(frame(FIN | TEXT, b"")).await;
    let empty = ws.next_text().await;
    assert_eq!((empty["type"].as_str(), empty["code"].as_str()), (Some("error"), Some("bad_frame")));
    for len in [0, 125, 126, 65536] {
        ws.send(frame(FIN | BINARY, &vec![0xFE; len])).await;
        let refused = ws.next_text().await;
        assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("bad_frame")), "{len}-byte binary");
    }
    ws.send(frame(FIN | TEXT, &ping_request(id, 40))).await;
    assert_eq!(ws.answer(id).await["type"], "ack", "still open after binary messages");
}

/// Autobahn 2.1-2.11: pings are answered with their payload (empty, text, binary, 125 bytes, sent
/// in pieces); unsolicited pongs are ignored; a ping above 125 bytes is a protocol error.
#[tokio::test]
async fn section_2_pings_and_pongs() {
    let server = server();
    let mut ws = RawWs::native(&server).await;
    let binary: Vec<u8> = (0..=255).step_by(37).collect();
    for payload in [&b""[..], b"Hello, world!", &binary, &[b'*'; 125]] {
        ws.send(frame(FIN | PING, payload)).await;
        assert_eq!(ws.next().await, Some(Frame { fin: true, opcode: PONG, payload: payload.to_vec() }));
    }
    ws.send_in_chunks(&frame(FIN | PING, &[b'c'; 125]), 1).await;
    assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, vec![b'c'; 125])));

    // Unsolicited pongs draw no answer: the next frame is the answer to the request after them.
    ws.send([frame(FIN | PONG, b""), frame(FIN | PONG, b"unsolicited"), frame(FIN | TEXT, &ping_request(1, 40))].concat()).await;
    assert_eq!(ws.next_text().await["id"], 1);
    ws.send([frame(FIN | PONG, b"unsolicited"), frame(FIN | PING, b"after pong")].concat()).await;
    assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, b"after pong".to_vec())));

    // Ten pings, each waited for: ten pongs in order.
    for i in 0..10u8 {
        ws.send(frame(FIN | PING, &[b'p', i])).await;
        assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, vec![b'p', i])));
    }
    // Ten pings in one write: RFC 6455 §5.5.3 lets the server answer only the latest it has read,
    // so the pongs are some of the payloads, in order, ending with the last.
    ws.send((0..10u8).flat_map(|i| frame(FIN | PING, &[b'q', i])).collect::<Vec<u8>>()).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&9) {
        let f = ws.next().await.expect("a pong");
        assert_eq!((f.opcode, f.payload[0]), (PONG, b'q'));
        seen.push(f.payload[1]);
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "pongs out of order: {seen:?}");

    ws.send(frame(FIN | PING, &[b'x'; 126])).await;
    ws.expect_close(1002).await;
}

/// Autobahn 3.1-3.7: a frame with a reserved bit set (no extension was negotiated) ends the
/// connection with 1002, on every opcode, after the valid frames before it were answered.
#[tokio::test]
async fn section_3_reserved_bits() {
    let server = server();
    for (rsv, opcode, payload) in [
        (0x40, TEXT, ping_request(1, 40)),
        (0x20, TEXT, ping_request(1, 40)),
        (0x10, TEXT, ping_request(1, 40)),
        (0x70, TEXT, ping_request(1, 40)),
        (0x50, BINARY, vec![1, 2, 3]),
        (0x60, PING, b"ping".to_vec()),
        (0x30, CLOSE, close_payload(1000, b"")),
    ] {
        let mut ws = RawWs::native(&server).await;
        // A valid request, the bad frame, and a ping that must not be answered, in one write.
        ws.send([frame(FIN | TEXT, &ping_request(7, 40)), frame(FIN | rsv | opcode, &payload), frame(FIN | PING, b"")].concat()).await;
        assert_eq!(ws.answer(7).await["type"], "ack");
        ws.expect_close(1002).await;
    }
}

/// Autobahn 4.1-4.2: reserved opcodes (3-7 for data, 11-15 for control) end the connection with
/// 1002, with or without a payload, after the valid frames before them were answered.
#[tokio::test]
async fn section_4_reserved_opcodes() {
    let server = server();
    for opcode in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        for payload in [&b""[..], b"reserved"] {
            let mut ws = RawWs::native(&server).await;
            ws.send([frame(FIN | TEXT, &ping_request(7, 40)), frame(FIN | opcode, payload), frame(FIN | PING, b"")].concat()).await;
            assert_eq!(ws.answer(7).await["type"], "ack", "opcode {opcode}");
            ws.expect_close(1002).await;
        }
    }
}

/// Autobahn 5.1-5.20: fragmented messages are reassembled, with pings between their fragments
/// answered at once; fragmented control frames, continuations with nothing to continue, and a new
/// message inside a fragmented one end the connection with 1002.
#[tokio::test]
async fn section_5_fragmentation() {
    let server = server();
    let request = ping_request(1, 300);
    let (a, rest) = request.split_at(100);
    let (b, c) = rest.split_at(100);
    let mut ws = RawWs::native(&server).await;
    // 5.3-5.5: in fragments, whole or in pieces or with pauses between frames.
    let fragments = [frame(TEXT, a), frame(CONTINUATION, b), frame(FIN | CONTINUATION, c)];
    ws.send(fragments.concat()).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    ws.send_in_chunks(&fragments.concat(), 1).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    for f in &fragments {
        ws.send(f).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ws.answer(1).await["type"], "ack");
    // 5.6-5.8, 5.19-5.20: pings between the fragments are answered before the message is whole.
    // (Each pong is waited for: two pings read together may get one pong, for the later.)
    ws.send([frame(TEXT, a), frame(FIN | PING, b"one")].concat()).await;
    assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, b"one".to_vec())));
    ws.send([frame(CONTINUATION, b), frame(FIN | PING, b"two")].concat()).await;
    assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, b"two".to_vec())));
    ws.send(frame(FIN | CONTINUATION, c)).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    // Empty fragments are fragments too.
    let empty = [frame(TEXT, b""), frame(CONTINUATION, &request), frame(FIN | CONTINUATION, b"")];
    ws.send(empty.concat()).await;
    assert_eq!(ws.answer(1).await["type"], "ack");

    let bad: [(&str, Vec<u8>); 8] = [
        ("5.1 fragmented ping", [frame(PING, b"a"), frame(FIN | CONTINUATION, b"b")].concat()),
        ("5.2 fragmented pong", [frame(PONG, b"a"), frame(FIN | CONTINUATION, b"b")].concat()),
        ("5.9 continuation first, FIN", frame(FIN | CONTINUATION, &request)),
        ("5.10 continuation first, no FIN", frame(CONTINUATION, &request)),
        ("5.13 continuations with no start", [frame(CONTINUATION, a), frame(FIN | CONTINUATION, b)].concat()),
        ("5.15 a continuation after the message ended", [frame(TEXT, &request[..150]), frame(FIN | CONTINUATION, &request[150..]), frame(CONTINUATION, c), frame(FIN | TEXT, b"x")].concat()),
        ("5.17 a text frame inside a message", [frame(TEXT, a), frame(CONTINUATION, b), frame(FIN | TEXT, c)].concat()),
        ("5.18 a second text start", [frame(TEXT, a), frame(TEXT, b)].concat()),
    ];
    for (case, wire) in bad {
        let mut ws = RawWs::native(&server).await;
        ws.send(&wire).await;
        if case.starts_with("5.15") {
            assert_eq!(ws.answer(1).await["type"], "ack", "{case}: the first message was whole");
        }
        let f = ws.next().await.expect(case);
        assert_eq!(f.close_code(), Some(1002), "{case}: {f:?}");
        ws.expect_end().await;
    }
}

/// A request whose `pad` field holds `bytes` (which need not be UTF-8).
fn request_with(bytes: &[u8]) -> Vec<u8> {
    [&br#"{"type":"ping","id":1,"pad":""#[..], bytes, b"\"}"].concat()
}

/// Autobahn 6.1-6.23: valid UTF-8 (up to U+10FFFF, in one frame or split inside code points across
/// fragments) is answered; invalid UTF-8 (overlong forms, surrogates, code points above U+10FFFF,
/// bytes that cannot start or continue a sequence), whole or fragmented, ends the connection with
/// 1007, and a fragment that can no longer become valid fails at once, before the message ends.
#[tokio::test]
async fn section_6_utf8_handling() {
    let server = server();
    let valid: [&[u8]; 6] = [
        "κόσμε".as_bytes(),
        b"\x7f",
        "\u{80}\u{7ff}\u{800}\u{ffff}".as_bytes(),
        "\u{10000}\u{10ffff}".as_bytes(),
        "\u{d7ff}\u{e000}\u{fffd}".as_bytes(),
        b"\xef\xbb\xbfBOM",
    ];
    let mut ws = RawWs::native(&server).await;
    for text in valid {
        let request = request_with(text);
        ws.send(frame(FIN | TEXT, &request)).await;
        assert_eq!(ws.answer(1).await["type"], "ack", "{text:?}");
        // Split at every byte, so every code point is cut somewhere across fragments.
        let mut wire = Vec::new();
        for (i, byte) in request.iter().enumerate() {
            let last = i == request.len() - 1;
            let first = if i == 0 { TEXT } else { CONTINUATION };
            wire.extend(frame(if last { FIN | first } else { first }, &[*byte]));
        }
        ws.send(wire).await;
        assert_eq!(ws.answer(1).await["type"], "ack", "{text:?} one byte per fragment");
    }

    let invalid: [&[u8]; 14] = [
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", // 6.3: a surrogate inside
        b"\xc0\xaf",         // overlong "/"
        b"\xe0\x80\xaf",     // overlong, 3 bytes
        b"\xf0\x80\x80\xaf", // overlong, 4 bytes
        b"\xc1\xbf",         // overlong U+7F
        b"\xed\xa0\x80",     // U+D800
        b"\xed\xbf\xbf",     // U+DFFF
        b"\xf4\x90\x80\x80", // above U+10FFFF
        b"\xf8\x88\x80\x80\x80", // 5 bytes
        b"\xfe",
        b"\xff",
        b"\x80",             // a lone continuation byte
        b"\xc2 ",            // a lead byte without its continuation
        b"\xe0\xa0",         // cut short at the end of the message
    ];
    for text in invalid {
        let request = request_with(text);
        let mut ws = RawWs::native(&server).await;
        ws.send(frame(FIN | TEXT, &request)).await;
        ws.expect_close(1007).await;
        let mut ws = RawWs::native(&server).await;
        let (a, b) = request.split_at(request.len() - 3);
        ws.send([frame(TEXT, a), frame(FIN | CONTINUATION, b)].concat()).await;
        ws.expect_close(1007).await;
    }
    // 6.4: fail fast: the rest of this message is never sent.
    let mut ws = RawWs::native(&server).await;
    ws.send(frame(TEXT, &request_with(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80"))).await;
    ws.expect_close(1007).await;
}

/// Autobahn 7.1-7.13: the closing handshake. After the client's close frame nothing else is
/// answered and the server closes TCP; a 1-byte close payload, a reason that makes the frame longer
/// than 125 bytes, and close codes that may not be on the wire (0-999, 1004-1006, 1015, 1016-2999,
/// 5000 and above) are 1002; a reason that is not UTF-8 is 1007. Valid codes (1000-1003, 1007-1011,
/// 3000-4999) are answered with 1000.
#[tokio::test]
async fn section_7_close_handling() {
    let server = server();
    let close = |code, reason: &[u8]| frame(FIN | CLOSE, &close_payload(code, reason));
    // 7.1.1-7.1.5: whatever follows the close frame is ignored.
    let mut ws = RawWs::native(&server).await;
    ws.send([frame(FIN | TEXT, &ping_request(1, 40)), close(1000, b"")].concat()).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    ws.expect_close(1000).await;
    for after in [close(1000, b""), frame(FIN | PING, b"x"), frame(FIN | TEXT, &ping_request(2, 40))] {
        let mut ws = RawWs::native(&server).await;
        ws.send([close(1000, b""), after].concat()).await;
        ws.expect_close(1000).await;
    }
    let mut ws = RawWs::native(&server).await;
    let request = ping_request(3, 40);
    ws.send([frame(TEXT, &request[..10]), close(1000, b""), frame(FIN | CONTINUATION, &request[10..])].concat()).await;
    ws.expect_close(1000).await;

    // 7.3.1: an empty close payload is allowed.
    let mut ws = RawWs::native(&server).await;
    ws.send(frame(FIN | CLOSE, b"")).await;
    ws.expect_close(1000).await;
    // 7.3.3-7.3.5: a code, with a reason up to the 123 bytes that fit.
    for reason in [&b""[..], b"Hello World!", &[b'*'; 123]] {
        let mut ws = RawWs::native(&server).await;
        ws.send(close(1000, reason)).await;
        ws.expect_close(1000).await;
    }
    for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
        let mut ws = RawWs::native(&server).await;
        ws.send(close(code, b"")).await;
        ws.expect_close(1000).await;
    }

    let protocol_errors: Vec<(String, Vec<u8>)> = [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
        .into_iter()
        .map(|code| (format!("code {code}"), close(code, b"")))
        .chain([
            ("7.3.2 a 1-byte payload".to_string(), frame(FIN | CLOSE, b"\x03")),
            ("7.3.6 a 124-byte reason".to_string(), close(1000, &[b'*'; 124])),
            ("a fragmented close".to_string(), [frame(CLOSE, &close_payload(1000, b"")), frame(FIN | CONTINUATION, b"")].concat()),
        ])
        .collect();
    for (case, wire) in protocol_errors {
        let mut ws = RawWs::native(&server).await;
        ws.send(&wire).await;
        let f = ws.next().await.unwrap_or_else(|| panic!("{case}: no close frame"));
        assert_eq!(f.close_code(), Some(1002), "{case}: {f:?}");
        ws.expect_end().await;
    }
    // 7.5.1: the reason must be UTF-8.
    let mut ws = RawWs::native(&server).await;
    ws.send(close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")).await;
    ws.expect_close(1007).await;
}

/// Autobahn 9 (limits and volume) and the payload limit: a message of exactly `--max-frame-bytes`
/// is answered, one byte more is 1009 (whole, fragmented, or announced by a header whose payload
/// never comes); a message of a thousand 1-byte fragments is reassembled; a thousand requests in
/// one write are all answered, each once, in order.
#[tokio::test]
async fn section_9_limits_and_volume() {
    let server = Server::start(&["--requests-per-second", "0", "--max-frame-bytes", "20000"]);
    let mut ws = RawWs::native(&server).await;
    ws.send(frame(FIN | TEXT, &ping_request(1, 20000))).await;
    assert_eq!(ws.answer(1).await["type"], "ack");
    let big = ping_request(2, 20001);
    let mut one_byte = Vec::new();
    let small = ping_request(3, 1000);
    for (i, b) in small.iter().enumerate() {
        let last = i == small.len() - 1;
        one_byte.extend(frame(if i == 0 { TEXT } else { CONTINUATION } | if last { FIN } else { 0 }, &[*b]));
    }
    ws.send(one_byte).await;
    assert_eq!(ws.answer(3).await["type"], "ack");
    let burst: Vec<u8> = (100..1100).flat_map(|id| frame(FIN | TEXT, &ping_request(id, 60))).collect();
    ws.send(burst).await;
    for id in 100..1100 {
        assert_eq!(ws.answer(id).await["type"], "ack");
    }
    ws.send(frame(FIN | TEXT, &big)).await;
    ws.expect_close(1009).await;

    let mut ws = RawWs::native(&server).await;
    let (a, b) = big.split_at(15000);
    ws.send([frame(TEXT, a), frame(FIN | CONTINUATION, b)].concat()).await;
    ws.expect_close(1009).await;

    let mut ws = RawWs::native(&server).await;
    ws.send(frame_with_len(FIN | TEXT, b"", 1 << 40)).await;
    ws.expect_close(1009).await;
    // Found by the fuzzer: a continuation whose length, added to what came before, overflowed (the
    // connection's task panicked and dropped the connection without a close frame).
    let mut ws = RawWs::native(&server).await;
    ws.send([frame(TEXT, b"{"), frame_with_len(FIN | CONTINUATION, b"", u64::MAX)].concat()).await;
    ws.expect_close(1002).await;
    let mut ws = RawWs::native(&server).await;
    ws.send([frame(TEXT, b"{"), frame_with_len(FIN | CONTINUATION, b"", u64::MAX >> 1)].concat()).await;
    ws.expect_close(1009).await;
    let mut ws = RawWs::native(&server).await;
    ws.send(frame_with_len(FIN | TEXT, b"", u64::MAX)).await;
    ws.expect_close(1002).await;
}

/// The same codec under Socket.IO's WebSocket transport: a fragmented CONNECT with a ping between
/// its fragments is answered, and bad frames end the connection with the codes above.
#[tokio::test]
async fn socketio_transport_uses_the_same_rules() {
    let server = Server::start(&["--requests-per-second", "0", "--socketio-max-payload", "1000"]);
    let path = "/socket.io/?EIO=4&transport=websocket";
    let mut ws = RawWs::connect(&server, path).await;
    assert!(ws.next().await.expect("open").payload.starts_with(b"0{"));
    ws.send([frame(TEXT, b"4"), frame(FIN | PING, b"between"), frame(FIN | CONTINUATION, b"0")].concat()).await;
    assert_eq!(ws.next().await.map(|f| (f.opcode, f.payload)), Some((PONG, b"between".to_vec())));
    assert!(ws.next().await.expect("CONNECT answered").payload.starts_with(b"40{"));
    ws.send(frame(FIN | TEXT, &[b'4'; 1001])).await;
    ws.expect_close(1009).await;
    let cases: [(Vec<u8>, u16); 4] = [
        (frame(FIN | TEXT, b"42[\"x\xff\"]"), 1007),
        (frame(FIN | CLOSE, &close_payload(1005, b"")), 1002),
        (frame(FIN | 0x40 | TEXT, b"40"), 1002),
        (frame(FIN | CLOSE, &close_payload(4000, b"done")), 1000),
    ];
    for (wire, code) in cases {
        let mut ws = RawWs::connect(&server, path).await;
        assert!(ws.next().await.expect("open").payload.starts_with(b"0{"));
        ws.send(wire).await;
        let close = loop {
            let f = ws.next().await.expect("a close frame");
            if f.opcode == CLOSE {
                break f;
            }
        };
        assert_eq!(close.close_code(), Some(code), "{close:?}");
        ws.expect_end().await;
    }
}

/// The opening handshake (RFC 6455 §4.2): a request that is not an upgrade, or has no valid key, is
/// 400; another WebSocket version is 426 naming version 13; a valid one is 101 with the accept key
/// (checked by every test above).
#[tokio::test]
async fn the_opening_handshake_is_checked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = server();
    let cases = [
        ("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "400"),
        ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13", "400"),
        ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: not-a-key", "400"),
        ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!", "400"),
        ("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "426"),
    ];
    for (headers, status) in cases {
        let mut tcp = tokio::net::TcpStream::connect(&server.addr).await.expect("connect");
        let request = format!("GET /ws HTTP/1.1\r\nHost: {}\r\n{headers}\r\n\r\n", server.addr);
        tcp.write_all(request.as_bytes()).await.expect("send");
        // The answer's head; the connection may stay open for the next request.
        let mut answer = Vec::new();
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(support::WAIT, tcp.read(&mut chunk)).await.expect("an answer").expect("read");
            assert!(n > 0, "{headers:?}: connection closed without an answer");
            answer.extend_from_slice(&chunk[..n]);
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{headers:?}: {answer}");
        if status == "426" {
            assert!(answer.to_ascii_lowercase().contains("sec-websocket-version: 13"), "{answer}");
        }
    }
}

//! Control frames have a bound of their own: a client that sends pings as fast as it can while it
//! reads is answered, not closed as a slow consumer. Only the latest ping not yet answered is owed a
//! pong (RFC 6455 §5.5.3), so pings take one slot of the outbound queue however many arrive.

mod support;

use support::raw_ws::*;
use support::Server;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

const PINGS: u32 = 5000;

/// Sends `PINGS` numbered pings in writes of 50 from another task, then `last` (a request).
fn flood(ws: &mut RawWs, last: Vec<u8>) -> tokio::task::JoinHandle<OwnedWriteHalf> {
    let mut writer = ws.take_writer();
    tokio::spawn(async move {
        let pings: Vec<Vec<u8>> = (0..PINGS).map(|i| frame(FIN | PING, &i.to_be_bytes())).collect();
        for batch in pings.chunks(50) {
            writer.write_all(&batch.concat()).await.expect("send pings");
        }
        writer.write_all(&last).await.expect("send the request");
        writer
    })
}

/// Reads pongs until the first text frame, which it returns; the pongs answer pings in the order
/// they were sent, and the last one answers the last ping.
async fn pongs_then_text(ws: &mut RawWs) -> (usize, Vec<u8>) {
    let mut last = None;
    let mut count = 0;
    loop {
        let f = ws.next().await.expect("the connection ended before the answer");
        match f.opcode {
            PONG => {
                let n = u32::from_be_bytes(f.payload.as_slice().try_into().expect("a 4-byte payload"));
                assert!(last.is_none_or(|l| n > l), "pong {n} after pong {last:?}");
                last = Some(n);
                count += 1;
            }
            TEXT => {
                assert_eq!(last, Some(PINGS - 1), "the last pong answers the last ping; then {:?}", String::from_utf8_lossy(&f.payload));
                return (count, f.payload);
            }
            _ => panic!("expected pongs, then the answer; got {f:?}"),
        }
    }
}

/// On `/ws`, with a queue of 64: 5,000 pings are answered (the last with its own payload), the
/// request after them gets its answer, and the connection closes normally (1000, not 4000).
#[tokio::test]
async fn a_ping_flood_on_the_native_protocol_is_answered_not_closed() {
    let server = Server::start(&["--outbound-queue", "64", "--requests-per-second", "0"]);
    let mut ws = RawWs::native(&server).await;
    let sender = flood(&mut ws, frame(FIN | TEXT, &ping_request(99, 40)));
    let (pongs, text) = pongs_then_text(&mut ws).await;
    let answer: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    assert_eq!((answer["type"].as_str(), answer["id"].as_u64()), (Some("ack"), Some(99)));
    ws.give_writer(sender.await.expect("the flood was sent"));
    ws.send(frame(FIN | CLOSE, &close_payload(1000, b""))).await;
    ws.expect_close(1000).await;
    eprintln!("native: {pongs} pongs for {PINGS} pings");
}

/// The same on Socket.IO's WebSocket transport: the pings, then CONNECT, which is answered.
#[tokio::test]
async fn a_ping_flood_on_socketio_is_answered_not_closed() {
    let server = Server::start(&["--outbound-queue", "64", "--requests-per-second", "0"]);
    let mut ws = RawWs::connect(&server, "/socket.io/?EIO=4&transport=websocket").await;
    let open = ws.next().await.expect("the open packet");
    assert!(open.payload.starts_with(b"0{"), "{open:?}");
    let sender = flood(&mut ws, frame(FIN | TEXT, b"40"));
    let (pongs, text) = pongs_then_text(&mut ws).await;
    assert!(text.starts_with(b"40{"), "CONNECT answered: {:?}", String::from_utf8_lossy(&text));
    ws.give_writer(sender.await.expect("the flood was sent"));
    ws.send(frame(FIN | CLOSE, &close_payload(1000, b""))).await;
    let close = loop {
        let f = ws.next().await.expect("a close frame");
        if f.opcode == CLOSE {
            break f;
        }
    };
    assert_eq!(close.close_code(), Some(1000));
    ws.expect_end().await;
    eprintln!("socket.io: {pongs} pongs for {PINGS} pings");
}

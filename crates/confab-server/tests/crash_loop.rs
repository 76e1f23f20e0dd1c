//! Crash safety under steady sending: the server is killed with SIGKILL at random moments, many times
//! in one test, while a native client and a Socket.IO client keep sending. After every restart each
//! acknowledged message is in the log exactly once, in the order it was acknowledged, the log has no
//! gap, and a reader that resumes with `since` after each crash sees every event once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};
use support::{Client, Server, SioWs};

const ROUNDS: usize = 6;

/// Every event of the room, oldest first, paged through `history`.
async fn whole_log(c: &mut Client, room: &str) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e["seq"].as_i64().unwrap());
        let page = c.ok("history", json!({"room": room, "after": after, "limit": 200})).await;
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        if page["more"] != true {
            return events;
        }
    }
}

/// Sends until the connection dies, recording each acknowledged text (the task ends by panicking on
/// the closed connection; what it recorded stays behind).
fn native_sender(mut c: Client, room: String, round: usize, acked: Arc<Mutex<Vec<String>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for i in 0.. {
            let text = format!("native {round}.{i}");
            let answer = c.request("send", json!({"room": room, "text": text, "client_id": text})).await;
            if answer["type"] != "ack" {
                // Recorded, and checked by the test: a refusal is not a crash.
                acked.lock().push(format!("REFUSED {answer}"));
                return;
            }
            acked.lock().push(text);
        }
    })
}

fn socketio_sender(mut c: SioWs, room: String, round: usize, acked: Arc<Mutex<Vec<String>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for i in 0.. {
            let text = format!("sio {round}.{i}");
            let data = json!({"room": room, "user": "sio", "message": text, "message_id": text});
            let answer = c.call(i + 10, "send_message", data).await;
            if answer["ok"] != true {
                acked.lock().push(format!("REFUSED {answer}"));
                return;
            }
            acked.lock().push(text);
        }
    })
}

/// The senders end by panicking when their server is killed under them; keep those expected panics
/// out of the log, and every other one in.
fn quiet_sender_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.to_string();
        let expected = ["closed while waiting", "timed out waiting", "send: "].iter().any(|m| text.contains(m));
        if !expected {
            default(info);
        }
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_repeated_sigkill() {
    quiet_sender_panics();
    let mut server = Server::start(&["--requests-per-second", "0"]);
    let room = "crashes".to_string();
    let mut reader = Client::guest(&server, "reader").await;
    reader.ok("join", json!({"room": room, "create": true})).await;
    let reader_token = reader.token();
    let native_token = Client::guest(&server, "native").await.token();
    let sio_token = Client::guest(&server, "sio").await.token();
    let acked_native: Arc<Mutex<Vec<String>>> = Arc::default();
    let acked_sio: Arc<Mutex<Vec<String>>> = Arc::default();
    // What the reader received, live or replayed, across every crash.
    let mut seen: Vec<i64> = Vec::new();

    for round in 0..ROUNDS {
        let mut native = Client::with_token(&server, &native_token).await;
        native.join(&room).await;
        let mut sio = SioWs::connect(&server, Some(&sio_token)).await;
        let joined = sio.call(1, "join_room", json!({"room": room, "user": "sio"})).await;
        assert_eq!(joined["ok"], true, "{joined}");
        let senders = [
            native_sender(native, room.clone(), round, Arc::clone(&acked_native)),
            socketio_sender(sio, room.clone(), round, Arc::clone(&acked_sio)),
        ];
        let wait = 150 + rand::random_range(0..350u64);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
        // Read live until the crash.
        while let Ok(e) = tokio::time::timeout_at(deadline, reader.event()).await {
            seen.push(e["seq"].as_i64().unwrap());
        }
        server = server.restart();
        for s in senders {
            let _ = s.await; // ends with the connection; its acknowledgements are recorded
        }
        reader = Client::with_token(&server, &reader_token).await;
        let since = seen.last().copied().unwrap_or(0);
        let ack = reader.ok("join", json!({"room": room, "since": since})).await;
        assert_eq!(ack["complete"], true, "round {round}: {ack}");
        for _ in 0..ack["replayed"].as_i64().unwrap() {
            seen.push(reader.event().await["seq"].as_i64().unwrap());
        }
    }

    let log = whole_log(&mut reader, &room).await;
    let seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "the log has no gap");
    assert_eq!(seen, seqs[..seen.len()].to_vec(), "the reader saw every event once, in order, across crashes");
    let texts: Vec<&str> = log
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["message"]["content"]["text"].as_str().unwrap())
        .collect();
    for (who, acked) in [("native", &acked_native), ("sio", &acked_sio)] {
        let acked = acked.lock().clone();
        assert!(!acked.iter().any(|a| a.starts_with("REFUSED")), "{who}: a send was refused: {acked:?}");
        assert!(acked.len() >= ROUNDS, "{who} sent too little to test anything: {acked:?}");
        let stored: Vec<&str> = texts.iter().copied().filter(|t| t.starts_with(who)).collect();
        // Each acknowledged message is there exactly once, in acknowledgement order; a message in
        // flight at the crash may be stored too, without an acknowledgement, but only once.
        let mut unique = stored.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), stored.len(), "{who}: a message stored twice");
        let acked_in_log: Vec<&str> = stored.iter().copied().filter(|t| acked.iter().any(|a| a == t)).collect();
        assert_eq!(acked_in_log, acked.iter().map(String::as_str).collect::<Vec<_>>(), "{who}: acknowledged messages lost or reordered");
        eprintln!("{who}: {} acknowledged over {ROUNDS} crashes, {} stored", acked.len(), stored.len());
    }
}

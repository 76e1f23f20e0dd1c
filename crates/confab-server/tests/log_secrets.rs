//! The structured logs at the default level carry no message text, session tokens, metrics token or
//! database password, whatever the clients send or the server is started with.

mod support;

use std::io::Read;

use serde_json::json;
use support::*;

/// A server at the default log level with `--log-json` and a metrics token; clients on both
/// protocols send marked text, edit it, send an over-long one, log in with a good and a forged token. Every stderr line is JSON, the start-up line is there, and no
/// line holds a marker or a secret.
#[tokio::test]
async fn json_logs_hold_no_message_text_and_no_secrets() {
    let metrics_token = "metrics-secret-7f3a9c";
    let (mut server, mut stderr) =
        Server::start_logged(&["--log-json", "--metrics", "token", "--metrics-token", metrics_token]);
    // Read on a thread, so that a full pipe never blocks the server while the test runs.
    let reader = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });

    let marker = "MARKER-b1e55ed-text";
    let mut ann = Client::guest(&server, "ann").await;
    let token = ann.token();
    let r = room("logs");
    ann.ok("join", json!({"room": r, "create": true})).await;
    let sent = ann.say(&r, &format!("{marker} my token is {token}")).await;
    ann.ok("edit", json!({"room": r, "message_id": sent["message_id"], "text": format!("{marker} edited")})).await;
    ann.refused("send", json!({"room": r, "text": format!("{marker}{}", "x".repeat(5000))}), "text_too_long").await;
    let mut forged = Client::connect_raw(&server).await;
    forged.refused("hello", json!({"token": "forged-token-0c0ffee"}), "unauthenticated").await;
    let mut sio = SioWs::connect(&server, Some(&token)).await;
    assert_eq!(sio.call(1, "join_room", json!({"room": r, "user": "ann"})).await["ok"], true);
    let ack = sio
        .call(2, "send_message", json!({"room": r, "user": "ann", "message": format!("{marker} over socket.io")}))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let bearer = format!("Bearer {metrics_token}");
    assert_eq!(http(&server, "GET", "/metrics", &[("Authorization", &bearer)], b"").await.status, 200);
    assert_eq!(
        http(&server, "GET", "/api/me", &[("Authorization", &format!("Bearer {token}"))], b"").await.status,
        200
    );
    ann.close().await;
    drop(sio);

    // SIGTERM: the server shuts down gracefully and logs it; stderr ends when it exits.
    server.terminate();
    let logs = reader.join().expect("log reader");

    let lines: Vec<&str> = logs.lines().collect();
    assert!(lines.iter().any(|l| l.contains("confab started")), "start-up line missing: {logs}");
    assert!(lines.iter().any(|l| l.contains("shutting down")), "shutdown line missing: {logs}");
    for l in &lines {
        let parsed: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
        assert!(parsed["level"].is_string(), "{l}");
    }
    for secret in [marker, token.as_str(), "forged-token-0c0ffee", metrics_token] {
        assert!(!logs.contains(secret), "{secret:?} appears in the logs:\n{logs}");
    }
}

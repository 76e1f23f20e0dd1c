//! Accounts across nodes: a session made on one node works on another, and signing it out on one
//! node closes its connections on the other within `--credential-recheck-ms`.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::accounts::{call, login, register};
use support::cluster::{redis_addr, Cluster};
use support::{Client, SioWs};

/// Registered on node 0, connected on node 1 (native and Socket.IO), signed out on node 0: node 1
/// closes both connections with `session_revoked` within its recheck period.
#[tokio::test]
async fn signing_out_on_one_node_closes_connections_on_another() {
    let cluster = Cluster::start(2, &redis_addr(), &["--credential-recheck-ms", "300"]);
    let (a, b) = (cluster.node(0), cluster.node(1));
    register(a, "ann", "correct horse battery").await;
    let token = login(b, "ann", "correct horse battery").await;
    let mut native = Client::with_token(b, &token).await;
    native.ok("join", json!({"room": "lobby", "create": true})).await;
    let mut sio = SioWs::connect(b, Some(&token)).await;

    let started = Instant::now();
    let r = call(a, "POST", "/api/auth/logout", Some(&token), None).await;
    assert_eq!(r.status, 204);
    let close = loop {
        let v = native.recv().await;
        if v["type"] == "closed" {
            break v;
        }
    };
    assert_eq!((close["code"].clone(), close["reason"].clone()), (json!(4003), json!("session_revoked")));
    let packets = sio.until_closed().await;
    assert!(packets.iter().any(|p| p.contains("session_revoked")) && packets.contains(&"41".to_string()), "{packets:?}");
    let took = started.elapsed();
    eprintln!("sign-out on node 0 closed node 1's connections after {took:?} (recheck 300 ms)");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

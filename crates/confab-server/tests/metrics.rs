//! `/metrics` end to end: chat over /ws and Socket.IO moves the counters by exactly what happened,
//! the Redis bus's reconnects and drops are counted through an outage, and the page is refused per
//! `--metrics` (off, local, token).

mod support;

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::time::Instant;

use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// One scrape: each sample line's `name{labels}` and value. Fails the test on a line that is not
/// Prometheus text.
struct Scrape(HashMap<String, f64>);

impl Scrape {
    async fn take(server: &Server) -> Scrape {
        let page = http(server, "GET", "/metrics", &[], b"").await;
        assert_eq!(page.status, 200, "{}", page.text());
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
        Scrape::parse(&page.text())
    }

    fn parse(text: &str) -> Scrape {
        let mut samples = HashMap::new();
        for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (key, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line:?}"));
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line:?}"));
            samples.insert(key.to_string(), value);
        }
        Scrape(samples)
    }

    /// A sample's value; 0 for a series that has not appeared yet (a label never used).
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    fn delta(&self, before: &Scrape, key: &str) -> f64 {
        self.get(key) - before.get(key)
    }
}

/// Scrapes until `ready` holds (connection counts settle after the socket closes), for up to WAIT.
async fn scrape_until(server: &Server, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = Scrape::take(server).await;
        if ready(&s) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Two native members and one Socket.IO member in one room: 3 native and 2 Socket.IO messages are
/// 5 messages stored and 15 deliveries; each request type's latency histogram counts its requests;
/// an unknown request type counts one `unknown_type` error, a refused API request one of its code;
/// a normal close and an oversized frame count as disconnects by their reasons, and the connection
/// gauges follow.
#[tokio::test]
async fn chat_on_both_protocols_moves_the_counters_by_what_happened() {
    let server = Server::start(&["--max-frame-bytes", "1000"]);
    let r = room("metrics");
    let mut alice = Client::guest(&server, "alice").await;
    let mut bob = Client::guest(&server, "bob").await;
    alice.ok("join", json!({"room": r, "create": true})).await;
    bob.join(&r).await;
    let mut carol = SioWs::connect(&server, None).await;
    assert_eq!(carol.call(1, "join_room", json!({"room": r, "user": "carol"})).await["ok"], true);
    // Join notices and member lists are delivered too: let them pass before the baseline.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = Scrape::take(&server).await;
    assert_eq!(before.get(r#"confab_connections{protocol="native"}"#), 2.0);
    assert_eq!(before.get(r#"confab_connections{protocol="socketio"}"#), 1.0);
    assert_eq!(before.get("confab_rooms_with_local_members"), 1.0);

    for i in 0..3 {
        alice.say(&r, &format!("native {i}")).await;
    }
    for i in 0..2 {
        let ack = carol
            .call(10 + i, "send_message", json!({"room": r, "user": "carol", "message": format!("sio {i}")}))
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    alice.refused("no_such_request", json!({}), "unknown_type").await;
    let api = http(&server, "GET", "/api/rooms/no-such-room-here/history", &[], b"").await;
    let api_code = api.json()["error"]["code"].as_str().expect("an API error code").to_string();
    for _ in 0..5 {
        bob.event_of("message").await;
    }
    let after = Scrape::take(&server).await;

    assert_eq!(after.delta(&before, "confab_messages_stored_total"), 5.0);
    assert_eq!(after.delta(&before, "confab_deliveries_total"), 15.0, "5 messages to 3 members");
    assert_eq!(after.delta(&before, r#"confab_request_duration_seconds_count{protocol="native",type="send"}"#), 3.0);
    assert_eq!(after.delta(&before, r#"confab_request_duration_seconds_count{protocol="native",type="other"}"#), 1.0);
    assert_eq!(
        after.delta(&before, r#"confab_request_duration_seconds_count{protocol="socketio",type="send_message"}"#),
        2.0
    );
    assert!(after.get(r#"confab_request_duration_seconds_sum{protocol="native",type="send"}"#) > 0.0);
    assert_eq!(after.delta(&before, r#"confab_errors_total{code="unknown_type"}"#), 1.0);
    assert_eq!(
        after.delta(&before, &format!(r#"confab_errors_total{{code="{api_code}"}}"#)),
        1.0,
        "HTTP API errors count too"
    );
    // Server::start runs on PostgreSQL when CONFAB_TEST_STORE=postgres.
    let store = if std::env::var("CONFAB_TEST_STORE").as_deref() == Ok("postgres") { "postgres" } else { "sqlite" };
    let commits = after.delta(&before, &format!(r#"confab_store_commit_batch_size_count{{store="{store}"}}"#));
    assert!((1.0..=5.0).contains(&commits), "5 messages in 1 to 5 commits, saw {commits}");
    assert!(after.delta(&before, &format!(r#"confab_store_commit_batch_size_sum{{store="{store}"}}"#)) >= 5.0);
    assert_eq!(after.delta(&before, &format!(r#"confab_store_commit_seconds_count{{store="{store}"}}"#)), commits);
    assert!(after.delta(&before, "confab_outbound_queue_length_count") >= 15.0, "sampled at every delivery");
    assert_eq!(after.get("confab_redis_publications_dropped_total"), 0.0);

    bob.close().await;
    let mut big = Client::guest(&server, "big").await;
    big.send_message(Message::Text("x".repeat(2000).into())).await;
    let closed = scrape_until(&server, |s| {
        s.delta(&after, r#"confab_disconnects_total{reason="message_too_big"}"#) >= 1.0
            && s.get(r#"confab_connections{protocol="native"}"#) == 1.0
    })
    .await;
    assert_eq!(closed.delta(&after, r#"confab_disconnects_total{reason="normal"}"#), 1.0, "bob's close");
    assert_eq!(closed.delta(&after, r#"confab_disconnects_total{reason="message_too_big"}"#), 1.0);
    assert_eq!(closed.get(r#"confab_connections{protocol="native"}"#), 1.0, "alice only");
    assert_eq!(closed.get(r#"confab_connections{protocol="socketio"}"#), 1.0);
}

/// This machine's address on its network (not loopback), to reach a server bound to 0.0.0.0 from
/// somewhere that is not 127.0.0.1. No packet is sent: connecting a UDP socket only picks a route.
fn non_loopback_address() -> IpAddr {
    let socket = UdpSocket::bind("0.0.0.0:0").expect("udp socket");
    socket.connect("192.0.2.1:9").or_else(|_| socket.connect("10.255.255.255:9")).expect("a route off this host");
    let ip = socket.local_addr().expect("local address").ip();
    assert!(!ip.is_loopback() && !ip.is_unspecified(), "this test needs a non-loopback address, found {ip}");
    ip
}

/// `local` (the default) serves 127.0.0.1 and refuses the same server reached on the machine's
/// network address with 403, also when the request claims `X-Forwarded-For: 127.0.0.1`.
#[tokio::test]
async fn local_metrics_refuse_other_addresses_and_ignore_forwarded_for() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path(), "0.0.0.0:0", &[]);
    let port = server.addr.rsplit_once(':').unwrap().1.to_string();
    let local = format!("127.0.0.1:{port}");
    let remote = format!("{}:{port}", non_loopback_address());
    assert_eq!(http_at(&local, "GET", "/metrics", &[], b"").await.status, 200);
    assert_eq!(http_at(&remote, "GET", "/metrics", &[], b"").await.status, 403);
    let forged =
        http_at(&remote, "GET", "/metrics", &[("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1")], b"").await;
    assert_eq!(forged.status, 403);
    assert!(!forged.text().contains("confab_"), "no metrics in a refusal");
    assert_eq!(http_at(&remote, "GET", "/healthz", &[], b"").await.status, 200, "the server itself is reachable");
}

/// `off` answers 404; `token` answers 401 without the right bearer token and 200 with it.
#[tokio::test]
async fn metrics_off_and_token_settings_refuse_as_documented() {
    let off = Server::start(&["--metrics", "off"]);
    assert_eq!(http(&off, "GET", "/metrics", &[], b"").await.status, 404);

    let guarded = Server::start(&["--metrics", "token", "--metrics-token", "s3cret-ops"]);
    let none = http(&guarded, "GET", "/metrics", &[], b"").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert_eq!(http(&guarded, "GET", "/metrics", &[("Authorization", "Bearer s3cret-op")], b"").await.status, 401);
    assert_eq!(http(&guarded, "GET", "/metrics", &[("Authorization", "Basic s3cret-ops")], b"").await.status, 401);
    let ok = http(&guarded, "GET", "/metrics", &[("Authorization", "Bearer s3cret-ops")], b"").await;
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("# TYPE confab_connections gauge"));
}

/// `--metrics token` without a token is a start-up error, not an open page.
#[test]
fn token_mode_without_a_token_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_confab"))
        .args(["--bind", "127.0.0.1:0", "--metrics", "token", "--data-dir"])
        .arg(dir.path())
        .env_remove("CONFAB_METRICS_TOKEN")
        .output()
        .expect("run confab");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--metrics-token"), "{stderr}");
}

/// A TCP proxy in front of the shared Redis that the test can cut (every connection closed, new
/// ones refused) and restore: an outage of Redis as this node sees it.
struct RedisProxy {
    addr: std::net::SocketAddr,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl RedisProxy {
    async fn start() -> RedisProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = RedisProxy { addr, cut: Default::default(), conns: Default::default() };
        let (cut, conns) = (proxy.cut.clone(), proxy.conns.clone());
        tokio::spawn(async move {
            while let Ok((mut down, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut up) = tokio::net::TcpStream::connect("127.0.0.1:6379").await {
                        let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                    }
                });
                conns.lock().push(task.abort_handle());
            }
        });
        proxy
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for task in self.conns.lock().drain(..) {
            task.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

/// On the Redis bus (through a proxy the test cuts): a lost pub/sub connection counts one
/// reconnect once Redis is back, and messages committed while Redis was away are counted as
/// dropped publications; both start at 0. (Multi-threaded: the proxy must run while
/// `Server::start` blocks this thread waiting for the server, which connects through it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_counts_reconnects_and_dropped_publications() {
    let proxy = RedisProxy::start().await;
    let url = format!("redis://{}/", proxy.addr);
    let prefix = format!("confab:ops-metrics-{}:", std::process::id());
    let server = Server::start(&[
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
        "--redis-ping-ms",
        "200",
        "--redis-backoff-initial-ms",
        "50",
        "--redis-backoff-max-ms",
        "200",
    ]);
    let r = room("redis-metrics");
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("join", json!({"room": r, "create": true})).await;
    let before = Scrape::take(&server).await;
    assert_eq!(before.get("confab_redis_reconnects_total"), 0.0);
    assert_eq!(before.get("confab_redis_publications_dropped_total"), 0.0);

    proxy.cut();
    for i in 0..3 {
        ann.say(&r, &format!("while redis is away {i}")).await;
    }
    proxy.restore();
    let after = scrape_until(&server, |s| s.get("confab_redis_reconnects_total") >= 1.0).await;
    assert!(after.get("confab_redis_reconnects_total") >= 1.0, "no reconnect counted");
    let dropped = after.get("confab_redis_publications_dropped_total");
    assert!((1.0..=3.0).contains(&dropped), "3 publications while cut, {dropped} counted dropped");
    assert_eq!(after.delta(&before, "confab_messages_stored_total"), 3.0, "the store took them all the same");
    drop(server);
    delete_redis_keys(&prefix).await;
}

/// Deletes this test's keys from the shared Redis (the killed server leaves its presence behind), in
/// one raw RESP command: the server crate has no Redis client of its own.
async fn delete_redis_keys(prefix: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let script = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 0";
    let pattern = format!("{prefix}*");
    let mut command = String::from("*4\r\n");
    for part in ["EVAL", script, "0", &pattern] {
        command.push_str(&format!("${}\r\n{part}\r\n", part.len()));
    }
    let mut redis = tokio::net::TcpStream::connect("127.0.0.1:6379").await.expect("connect to redis");
    redis.write_all(command.as_bytes()).await.expect("send EVAL");
    let mut reply = [0u8; 64];
    let n = redis.read(&mut reply).await.expect("read the reply");
    assert_eq!(&reply[..n], b":0\r\n", "cleanup failed: {}", String::from_utf8_lossy(&reply[..n]));
}

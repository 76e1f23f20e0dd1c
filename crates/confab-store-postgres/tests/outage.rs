//! PostgreSQL going away and coming back, through a TCP proxy this test controls (the shared server
//! itself is never touched).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_core::model::{ActorRef, Content, RoomKind};
use confab_core::store::{EventRange, NewEvent, Store};
use confab_core::ErrorCode;
use confab_store_conformance::Recorder;
use confab_store_postgres::PostgresStore;
use parking_lot::Mutex;
use support::TestSchema;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards to PostgreSQL until cut. A cut is a black hole, the hardest kind of outage: sockets stay
/// open but nothing more is forwarded, and new connections are accepted and never answered, so
/// only the store's timeout can notice. Restoring closes every held socket and forwards again.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (cut, _) = watch::channel(false);
        let held = Arc::new(Mutex::new(Vec::new()));
        let (cuts, kept) = (cut.clone(), Arc::clone(&held));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *cuts.borrow() {
                    kept.lock().push(inbound);
                    continue;
                }
                let (mut cut_rx, kept) = (cuts.subscribe(), Arc::clone(&kept));
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else { return };
                    let was_cut = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
                        _ = cut_rx.wait_for(|c| *c) => true,
                    };
                    if was_cut {
                        kept.lock().extend([inbound, outbound]);
                    }
                });
            }
        });
        Proxy { addr, cut, held }
    }

    fn cut(&self) {
        self.cut.send_replace(true);
    }

    fn restore(&self) {
        self.cut.send_replace(false);
        self.held.lock().clear();
    }
}

impl Drop for Proxy {
    /// Held sockets keep PostgreSQL sessions open in a transaction, whose locks would stop the
    /// test's schema from being dropped.
    fn drop(&mut self) {
        self.restore();
    }
}

fn message(i: usize) -> NewEvent {
    NewEvent::Message { content: Content { text: format!("m{i}") }, client_id: Some(format!("c{i}")) }
}

/// While PostgreSQL is unreachable, appends and reads answer `unavailable` within the timeout, and a
/// burst beyond the queue is refused at once (memory stays bounded); nothing answered ok is missing afterwards and the log
/// stays gap-free; once the database is reachable again, the same store (no restart) appends again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_fail_promptly_during_an_outage_and_recover_after() {
    let schema = TestSchema::new();
    let proxy = Proxy::start("127.0.0.1:5432".parse().expect("addr")).await;
    let timeout = Duration::from_millis(1000);
    let mut settings = schema.settings();
    settings.url = format!("postgres://postgres@{}/test", proxy.addr);
    settings.timeout = timeout;
    settings.queue = 64;
    settings.batch = 64;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&settings, Arc::new(Recorder::default())).await.expect("open"));
    let ann = store.create_guest("ann", b"tok").await.expect("guest");
    let room = store.create_room("outage", RoomKind::Public, &ActorRef::from(&ann)).await.expect("room");
    let me = ActorRef::from(&ann);

    // One appender runs across the whole outage, as a connection would, and records what it was told.
    let acked = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let appender = {
        let (store, room, me, acked, running) = (store.clone(), room.clone(), me.clone(), acked.clone(), running.clone());
        tokio::spawn(async move {
            let (mut i, mut slowest) = (0, Duration::ZERO);
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                let started = Instant::now();
                if let Ok(a) = store.append(&room, me.clone(), message(i)).await {
                    acked.lock().push((format!("c{i}"), a.seq));
                }
                slowest = slowest.max(started.elapsed());
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            slowest
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!acked.lock().is_empty(), "appends succeed before the outage");

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let err = store.append(&room, me.clone(), message(100_000)).await.expect_err("append during the outage");
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(started.elapsed() <= 2 * timeout + Duration::from_millis(500), "answered in {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(store.top_seq(room.id).await.expect_err("read during the outage").code, ErrorCode::Unavailable);
    assert!(started.elapsed() <= timeout + Duration::from_millis(500), "read answered in {:?}", started.elapsed());

    // A burst far beyond the queue: what does not fit is refused at once, the rest within the timeout.
    let started = Instant::now();
    let burst: Vec<_> = (0..500)
        .map(|i| {
            let pending = store.append(&room, me.clone(), message(200_000 + i));
            tokio::spawn(async move { (pending.await, started.elapsed()) })
        })
        .collect();
    let mut refused_at_once = 0;
    for task in burst {
        let (outcome, took) = task.await.expect("burst task");
        assert_eq!(outcome.expect_err("append during the outage").code, ErrorCode::Unavailable);
        refused_at_once += usize::from(took < timeout / 2);
    }
    assert!(started.elapsed() <= 2 * timeout + Duration::from_millis(500), "burst answered in {:?}", started.elapsed());
    // What waits is bounded by the queue plus the batch the writer holds.
    assert!(500 - refused_at_once <= 64 + 64, "{} of the burst waited", 500 - refused_at_once);

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    let recovered = loop {
        match store.append(&room, me.clone(), message(300_000)).await {
            Ok(a) => break a,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.code, ErrorCode::Unavailable);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no recovery within 10 s: {e}"),
        }
    };
    acked.lock().push(("c300000".into(), recovered.seq));
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let slowest = appender.await.expect("appender");
    assert!(slowest <= 2 * timeout + Duration::from_millis(500), "an append took {slowest:?}");

    let log = store.events(room.id, EventRange::After(0), 100_000).await.expect("events after recovery");
    let seqs: Vec<i64> = log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=log.len() as i64).collect::<Vec<_>>(), "the log is gap-free");
    let stored: std::collections::HashMap<i64, Option<String>> = log
        .iter()
        .map(|e| match &e.body {
            confab_core::EventBody::Message { message } => (e.seq, message.client_id.clone()),
            _ => (e.seq, None),
        })
        .collect();
    let acked = acked.lock().clone();
    assert!(acked.len() > 2);
    for (client_id, seq) in &acked {
        assert_eq!(stored.get(seq), Some(&Some(client_id.clone())), "acknowledged {client_id} at {seq} is stored");
    }
    assert!(log.len() >= acked.len());
}

//! The Redis stash against the real Redis, through the `Stash` contract: what one node puts another
//! takes, once, and nothing outlives its time to live.

mod support;

use std::sync::Arc;
use std::time::Duration;

use confab_bus_redis::RedisStash;
use confab_core::stash::{Stash, Taken};
use support::*;

/// A record put by one node is taken by another, exactly once even when several ask at the same
/// moment, and a record past its time to live is gone.
#[tokio::test]
async fn a_record_is_taken_once_by_any_node_and_expires() {
    let p = prefix();
    let a = RedisStash::connect(&settings(&p, "a")).await.unwrap();
    let nodes: Vec<Arc<RedisStash>> = {
        let mut v = Vec::new();
        for n in ["b", "c", "d"] {
            v.push(Arc::new(RedisStash::connect(&settings(&p, n)).await.unwrap()));
        }
        v
    };
    assert!(a.put("pid-1", "s1", b"record".to_vec(), Duration::from_secs(30)).await.unwrap());
    let takes = nodes.iter().map(|s| {
        let s = Arc::clone(s);
        tokio::spawn(async move { s.take("pid-1").await.unwrap() })
    });
    let mut got = Vec::new();
    for t in takes {
        if let Taken::Record(r) = t.await.unwrap() {
            got.push(r);
        }
    }
    assert_eq!(got, vec![b"record".to_vec()], "one node gets it, the others nothing");
    assert_eq!(a.take("pid-1").await.unwrap(), Taken::Nothing, "taken once");

    a.put("pid-2", "s2", b"short".to_vec(), Duration::from_millis(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(nodes[0].take("pid-2").await.unwrap(), Taken::Nothing, "expired");

    assert!(a.hold("pid-3", "s3", b"old".to_vec(), Duration::from_secs(30)).await.unwrap());
    assert!(a.put("pid-3", "s3", b"new".to_vec(), Duration::from_secs(30)).await.unwrap());
    assert_eq!(nodes[1].take("pid-3").await.unwrap(), Taken::Record(b"new".to_vec()), "the holder's final record replaces");
}

/// A record held by a running process is not taken by any node, and no other holder writes over it;
/// once that process is gone (its stash dropped: its Redis connections close, as a killed process's
/// do), another node takes it at once, without waiting for its expiry.
#[tokio::test]
async fn a_held_record_is_taken_only_once_its_process_is_gone() {
    let p = prefix();
    let a = RedisStash::connect(&settings(&p, "a")).await.unwrap();
    let b = RedisStash::connect(&settings(&p, "b")).await.unwrap();
    let minute = Duration::from_secs(60);
    assert!(a.hold("pid", "sa", b"live".to_vec(), minute).await.unwrap());
    assert!(a.hold("pid", "sa", b"rewritten".to_vec(), minute).await.unwrap(), "its holder rewrites it");
    assert_eq!(b.take("pid").await.unwrap(), Taken::Held, "its process runs");
    assert_eq!(a.take("pid").await.unwrap(), Taken::Held, "not even its own process takes a live session's record");
    assert!(!b.hold("pid", "sa", b"other".to_vec(), minute).await.unwrap(), "the same name in another process is another holder");
    assert!(!b.put("pid", "sb", b"other".to_vec(), minute).await.unwrap());
    b.release("pid", "sb").await.unwrap();
    assert_eq!(b.take("pid").await.unwrap(), Taken::Held, "not released by another holder");

    // Renewing extends a short expiry.
    assert!(a.hold("short", "sa", b"x".to_vec(), Duration::from_millis(300)).await.unwrap());
    a.renew(&["short".to_string(), "missing".to_string()], minute).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(b.take("short").await.unwrap(), Taken::Held, "renewed");

    drop(a);
    let mut taken = Taken::Held;
    for _ in 0..50 {
        taken = b.take("pid").await.unwrap();
        if taken != Taken::Held {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(taken, Taken::Record(b"rewritten".to_vec()), "its process is gone: the latest record, taken");
    assert_eq!(b.take("pid").await.unwrap(), Taken::Nothing, "taken once");
    // The new holder writes freely now.
    assert!(b.hold("pid", "sb", b"mine".to_vec(), minute).await.unwrap());
    b.release("pid", "sb").await.unwrap();
    assert_eq!(b.take("pid").await.unwrap(), Taken::Nothing, "released");
}

/// Redis unreachable: `put` and `take` fail with `unavailable` instead of hanging, and work again
/// once it is back.
#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_hang() {
    let p = prefix();
    let proxy = Proxy::start().await;
    let mut at_proxy = settings(&p, "a");
    at_proxy.url = proxy.url();
    let s = RedisStash::connect(&at_proxy).await.unwrap();
    s.put("k", "h", b"v".to_vec(), Duration::from_secs(30)).await.unwrap();
    proxy.cut();
    let started = std::time::Instant::now();
    let err = s.take("k").await.expect_err("Redis is cut off");
    assert_eq!(err.code, confab_core::ErrorCode::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
    proxy.restore();
    let mut value = Taken::Nothing;
    for _ in 0..50 {
        if let Ok(v) = s.take("k").await {
            value = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(value, Taken::Record(b"v".to_vec()), "back, and the record kept in Redis meanwhile");
}

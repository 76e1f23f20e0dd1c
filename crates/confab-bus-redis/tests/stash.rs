//! The Redis stash against the real Redis, through the `Stash` contract: what one node puts another
//! takes, once, and nothing outlives its time to live.

mod support;

use std::sync::Arc;
use std::time::Duration;

use confab_bus_redis::RedisStash;
use confab_core::stash::Stash;
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
    a.put("pid-1", b"record".to_vec(), Duration::from_secs(30)).await.unwrap();
    let takes = nodes.iter().map(|s| {
        let s = Arc::clone(s);
        tokio::spawn(async move { s.take("pid-1").await.unwrap() })
    });
    let mut got = Vec::new();
    for t in takes {
        got.extend(t.await.unwrap());
    }
    assert_eq!(got, vec![b"record".to_vec()], "one node gets it, the others nothing");
    assert_eq!(a.take("pid-1").await.unwrap(), None, "taken once");

    a.put("pid-2", b"short".to_vec(), Duration::from_millis(100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(nodes[0].take("pid-2").await.unwrap(), None, "expired");

    a.put("pid-3", b"old".to_vec(), Duration::from_secs(30)).await.unwrap();
    a.put("pid-3", b"new".to_vec(), Duration::from_secs(30)).await.unwrap();
    assert_eq!(nodes[1].take("pid-3").await.unwrap(), Some(b"new".to_vec()), "a put replaces");
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
    s.put("k", b"v".to_vec(), Duration::from_secs(30)).await.unwrap();
    proxy.cut();
    let started = std::time::Instant::now();
    let err = s.take("k").await.expect_err("Redis is cut off");
    assert_eq!(err.code, confab_core::ErrorCode::Unavailable);
    assert!(started.elapsed() < Duration::from_secs(5), "bounded: {:?}", started.elapsed());
    proxy.restore();
    let mut value = None;
    for _ in 0..50 {
        if let Ok(v) = s.take("k").await {
            value = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(value, Some(b"v".to_vec()), "back, and the record kept in Redis meanwhile");
}

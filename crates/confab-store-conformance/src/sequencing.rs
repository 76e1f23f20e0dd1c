//! Sequence numbers and publication: gap-free per room, in call order, published after the commit
//! and before the append resolves, and one failing request failing alone.

use std::sync::Arc;

use confab_core::model::{ActorRef, Content};
use confab_core::store::NewEvent;
use confab_core::ErrorCode;

use crate::{fixture, guest_and_room, text, Backend};

/// Many concurrent appenders get gap-free sequence numbers, each caller's in its own order, and the
/// sink sees all of them in sequence order.
pub async fn concurrent_appends_are_gap_free_and_published_in_order<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (ann, room) = guest_and_room(f.store.as_ref(), "ann", "busy").await;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (store, room, me) = (Arc::clone(&f.store), room.clone(), ActorRef::from(&ann));
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..100 {
                let a = store.append(&room, me.clone(), text(&format!("{t}-{i}"))).await.expect("append");
                seqs.push(a.seq);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.expect("appender task");
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one caller's messages keep its order");
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=800).collect::<Vec<_>>());
    let published: Vec<i64> = f.sink.seqs().into_iter().map(|(_, s)| s).collect();
    assert_eq!(published, (1..=800).collect::<Vec<_>>(), "published once each, in commit order");
    assert_eq!(f.store.top_seq(room.id).await.expect("top_seq"), 800);
}

/// By the time an append resolves, its event has been handed to the sink; appends queued without
/// awaiting are sequenced in call order; a duplicate publishes nothing.
pub async fn events_are_published_before_the_append_resolves<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (ann, room) = guest_and_room(f.store.as_ref(), "ann", "pub").await;
    let me = ActorRef::from(&ann);
    for i in 1..=5 {
        let a = f.store.append(&room, me.clone(), text(&i.to_string())).await.expect("append");
        assert_eq!(f.sink.seqs().last().map(|(_, s)| *s), Some(a.seq), "published before it resolved");
    }
    // Queued in one go: sequenced in call order, whatever order they are awaited in.
    let pending: Vec<_> = (0..10).map(|i| f.store.append(&room, me.clone(), text(&format!("q{i}")))).collect();
    let mut seqs = Vec::new();
    for p in pending.into_iter().rev() {
        seqs.push(p.await.expect("append").seq);
    }
    seqs.reverse();
    assert_eq!(seqs, (6..=15).collect::<Vec<_>>(), "call order is sequence order");
    let first = f.store.append(&room, me.clone(), crate::text_with_id("c", "once")).await.expect("append");
    let before = f.sink.seqs().len();
    let again = f.store.append(&room, me.clone(), crate::text_with_id("c", "once")).await.expect("resend");
    assert!(again.duplicate && again.seq == first.seq);
    assert_eq!(f.sink.seqs().len(), before, "a duplicate publishes nothing");
    let events = f.sink.0.lock().clone();
    assert!(events.iter().all(|e| e.room == "pub" && e.room_id == room.id && e.actor == me));
}

/// A failing request queued between good ones fails alone, and consumes no sequence number.
pub async fn one_bad_request_does_not_fail_its_batch<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (ann, room) = guest_and_room(f.store.as_ref(), "ann", "r").await;
    let me = ActorRef::from(&ann);
    let a = f.store.append(&room, me.clone(), text("one"));
    let b = f.store.append(&room, me.clone(), NewEvent::Edit { message_id: 999_999, content: Content::default() });
    let c = f.store.append(&room, me.clone(), text("two"));
    let (a, b, c) = (a.await, b.await, c.await);
    assert_eq!(b.expect_err("edit of a missing message").code, ErrorCode::MessageNotFound);
    assert_eq!((a.expect("one").seq, c.expect("two").seq), (1, 2), "no sequence number was used by the failure");
    assert_eq!(f.sink.seqs().len(), 2);
}

/// A request the database itself refuses (a message by an actor it does not know breaks a foreign
/// key, which aborts the transaction) fails with `unavailable`, and the requests queued with it
/// still commit, gap-free.
pub async fn a_request_the_database_refuses_fails_alone<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (ann, room) = guest_and_room(f.store.as_ref(), "ann", "fk").await;
    let me = ActorRef::from(&ann);
    let ghost = ActorRef { id: confab_core::model::ActorId::from("g_nobody".to_string()), name: "ghost".into() };
    let a = f.store.append(&room, me.clone(), text("one"));
    let b = f.store.append(&room, ghost, text("from nobody"));
    let c = f.store.append(&room, me.clone(), text("two"));
    let (a, b, c) = (a.await, b.await, c.await);
    assert_eq!(b.expect_err("unknown author").code, ErrorCode::Unavailable);
    assert_eq!((a.expect("one").seq, c.expect("two").seq), (1, 2));
    assert_eq!(f.sink.seqs().len(), 2);
    let stored = f.store.events(room.id, confab_core::store::EventRange::After(0), 10).await.expect("events");
    assert!(stored.iter().all(|e| e.actor == me), "nothing of the refused request was stored");
}

/// A failure in a batch that spans rooms: every room's sequence stays gap-free, whichever room the
/// failure was in and whether that room was touched before it in the batch.
pub async fn a_failure_in_a_batch_of_several_rooms_leaves_no_gap<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let (ann, r1) = guest_and_room(f.store.as_ref(), "ann", "one").await;
    let me = ActorRef::from(&ann);
    let r2 = f.store.create_room("two", r1.kind, &me).await.expect("room two");
    let bad = || NewEvent::Delete { message_id: 12_345_678 };
    let s = &f.store;
    let pending = vec![
        s.append(&r1, me.clone(), text("1a")),
        s.append(&r2, me.clone(), bad()),
        s.append(&r1, me.clone(), bad()),
        s.append(&r2, me.clone(), text("2a")),
        s.append(&r1, me.clone(), text("1b")),
        s.append(&r2, me.clone(), text("2b")),
    ];
    let mut results = Vec::new();
    for p in pending {
        results.push(p.await.map(|a| a.seq).map_err(|e| e.code));
    }
    let missing = Err(ErrorCode::MessageNotFound);
    assert_eq!(results, vec![Ok(1), missing, missing, Ok(1), Ok(2), Ok(2)]);
    assert_eq!((s.top_seq(r1.id).await.expect("top"), s.top_seq(r2.id).await.expect("top")), (2, 2));
    let published = f.sink.seqs();
    assert_eq!(published, [("one", 1), ("two", 1), ("one", 2), ("two", 2)].map(|(r, q)| (r.to_string(), q)));
    assert_eq!(s.append(&r1, me.clone(), text("1c")).await.expect("next").seq, 3, "the next batch continues");
}

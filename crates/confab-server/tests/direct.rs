//! Direct conversations end to end, as people meet them: accounts registered over the API, real
//! WebSocket clients (Confab's protocol and Socket.IO) and raw HTTP against a running server, on
//! SQLite or, with `CONFAB_TEST_STORE=postgres`, PostgreSQL; one test runs two nodes on PostgreSQL
//! and Redis.

mod support;

use serde_json::{json, Value};
use support::accounts::{account, Account};
use support::cluster::{redis_addr, Cluster};
use support::{http, Client, Server, SioWs};

async fn signed_in(server: &Server, who: &Account) -> Client {
    Client::with_token(server, &who.token).await
}

fn bearer(who: &Account) -> String {
    format!("Bearer {}", who.token)
}

/// The next `direct_opened` notice, skipping lobby updates.
async fn direct_opened(c: &mut Client) -> Value {
    loop {
        let v = c.recv().await;
        match v["type"].as_str() {
            Some("direct_opened") => return v,
            Some("room_update") => continue,
            _ => panic!("expected direct_opened, got {v}"),
        }
    }
}

fn names(members: &Value) -> Vec<String> {
    members.as_array().expect("members").iter().map(|m| m["name"].as_str().unwrap_or_default().to_string()).collect()
}

/// Ann opens a conversation with Bob: it gets a name no person could give a room (`@…`, nothing of
/// theirs in it); Bob learns it live on both his connections (native `direct_opened`, Socket.IO
/// `direct_opened`); opening it again, from either side, gives the same room. Messages go both
/// ways live, on both protocols, and "my rooms" lists it with the other member and its top sequence.
#[tokio::test]
async fn two_people_talk_in_a_direct_room_on_both_protocols() {
    let server = Server::start(&[]);
    let (ann, bob) = (account(&server, "Ann").await, account(&server, "Bob").await);
    let mut a = signed_in(&server, &ann).await;
    let mut b = signed_in(&server, &bob).await;
    let mut b_sio = SioWs::connect(&server, Some(&bob.token)).await;

    // By username, in any letter case.
    let opened = a.ok("open_direct", json!({"with": ["BOB"]})).await;
    let room = opened["room"]["name"].as_str().expect("name").to_string();
    assert!(room.starts_with('@') && room.len() == 21, "{room}");
    assert!(!room.contains(&ann.id[2..]) && !room.contains(&bob.id[2..]) && !room.to_lowercase().contains("ann"));
    assert_eq!(opened["room"]["kind"], "direct");
    assert_eq!(names(&opened["room"]["members"]), ["Ann", "Bob"]);

    let notice = direct_opened(&mut b).await;
    assert_eq!(notice["room"], room.as_str());
    assert_eq!(names(&notice["members"]), ["Ann", "Bob"]);
    let sio_notice = b_sio.event("direct_opened").await;
    assert_eq!(sio_notice["room"], room.as_str());
    // The opener's connections are told too (its other tabs list the conversation at once).
    assert_eq!(direct_opened(&mut a).await["room"], room.as_str());

    let again = b.ok("open_direct", json!({"with": [ann.username]})).await;
    assert_eq!(again["room"]["name"], room.as_str(), "the same pair, the same room, from either side");
    let by_http = http(&server, "POST", "/api/direct", &[("Authorization", &bearer(&ann)), ("Content-Type", "application/json")],
        json!({"with": [bob.id, bob.id]}).to_string().as_bytes()).await;
    assert_eq!(by_http.status, 200, "{}", by_http.text());
    assert_eq!(by_http.json()["room"]["name"], room.as_str());
    b.quiet(300).await; // no second notice: it existed

    a.join(&room).await;
    b.join(&room).await;
    let joined = b_sio.call(1, "join_room", json!({"room": room})).await;
    assert_eq!(joined["ok"], true, "{joined}");
    a.say(&room, "hi Bob").await;
    assert_eq!(a.event_of("message").await["message"]["content"]["text"], "hi Bob", "her own, live");
    let got = b.event_of("message").await;
    assert_eq!((got["room"].as_str(), got["message"]["content"]["text"].as_str()), (Some(room.as_str()), Some("hi Bob")));
    let sio_got = b_sio.event("room_message").await;
    assert_eq!((sio_got["user"].as_str(), sio_got["message"].as_str()), (Some("Ann"), Some("hi Bob")));
    let sent = b_sio.call(2, "send_message", json!({"room": room, "message": "hello Ann", "message_id": "m1"})).await;
    assert_eq!(sent["ok"], true, "{sent}");
    let back = a.event_of("message").await;
    assert_eq!(back["message"]["content"]["text"], "hello Ann");
    let top = back["seq"].as_i64().expect("seq");

    let mine = b.ok("my_rooms", json!({})).await;
    let dm = mine["rooms"].as_array().expect("rooms").iter().find(|r| r["name"] == room.as_str()).expect("listed").clone();
    assert_eq!((dm["kind"].as_str(), dm["role"].as_str(), dm["top_seq"].as_i64()), (Some("direct"), Some("member"), Some(top)));
    assert_eq!(names(&dm["members"]), ["Ann"], "the others, not yourself");
    let over_http = http(&server, "GET", "/api/my/rooms", &[("Authorization", &bearer(&ann))], b"").await;
    assert_eq!(over_http.status, 200);
    let listed = over_http.json();
    let dm = listed["rooms"].as_array().expect("rooms").iter().find(|r| r["name"] == room.as_str()).expect("listed").clone();
    assert_eq!(names(&dm["members"]), ["Bob"]);
    let sio_mine = b_sio.call(3, "my_rooms", json!({})).await;
    assert!(sio_mine["rooms"].as_array().expect("rooms").iter().any(|r| r["name"] == room.as_str()), "{sio_mine}");
}

/// Someone outside a conversation learns nothing of it: it is in no list (native `rooms`,
/// `GET /api/rooms`, "my rooms"), and every way of asking about it (join, send, history over
/// `/ws` and HTTP, Socket.IO `join_room` and `check_room`) answers exactly as for a name no room
/// has. Guests never take part: they cannot open one, nor be named in one.
#[tokio::test]
async fn an_outsider_sees_nothing_of_a_direct_room() {
    let server = Server::start(&[]);
    let (ann, bob, eve) = (account(&server, "Ann").await, account(&server, "Bob").await, account(&server, "Eve").await);
    let mut a = signed_in(&server, &ann).await;
    let mut e = signed_in(&server, &eve).await;
    let mut e_sio = SioWs::connect(&server, Some(&eve.token)).await;
    e.ok("rooms", json!({"subscribe": true})).await;
    let room = a.ok("open_direct", json!({"with": [bob.id]})).await["room"]["name"].as_str().unwrap().to_string();
    a.join(&room).await;
    a.say(&room, "secret").await;
    let missing = "@abcdefghijkmnpqrstuv";
    // The lobby: the DM's join (a member count change) reached nobody; the public room made after it does.
    let public = support::room("hall");
    a.ok("create_room", json!({"room": public})).await;
    let update = loop {
        let v = e.recv().await;
        if v["type"] == "room_update" {
            break v;
        }
    };
    assert_eq!(update["room"]["name"], public.as_str(), "the first lobby update is the public room's: {update}");
    let names_sio = e_sio.event("update_rooms").await;
    assert!(names_sio.to_string().contains(&public) && !names_sio.to_string().contains(&room), "{names_sio}");

    let listed = e.ok("rooms", json!({})).await;
    assert!(!listed.to_string().contains(&room), "{listed}");
    let over_http = http(&server, "GET", "/api/rooms", &[], b"").await.text();
    assert!(!over_http.contains(&room), "{over_http}");
    let mine = e.ok("my_rooms", json!({})).await;
    assert_eq!(mine["rooms"], json!([]));

    for (kind, fields) in [
        ("join", json!({})),
        ("join", json!({"since": 0})),
        ("join", json!({"create": true})),
        ("send", json!({"text": "hi"})),
        ("history", json!({"before": 10})),
        ("leave", json!({})),
    ] {
        let of = |name: &str| {
            let mut f = fields.clone();
            f["room"] = Value::from(name);
            f
        };
        let real = e.refused(kind, of(&room), "room_not_found").await;
        let none = e.refused(kind, of(missing), "room_not_found").await;
        assert_eq!(
            real["message"].as_str().unwrap().replace(&room, "NAME"),
            none["message"].as_str().unwrap().replace(missing, "NAME"),
            "{kind}: the same answer as for no room"
        );
    }
    for name in [&room, missing] {
        let r = http(&server, "GET", &format!("/api/rooms/{name}/history"), &[("Authorization", &bearer(&eve))], b"").await;
        assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("room_not_found")));
    }
    let sio_join = e_sio.call(1, "join_room", json!({"room": room})).await;
    assert_eq!(sio_join["error"]["code"], "room_not_found", "{sio_join}");
    let real = e_sio.call(2, "check_room", json!(room)).await;
    let none = e_sio.call(3, "check_room", json!(missing)).await;
    assert_eq!(real["error"]["code"], none["error"]["code"], "check_room: {real} vs {none}");
    e.quiet(300).await;

    let mut guest = Client::guest(&server, "gus").await;
    guest.refused("open_direct", json!({"with": [ann.id]}), "forbidden").await;
    guest.refused("join", json!({"room": room}), "room_not_found").await;
    let gid = guest.id();
    a.refused("open_direct", json!({"with": [gid]}), "user_not_found").await;
    a.refused("open_direct", json!({"with": ["u_nobodyatallxxxxxxxx"]}), "user_not_found").await;
    a.refused("open_direct", json!({"with": ["nobody-here"]}), "user_not_found").await;
    a.refused("open_direct", json!({"with": ["gus"]}), "user_not_found").await; // a guest's display name is no username
    a.refused("open_direct", json!({"with": [ann.id]}), "bad_request").await;
    a.refused("open_direct", json!({"with": []}), "bad_request").await;
    let anonymous = http(&server, "POST", "/api/direct", &[("Content-Type", "application/json")], br#"{"with": ["x"]}"#).await;
    assert_eq!(anonymous.status, 401);
}

/// Small groups: three people share one conversation (the same room whoever opens it and in
/// whatever order they are named), all three see each message; one person more than
/// `--direct-max-members` is refused with `too_many_members`.
#[tokio::test]
async fn three_people_and_the_member_limit() {
    let server = Server::start(&["--direct-max-members", "3"]);
    let mut people = Vec::new();
    for name in ["Ann", "Bob", "Cat", "Dan"] {
        people.push(account(&server, name).await);
    }
    let ids: Vec<String> = people.iter().map(|p| p.id.clone()).collect();
    let mut a = signed_in(&server, &people[0]).await;
    let mut b = signed_in(&server, &people[1]).await;
    let mut c = signed_in(&server, &people[2]).await;
    let opened = a.ok("open_direct", json!({"with": [ids[1], ids[2]]})).await;
    let room = opened["room"]["name"].as_str().unwrap().to_string();
    assert_eq!(names(&opened["room"]["members"]), ["Ann", "Bob", "Cat"]);
    for who in [&mut a, &mut b, &mut c] {
        assert_eq!(direct_opened(who).await["room"], room.as_str());
    }
    let same = c.ok("open_direct", json!({"with": ["bob", ids[0]]})).await;
    assert_eq!(same["room"]["name"], room.as_str());
    let pair = a.ok("open_direct", json!({"with": [ids[1]]})).await;
    assert_ne!(pair["room"]["name"], room.as_str(), "a pair inside the group is another conversation");
    for who in [&mut a, &mut b] {
        assert_eq!(direct_opened(who).await["room"], pair["room"]["name"]);
    }
    c.quiet(300).await; // not Cat's conversation
    let refused = a.refused("open_direct", json!({"with": [ids[1], ids[2], ids[3]]}), "too_many_members").await;
    assert!(refused["message"].as_str().unwrap().contains('3'), "{refused}");

    for who in [&mut a, &mut b, &mut c] {
        who.join(&room).await;
    }
    b.say(&room, "lunch?").await;
    for who in [&mut a, &mut c] {
        assert_eq!(who.event_of("message").await["message"]["content"]["text"], "lunch?");
    }
    let mut d = signed_in(&server, &people[3]).await;
    d.refused("join", json!({"room": room}), "room_not_found").await;
}

/// A direct room resumes like any room: a member who drops off and comes back with `since` gets
/// exactly the events it missed, in order, then live ones; edits and deletes work as elsewhere.
#[tokio::test]
async fn resume_with_since_in_a_direct_room() {
    let server = Server::start(&[]);
    let (ann, bob) = (account(&server, "Ann").await, account(&server, "Bob").await);
    let mut a = signed_in(&server, &ann).await;
    let room = a.ok("open_direct", json!({"with": [bob.id]})).await["room"]["name"].as_str().unwrap().to_string();
    a.join(&room).await;
    let mut b = signed_in(&server, &bob).await;
    b.join(&room).await;
    let first = a.say(&room, "one").await;
    let seen = b.event_of("message").await["seq"].as_i64().unwrap();
    assert_eq!(Some(seen), first["seq"].as_i64());
    b.drop_connection();
    let two = a.say(&room, "two").await;
    let message_id = two["message_id"].clone();
    a.ok("edit", json!({"room": room, "message_id": message_id, "text": "two, edited"})).await;
    a.say(&room, "three").await;

    let mut b = signed_in(&server, &bob).await;
    let joined = b.ok("join", json!({"room": room, "since": seen})).await;
    assert_eq!(joined["complete"], true);
    let mut replay = Vec::new();
    for _ in 0..joined["replayed"].as_u64().unwrap() {
        replay.push(b.event().await);
    }
    let seqs: Vec<i64> = replay.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, ((seen + 1)..=joined["top_seq"].as_i64().unwrap()).collect::<Vec<_>>(), "gap-free, nothing twice");
    let texts: Vec<&str> = replay.iter().filter(|e| e["kind"] == "message").filter_map(|e| e["message"]["content"]["text"].as_str()).collect();
    assert_eq!(texts, ["two, edited", "three"], "history shows the edit applied");
    a.say(&room, "four").await;
    assert_eq!(b.event_of("message").await["message"]["content"]["text"], "four");
    let history = b.ok("history", json!({"room": room, "after": 0})).await;
    assert!(history["events"].as_array().unwrap().len() >= 5);
}

/// Two nodes sharing PostgreSQL and Redis: Ann (on one node) and Bob (on the other) open their
/// conversation at the same moment, several times over; every open answers the same room, there is
/// one direct room in "my rooms", and a third person opening one with Ann from the second node is
/// told to Ann live on the first node (`direct_opened` crosses the cluster).
#[tokio::test]
async fn concurrent_opens_on_two_nodes_give_one_room() {
    let cluster = Cluster::start(2, &redis_addr(), &[]);
    let (n0, n1) = (cluster.node(0), cluster.node(1));
    let (ann, bob, cat) = (account(n0, "Ann").await, account(n0, "Bob").await, account(n0, "Cat").await);
    let mut a = signed_in(n0, &ann).await;
    let mut b = signed_in(n1, &bob).await;
    let (ra, rb) = tokio::join!(
        a.request("open_direct", json!({"with": [bob.id]})),
        b.request("open_direct", json!({"with": [ann.id]})),
    );
    let (ra, rb) = (ra["room"]["name"].clone(), rb["room"]["name"].clone());
    assert!(ra.is_string(), "{ra}");
    assert_eq!(ra, rb, "one room for the pair, whichever node answered");
    let mut opens = Vec::new();
    for i in 0..6 {
        let (node, who, with) = if i % 2 == 0 { (n0, &ann, &bob) } else { (n1, &bob, &ann) };
        let (addr, auth, body) = (node.addr.clone(), bearer(who), json!({"with": [with.id]}).to_string());
        opens.push(tokio::spawn(async move {
            support::http_at(&addr, "POST", "/api/direct", &[("Authorization", &auth), ("Content-Type", "application/json")], body.as_bytes()).await
        }));
    }
    for open in opens {
        let r = open.await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["room"]["name"], ra);
    }
    let mine = a.ok("my_rooms", json!({})).await;
    let direct: Vec<&Value> = mine["rooms"].as_array().unwrap().iter().filter(|r| r["kind"] == "direct").collect();
    assert_eq!(direct.len(), 1, "{mine}");

    // Cat opens one with Ann from node 1 (Ann may first have been told of the pair, if Bob won).
    let mut c = signed_in(n1, &cat).await;
    let trio = c.ok("open_direct", json!({"with": [ann.id]})).await["room"]["name"].clone();
    let told = loop {
        let told = direct_opened(&mut a).await;
        if told["room"] != ra {
            break told;
        }
    };
    assert_eq!(told["room"], trio);
    assert_eq!(names(&told["members"]), ["Cat", "Ann"]);
    a.join(ra.as_str().unwrap()).await;
    b.join(ra.as_str().unwrap()).await;
    b.say(ra.as_str().unwrap(), "across nodes").await;
    assert_eq!(a.event_of("message").await["message"]["content"]["text"], "across nodes");
}

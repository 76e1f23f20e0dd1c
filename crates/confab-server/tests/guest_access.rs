//! `--guests off|public|on` end to end, on every way a guest comes in (`hello {name}` on `/ws`, a
//! Socket.IO `user` name, `POST /api/guest`) and on both protocols and HTTP: what a guest may list,
//! join and send, and the rooms it is kept out of (private rooms as if they did not exist, direct
//! conversations always). The gate's rules are in `confab_core::authz`.

mod support;

use serde_json::{json, Value};
use support::accounts::{account, call, code};
use support::{http, Client, Server, SioWs};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// An error's message with the room name it quotes taken out: a hidden room's answer and a missing
/// room's are then the same words.
fn unnamed(v: &Value, room: &str) -> String {
    v["message"].as_str().unwrap_or_default().replace(room, "ROOM")
}

/// The names in a room list (native `rooms` ack or `GET /api/rooms`).
fn listed(v: &Value) -> Vec<String> {
    v["rooms"].as_array().expect("rooms").iter().filter_map(|r| r["name"].as_str().map(str::to_string)).collect()
}

/// An account's public room and private room, and a guest of each way in under `--guests public`:
/// each lists and joins the public room and sends there (seen by the account); the private room is
/// not listed, and joining it, reading its history or sending to it answers `room_not_found` in
/// the words a missing room gets (once its owner adds the guest, `guests_not_allowed`); a guest
/// makes public rooms, not private ones; it cannot open a
/// direct conversation (`guests_not_allowed`) nor be named in one (`user_not_found`).
#[tokio::test]
async fn guests_public_keeps_guests_to_public_rooms_on_every_way_in() {
    let server = Server::start(&["--guests", "public", "--guests-per-minute-per-address", "0"]);
    assert_eq!(call(&server, "GET", "/api/server", None, None).await.json()["guests"], "public");
    let ann = account(&server, "Ann").await;
    let mut a = Client::with_token(&server, &ann.token).await;
    let (plaza, vault, missing) = (support::room("plaza"), support::room("vault"), support::room("nowhere"));
    a.ok("create_room", json!({"room": plaza})).await;
    a.ok("create_room", json!({"room": vault, "private": true})).await;
    a.join(&plaza).await;

    // hello {name} on /ws.
    let mut g = Client::guest(&server, "gus").await;
    assert!(g.id().starts_with("g_"), "{}", g.user);
    let rooms = listed(&g.ok("rooms", json!({"subscribe": false})).await);
    assert!(rooms.contains(&plaza) && !rooms.contains(&vault), "{rooms:?}");
    g.join(&plaza).await;
    g.say(&plaza, "hello from gus").await;
    let seen = loop {
        let m = a.event_of("message").await;
        if m["actor"]["id"] == g.id().as_str() {
            break m;
        }
    };
    assert_eq!(seen["message"]["content"]["text"], "hello from gus");
    for (kind, fields) in [
        ("join", json!({"room": vault})),
        ("history", json!({"room": vault, "after": 0})),
        ("send", json!({"room": vault, "text": "let me in"})),
    ] {
        let hidden = g.refused(kind, fields.clone(), "room_not_found").await;
        let mut absent_fields = fields;
        absent_fields["room"] = json!(missing);
        let absent = g.refused(kind, absent_fields, "room_not_found").await;
        assert_eq!(unnamed(&hidden, &vault), unnamed(&absent, &missing), "{kind}: a hidden room answers as a missing one");
    }
    // Added by its owner, a guest knows the private room, and is told why it stays out.
    a.ok("add_member", json!({"room": vault, "actor": g.id()})).await;
    g.refused("join", json!({"room": vault}), "guests_not_allowed").await;
    g.refused("create_room", json!({"room": support::room("den"), "private": true}), "guests_not_allowed").await;
    g.ok("create_room", json!({"room": support::room("porch")})).await;
    g.refused("open_direct", json!({"with": [ann.username]}), "guests_not_allowed").await;
    a.refused("open_direct", json!({"with": [g.id()]}), "user_not_found").await;

    // A Socket.IO `user` name.
    let mut sio = SioWs::connect(&server, None).await;
    let joined = sio.call(1, "join_room", json!({"room": plaza, "user": "sam"})).await;
    assert_eq!(joined["ok"], true, "{joined}");
    let sent = sio.call(2, "send_message", json!({"room": plaza, "message": "hello from sam"})).await;
    assert_eq!(sent["ok"], true, "{sent}");
    let hidden = sio.call(3, "join_room", json!({"room": vault})).await;
    let absent = sio.call(4, "join_room", json!({"room": missing})).await;
    assert_eq!((hidden["ok"].clone(), hidden["error"]["code"].clone()), (json!(false), json!("room_not_found")), "{hidden}");
    assert_eq!(
        hidden["error"]["message"].as_str().unwrap_or_default().replace(&vault, "ROOM"),
        absent["error"]["message"].as_str().unwrap_or_default().replace(&missing, "ROOM")
    );
    let dm = sio.call(5, "open_direct", json!({"with": [ann.username]})).await;
    assert_eq!(dm["error"]["code"], "guests_not_allowed", "{dm}");

    // POST /api/guest, then HTTP and /ws with its token.
    let r = support::post_guest(&server, br#"{"name": "pat"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let pat = r.json()["token"].as_str().expect("token").to_string();
    let rooms = http(&server, "GET", "/api/rooms", &[("Authorization", &bearer(&pat))], b"").await;
    let rooms = listed(&rooms.json());
    assert!(rooms.contains(&plaza) && !rooms.contains(&vault), "{rooms:?}");
    let history = |room: &str| format!("/api/rooms/{room}/history");
    assert_eq!(http(&server, "GET", &history(&plaza), &[("Authorization", &bearer(&pat))], b"").await.status, 200);
    let hidden = http(&server, "GET", &history(&vault), &[("Authorization", &bearer(&pat))], b"").await;
    let absent = http(&server, "GET", &history(&missing), &[("Authorization", &bearer(&pat))], b"").await;
    assert_eq!((hidden.status, code(&hidden)), (404, "room_not_found".to_string()));
    assert_eq!(hidden.text().replace(&vault, "ROOM"), absent.text().replace(&missing, "ROOM"));
    let headers = [("Authorization", bearer(&pat)), ("Content-Type", "application/json".to_string())];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dm = http(&server, "POST", "/api/direct", &headers, json!({"with": [ann.username]}).to_string().as_bytes()).await;
    assert_eq!((dm.status, code(&dm)), (403, "guests_not_allowed".to_string()), "{}", dm.text());
    let mut p = Client::with_token(&server, &pat).await;
    p.join(&plaza).await;
    p.say(&plaza, "hello from pat").await;
    p.refused("join", json!({"room": vault}), "room_not_found").await;

    let history = a.ok("history", json!({"room": plaza, "after": 0})).await;
    let texts: Vec<&str> = history["events"].as_array().unwrap().iter().filter_map(|e| e["message"]["content"]["text"].as_str()).collect();
    assert_eq!(texts, ["hello from gus", "hello from sam", "hello from pat"]);
}

/// `--guests off`: every anonymous way in is refused with `guests_not_allowed` (`POST /api/guest`,
/// `hello {name}`, an anonymous Socket.IO CONNECT on WebSocket and on polling, so a `user` name is
/// never reached), the room list is for accounts only (`unauthenticated`), and an account uses
/// both protocols, and after a restart still finds the rooms in the Socket.IO lobby.
#[tokio::test]
async fn guests_off_refuses_every_anonymous_way_in() {
    let server = Server::start(&["--guests", "off"]);
    let r = support::post_guest(&server, br#"{"name": "gus"}"#).await;
    assert_eq!((r.status, code(&r)), (403, "guests_not_allowed".to_string()));
    let mut anon = Client::connect_raw(&server).await;
    anon.refused("hello", json!({"name": "gus"}), "guests_not_allowed").await;
    let mut sio = SioWs::open(&server).await;
    sio.send("40").await;
    let refused = sio.recv().await;
    let refused: Value = serde_json::from_str(refused.strip_prefix("44").unwrap_or_else(|| panic!("CONNECT_ERROR: {refused}"))).unwrap();
    assert_eq!(refused["data"]["code"], "guests_not_allowed", "{refused}");
    let (sid, _) = support::eio_open(&server).await;
    assert_eq!(support::eio_post(&server, &sid, "40").await.status, 200);
    let packets = support::eio_poll_until(&server, &sid, |p| p.starts_with("44")).await;
    assert!(packets.iter().any(|p| p.starts_with("44") && p.contains("guests_not_allowed")), "{packets:?}");
    let rooms = http(&server, "GET", "/api/rooms", &[], b"").await;
    assert_eq!((rooms.status, code(&rooms)), (401, "unauthenticated".to_string()), "nobody anonymous lists rooms: {}", rooms.text());

    let ann = account(&server, "Ann").await;
    let room = support::room("members");
    let mut a = Client::with_token(&server, &ann.token).await;
    a.ok("join", json!({"room": room, "create": true})).await;
    let mut a_sio = SioWs::connect(&server, Some(&ann.token)).await;
    assert_eq!(a_sio.call(1, "join_room", json!({"room": room})).await["ok"], true);
    a.close().await;
    drop(a_sio);

    // After a restart the lobby still knows the rooms (it is not the anonymous list, empty here).
    let server = server.restart();
    let mut a_sio = SioWs::connect(&server, Some(&ann.token)).await;
    let later = support::room("later");
    a_sio.send(&format!("42{}", json!(["create_room", later]))).await;
    let names = a_sio.event("update_rooms").await;
    assert!(names.as_array().is_some_and(|n| n.contains(&json!(room)) && n.contains(&json!(later))), "{names}");
}

/// `--guests on` (the default): guests of every way in join public rooms and the private rooms
/// they were added to, and send there; direct conversations stay for accounts only.
#[tokio::test]
async fn guests_on_lets_guests_into_public_and_their_private_rooms() {
    let server = Server::start(&["--guests-per-minute-per-address", "0"]);
    assert_eq!(call(&server, "GET", "/api/server", None, None).await.json()["guests"], "on");
    let ann = account(&server, "Ann").await;
    let mut a = Client::with_token(&server, &ann.token).await;
    let (plaza, vault) = (support::room("plaza"), support::room("vault"));
    a.ok("create_room", json!({"room": plaza})).await;
    a.ok("create_room", json!({"room": vault, "private": true})).await;

    let mut g = Client::guest(&server, "gus").await;
    g.join(&plaza).await;
    g.refused("join", json!({"room": vault}), "room_not_found").await;
    a.ok("add_member", json!({"room": vault, "actor": g.id()})).await;
    g.join(&vault).await;
    g.say(&vault, "in the vault").await;
    g.ok("create_room", json!({"room": support::room("den"), "private": true})).await;
    g.refused("open_direct", json!({"with": [ann.username]}), "guests_not_allowed").await;

    let mut sio = SioWs::connect(&server, None).await;
    assert_eq!(sio.call(1, "join_room", json!({"room": plaza, "user": "sam"})).await["ok"], true);
    assert_eq!(sio.call(2, "send_message", json!({"room": plaza, "message": "hi"})).await["ok"], true);
    let r = support::post_guest(&server, br#"{"name": "pat"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let mut p = Client::with_token(&server, r.json()["token"].as_str().unwrap()).await;
    p.join(&plaza).await;

    let history = a.ok("history", json!({"room": vault, "after": 0})).await;
    assert!(history["events"].as_array().unwrap().iter().any(|e| e["message"]["content"]["text"] == "in the vault"), "{history}");
}

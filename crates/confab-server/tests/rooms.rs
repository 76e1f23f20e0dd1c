//! Private rooms, invites, roles and moderation, as people meet them: real `confab` processes, native
//! WebSocket clients, raw Socket.IO clients and plain HTTP. `CONFAB_TEST_STORE=postgres` runs the same
//! tests on PostgreSQL; the cluster test runs two nodes on PostgreSQL and Redis.

mod support;

use serde_json::{json, Value};
use support::cluster::{redis_addr, Cluster};
use support::{http, Client, Server, SioWs};

const FAST: &[&str] = &["--requests-per-second", "0"];

/// An HTTP request with a session token, and the JSON answer with its status.
async fn api(server: &Server, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let r = http(server, method, path, &[("Authorization", &auth), ("Content-Type", "application/json")], &body).await;
    let json = if r.body.is_empty() { Value::Null } else { r.json() };
    (r.status, json)
}

fn names(rooms: &Value) -> Vec<String> {
    rooms.as_array().expect("rooms").iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

/// Socket.IO: the next `room_message` from "System" whose text contains `part`.
async fn system_notice(sio: &mut SioWs, part: &str) -> String {
    loop {
        let m = sio.event("room_message").await;
        if m["user"] == "System" && m["message"].as_str().is_some_and(|t| t.contains(part)) {
            return m["message"].as_str().unwrap().to_string();
        }
    }
}

/// A private room does not exist for anyone outside it: not in any list (native `rooms`, HTTP, the
/// lobby's live notices, Socket.IO `update_rooms`), and every request about it (join, history, send,
/// members, invite, HTTP history and members, Socket.IO `join_room`) answers exactly what a room that
/// does not exist answers, same code and same message.
#[tokio::test]
async fn a_private_room_is_invisible_to_non_members_everywhere() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    let mut bob = Client::guest(&server, "bob").await;
    bob.ok("rooms", json!({"subscribe": true})).await;
    let mut sio = SioWs::connect(&server, Some(&bob.token())).await;

    let made = ann.ok("create_room", json!({"room": "Secret", "private": true})).await;
    assert_eq!(made["room"]["kind"], "private");
    ann.ok("create_room", json!({"room": "open"})).await;
    // The public room's creation reaches the lobby; the private one's never does.
    let listed = sio.event("update_rooms").await;
    assert_eq!(listed, json!(["open"]), "Socket.IO update_rooms lists only the public room");
    loop {
        let v = bob.recv().await;
        assert_eq!(v["type"], "room_update", "{v}");
        assert_ne!(v["room"]["name"], "Secret", "a private room's change reached a non-member: {v}");
        if v["room"]["name"] == "open" {
            break;
        }
    }
    ann.join("Secret").await;
    ann.say("Secret", "for members only").await;
    bob.quiet(300).await;

    assert_eq!(names(&ann.ok("rooms", json!({"subscribe": false})).await["rooms"]), ["open", "Secret"]);
    assert_eq!(names(&bob.ok("rooms", json!({"subscribe": false})).await["rooms"]), ["open"]);
    let (status, listed) = api(&server, "GET", "/api/rooms", &bob.token(), Value::Null).await;
    assert_eq!((status, names(&listed["rooms"])), (200, vec!["open".to_string()]));
    let anonymous = http(&server, "GET", "/api/rooms", &[], b"").await;
    assert_eq!(names(&anonymous.json()["rooms"]), ["open"]);
    let (_, listed) = api(&server, "GET", "/api/rooms", &ann.token(), Value::Null).await;
    assert_eq!(names(&listed["rooms"]), ["open", "Secret"], "members see their private rooms");

    // Every question about it, asked of the private room and of a name that does not exist.
    for (private, missing) in [("Secret", "Nothing"), ("secret", "nothing")] {
        let asks = [
            ("join", json!({"room": private}), json!({"room": missing})),
            ("history", json!({"room": private, "after": 0}), json!({"room": missing, "after": 0})),
            ("send", json!({"room": private, "text": "hi"}), json!({"room": missing, "text": "hi"})),
            ("members", json!({"room": private}), json!({"room": missing})),
            ("invite", json!({"room": private}), json!({"room": missing})),
            ("leave", json!({"room": private}), json!({"room": missing})),
            ("bans", json!({"room": private}), json!({"room": missing})),
        ];
        for (kind, p, m) in asks {
            let hidden = bob.refused(kind, p, "room_not_found").await;
            let absent = bob.refused(kind, m, "room_not_found").await;
            let same = |v: &Value| v["message"].as_str().unwrap().replace(private, "X").replace(missing, "X");
            assert_eq!(same(&hidden), same(&absent), "{kind}: the private room answers like a missing one");
        }
    }
    for path in ["/api/rooms/Secret/history", "/api/rooms/Secret/members", "/api/rooms/Secret/bans"] {
        let (status, hidden) = api(&server, "GET", path, &bob.token(), Value::Null).await;
        let (_, absent) = api(&server, "GET", &path.replace("Secret", "Nothing"), &bob.token(), Value::Null).await;
        assert_eq!(status, 404, "{path}: {hidden}");
        assert_eq!(hidden["error"]["code"], "room_not_found");
        assert_eq!(hidden["error"]["message"].as_str().unwrap().replace("Secret", "X"), absent["error"]["message"].as_str().unwrap().replace("Nothing", "X"));
    }
    let hidden = sio.call(1, "join_room", json!({"room": "Secret"})).await;
    let absent = sio.call(2, "join_room", json!({"room": "Nothing"})).await;
    assert_eq!(hidden["error"]["code"], "room_not_found", "{hidden}");
    assert_eq!(hidden["error"]["message"].as_str().unwrap().replace("Secret", "X"), absent["error"]["message"].as_str().unwrap().replace("Nothing", "X"));
    // A public room one has not joined still says so: its existence is no secret.
    bob.refused("send", json!({"room": "open", "text": "hi"}), "not_joined").await;
}

/// An invite lets people in while it has uses and time left: a code shown once, accepted over the
/// native protocol and over HTTP, each acceptance an `added` event members see; a used-up, expired or
/// made-up code answers one error, `invite_invalid`, with one message.
#[tokio::test]
async fn an_invite_lets_people_in_until_used_up_or_expired() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "club", "private": true})).await;
    ann.join("club").await;
    let invite = ann.ok("invite", json!({"room": "club", "max_uses": 2})).await;
    let code = invite["code"].as_str().unwrap().to_string();
    assert_eq!(invite["url"], format!("/invite/{code}"));
    assert_eq!(invite["max_uses"], 2);
    assert!(invite["expires_at"].as_i64().unwrap() > 0);

    let mut bob = Client::guest(&server, "bob").await;
    let accepted = bob.ok("accept_invite", json!({"code": code})).await;
    assert_eq!(accepted["room"]["name"], "club");
    let added = ann.event_of("added").await;
    assert_eq!((added["target"]["id"].as_str(), added["actor"]["id"].as_str()), (Some(bob.id().as_str()), Some(bob.id().as_str())));
    bob.join("club").await;
    assert!(names(&bob.ok("rooms", json!({"subscribe": false})).await["rooms"]).contains(&"club".to_string()));

    let cat = Client::guest(&server, "cat").await;
    let (status, body) = api(&server, "POST", &format!("/api/invites/{code}/accept"), &cat.token(), Value::Null).await;
    assert_eq!((status, body["room"]["name"].as_str()), (200, Some("club")), "{body}");
    let mut dan = Client::guest(&server, "dan").await;
    let used_up = dan.refused("accept_invite", json!({"code": code}), "invite_invalid").await;
    let made_up = dan.refused("accept_invite", json!({"code": "not-a-code"}), "invite_invalid").await;
    assert_eq!(used_up["message"], made_up["message"]);
    let (status, body) = api(&server, "POST", "/api/invites/not-a-code/accept", &dan.token(), Value::Null).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("invite_invalid")));

    let (status, short) = api(&server, "POST", "/api/rooms/club/invites", &ann.token(), json!({"expires_in_secs": 1})).await;
    assert_eq!(status, 201, "{short}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let expired = dan.refused("accept_invite", json!({"code": short["code"]}), "invite_invalid").await;
    assert_eq!(expired["message"], made_up["message"]);
    dan.refused("join", json!({"room": "club"}), "room_not_found").await;

    // Members list: roles, and who is live.
    let members = bob.ok("members", json!({"room": "club"})).await["members"].clone();
    let roles: Vec<(String, String, bool)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().into(), m["role"].as_str().unwrap().into(), m["online"].as_bool().unwrap()))
        .collect();
    assert_eq!(roles, [("ann".into(), "owner".into(), true), ("bob".into(), "member".into(), true), ("cat".into(), "member".into(), false)]);

    // Bounds, and who may invite.
    ann.refused("invite", json!({"room": "club", "max_uses": 0}), "bad_request").await;
    ann.refused("invite", json!({"room": "club", "expires_in_secs": 999_999_999u64}), "bad_request").await;
    bob.refused("invite", json!({"room": "club"}), "forbidden").await;
}

/// A ban takes the banned person out of the room at once on both protocols: their native connection
/// delivers the `ban` event and nothing of the room after it, their Socket.IO connection gets the
/// System notice and leaves the member list; they cannot join again, read history or send, and the
/// room is invisible to them. An unban does not let them back in: a private room needs a new invite.
#[tokio::test]
async fn a_ban_takes_the_member_out_at_once_on_both_protocols() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "den", "private": true})).await;
    ann.join("den").await;
    let mut bob = Client::guest(&server, "bob").await;
    let code = ann.ok("invite", json!({"room": "den"})).await["code"].clone();
    bob.ok("accept_invite", json!({"code": code})).await;
    bob.join("den").await;
    let mut sio = SioWs::connect(&server, Some(&bob.token())).await;
    assert_eq!(sio.call(1, "join_room", json!({"room": "den"})).await["ok"], true);
    let mut cat = Client::guest(&server, "cat").await;
    let code = ann.ok("invite", json!({"room": "den"})).await["code"].clone();
    cat.ok("accept_invite", json!({"code": code})).await;
    let mut cat_sio = SioWs::connect(&server, Some(&cat.token())).await;
    assert_eq!(cat_sio.call(1, "join_room", json!({"room": "den"})).await["ok"], true);

    ann.ok("ban", json!({"room": "den", "actor": bob.id()})).await;
    let ban = bob.event_of("ban").await;
    assert_eq!((ban["target"]["id"].as_str(), ban["actor"]["name"].as_str()), (Some(bob.id().as_str()), Some("ann")));
    assert!(system_notice(&mut sio, "banned bob").await.starts_with("ann banned bob"));
    // Members on Socket.IO see the notice and a member list without bob.
    system_notice(&mut cat_sio, "banned bob").await;
    loop {
        let users = cat_sio.event("update_users").await;
        if !users.as_array().unwrap().iter().any(|u| u == "bob") {
            break;
        }
    }
    ann.say("den", "after the ban").await;
    bob.quiet(300).await;
    bob.refused("send", json!({"room": "den", "text": "still here?"}), "room_not_found").await;
    bob.refused("join", json!({"room": "den"}), "room_not_found").await;
    bob.refused("history", json!({"room": "den", "after": 0}), "room_not_found").await;
    let again = sio.call(2, "join_room", json!({"room": "den"})).await;
    assert_eq!(again["error"]["code"], "room_not_found", "{again}");
    let bans = ann.ok("bans", json!({"room": "den"})).await;
    assert_eq!(bans["bans"][0]["id"].as_str(), Some(bob.id().as_str()));
    let members = ann.ok("members", json!({"room": "den"})).await["members"].clone();
    assert!(!members.as_array().unwrap().iter().any(|m| m["id"] == bob.id().as_str()), "{members}");
    ann.refused("ban", json!({"room": "den", "actor": bob.id()}), "bad_target").await;

    // Banned people stay out even with an invite; an unban alone does not bring them back.
    let code = ann.ok("invite", json!({"room": "den"})).await["code"].clone();
    bob.refused("accept_invite", json!({"code": code}), "forbidden").await;
    ann.ok("unban", json!({"room": "den", "actor": bob.id()})).await;
    bob.refused("join", json!({"room": "den"}), "room_not_found").await;
    let code = ann.ok("invite", json!({"room": "den"})).await["code"].clone();
    bob.ok("accept_invite", json!({"code": code})).await;
    bob.join("den").await;
}

/// A kick from a public room takes the connection out of the room now; the person may join again.
/// A kick from a private room ends the membership: a new invite is needed.
#[tokio::test]
async fn a_kick_takes_the_connection_out_and_only_a_public_room_lets_it_back() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    ann.ok("create_room", json!({"room": "square"})).await;
    ann.join("square").await;
    let mut bob = Client::guest(&server, "bob").await;
    bob.join("square").await;
    ann.ok("kick", json!({"room": "square", "actor": bob.id()})).await;
    assert_eq!(bob.event_of("kick").await["target"]["id"].as_str(), Some(bob.id().as_str()));
    ann.say("square", "after the kick").await;
    bob.quiet(300).await;
    bob.refused("send", json!({"room": "square", "text": "hi"}), "not_joined").await;
    bob.join("square").await;
    bob.say("square", "back").await;

    ann.ok("create_room", json!({"room": "nook", "private": true})).await;
    let code = ann.ok("invite", json!({"room": "nook"})).await["code"].clone();
    bob.ok("accept_invite", json!({"code": code})).await;
    bob.join("nook").await;
    let (status, body) = api(&server, "POST", "/api/rooms/nook/kick", &ann.token(), json!({"actor_id": bob.id()})).await;
    assert_eq!(status, 200, "{body}");
    bob.event_of("kick").await;
    bob.refused("join", json!({"room": "nook"}), "room_not_found").await;
    bob.refused("kick", json!({"room": "square", "actor": ann.id()}), "forbidden").await;
}

/// The next frame that is not a lobby update.
async fn next_notice(c: &mut Client) -> Value {
    loop {
        let v = c.recv().await;
        if v["type"] != "room_update" {
            return v;
        }
    }
}

/// Someone added to a private room learns it live, before joining it: `added_to_room {room, by}` on
/// each of their connections (native and Socket.IO), and nothing reaches anyone else; accepting an
/// invite on one connection tells the acceptor's other connections.
#[tokio::test]
async fn an_added_person_is_told_on_each_connection_and_nobody_else_is() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    let (status, _) = api(&server, "POST", "/api/rooms", &ann.token(), json!({"name": "hideout", "private": true})).await;
    assert_eq!(status, 201);
    ann.join("hideout").await;
    let mut bob = Client::guest(&server, "bob").await;
    let mut bob_sio = SioWs::connect(&server, Some(&bob.token())).await;
    let mut cat = Client::guest(&server, "cat").await;
    let mut cat_phone = Client::with_token(&server, &cat.token()).await;

    let (status, body) = api(&server, "POST", "/api/rooms/hideout/members", &ann.token(), json!({"actor_id": bob.id()})).await;
    assert_eq!(status, 200, "{body}");
    let notice = next_notice(&mut bob).await;
    assert_eq!((notice["type"].as_str(), notice["room"].as_str()), (Some("added_to_room"), Some("hideout")), "{notice}");
    assert_eq!((notice["by"]["id"].as_str(), notice["by"]["name"].as_str()), (Some(ann.id().as_str()), Some("ann")));
    let sio = bob_sio.event("added_to_room").await;
    assert_eq!((sio["room"].as_str(), sio["by"]["name"].as_str()), (Some("hideout"), Some("ann")));
    cat.quiet(300).await;
    cat_phone.quiet(0).await;
    // Told, bob joins it like any room.
    bob.join("hideout").await;

    let code = ann.ok("invite", json!({"room": "hideout"})).await["code"].clone();
    cat.ok("accept_invite", json!({"code": code})).await;
    let notice = next_notice(&mut cat_phone).await;
    assert_eq!((notice["type"].as_str(), notice["room"].as_str(), notice["by"]["name"].as_str()), (Some("added_to_room"), Some("hideout"), Some("cat")));
    bob.event_of("added").await;
    bob.quiet(300).await; // the `added` event, and no notice: he was not added again
}

/// Roles: the owner appoints a moderator, who may invite, kick and ban members but not the owner or
/// other moderators, nor change roles; the owner hands ownership over and becomes a moderator. Each
/// change is a `role` event; the member list shows the roles. Over the native protocol and HTTP.
#[tokio::test]
async fn the_owner_appoints_moderators_and_hands_ownership_over() {
    let server = Server::start(FAST);
    let mut ann = Client::guest(&server, "ann").await;
    let (status, made) = api(&server, "POST", "/api/rooms", &ann.token(), json!({"name": "guild", "private": true})).await;
    assert_eq!((status, made["room"]["kind"].as_str()), (201, Some("private")), "{made}");
    ann.join("guild").await;
    let mut people = Vec::new();
    for name in ["bob", "cat", "dan"] {
        let c = Client::guest(&server, name).await;
        let (status, body) = api(&server, "POST", "/api/rooms/guild/members", &ann.token(), json!({"actor_id": c.id()})).await;
        assert_eq!(status, 200, "add {name}: {body}");
        people.push(c);
    }
    let [mut bob, cat, dan] = <[Client; 3]>::try_from(people).ok().unwrap();
    assert_eq!(ann.event_of("added").await["target"]["name"], "bob");
    ann.refused("add_member", json!({"room": "guild", "actor": bob.id()}), "bad_target").await;
    // Accounts are added by username (guests have none).
    let reg = http(&server, "POST", "/api/auth/register", &[("Content-Type", "application/json")], br#"{"username": "erin", "password": "correct horse battery"}"#).await;
    assert_eq!(reg.status, 200, "{}", reg.text());
    let erin = reg.json()["user"]["id"].as_str().unwrap().to_string();
    let added = ann.ok("add_member", json!({"room": "guild", "username": "Erin"})).await;
    assert!(added["seq"].as_i64().is_some());
    while ann.event_of("added").await["target"]["id"].as_str() != Some(erin.as_str()) {}
    ann.refused("add_member", json!({"room": "guild", "username": "nobody-here"}), "bad_target").await;
    let (status, body) = api(&server, "POST", "/api/rooms/guild/members", &ann.token(), json!({"username": "erin"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_target")), "already a member: {body}");
    ann.ok("kick", json!({"room": "guild", "actor": erin})).await;

    ann.ok("set_role", json!({"room": "guild", "actor": bob.id(), "role": "moderator"})).await;
    let role = ann.event_of("role").await;
    assert_eq!((role["target"]["name"].as_str(), role["role"].as_str()), (Some("bob"), Some("moderator")));
    let (status, _) = api(&server, "PUT", &format!("/api/rooms/guild/members/{}", cat.id()), &ann.token(), json!({"role": "moderator"})).await;
    assert_eq!(status, 200);

    // The moderator bob: invites and kicks a member, but not the owner or another moderator.
    bob.ok("invite", json!({"room": "guild"})).await;
    bob.ok("kick", json!({"room": "guild", "actor": dan.id()})).await;
    bob.refused("kick", json!({"room": "guild", "actor": ann.id()}), "forbidden").await;
    bob.refused("ban", json!({"room": "guild", "actor": cat.id()}), "forbidden").await;
    bob.refused("set_role", json!({"room": "guild", "actor": cat.id(), "role": "member"}), "forbidden").await;
    bob.refused("transfer", json!({"room": "guild", "actor": bob.id()}), "forbidden").await;
    ann.refused("set_role", json!({"room": "guild", "actor": bob.id(), "role": "owner"}), "bad_request").await;
    ann.refused("set_role", json!({"room": "guild", "actor": dan.id(), "role": "moderator"}), "bad_target").await;

    // Hand-over, over HTTP: bob owns the room, ann moderates it.
    let (status, body) = api(&server, "POST", "/api/rooms/guild/owner", &ann.token(), json!({"actor_id": bob.id()})).await;
    assert_eq!(status, 200, "{body}");
    let (_, members) = api(&server, "GET", "/api/rooms/guild/members", &bob.token(), Value::Null).await;
    let roles: Vec<(String, String)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().into(), m["role"].as_str().unwrap().into()))
        .collect();
    assert_eq!(roles, [("ann".into(), "moderator".into()), ("bob".into(), "owner".into()), ("cat".into(), "moderator".into())]);
    ann.refused("set_role", json!({"room": "guild", "actor": cat.id(), "role": "member"}), "forbidden").await;
    bob.ok("set_role", json!({"room": "guild", "actor": cat.id(), "role": "member"})).await;
    let (status, body) = api(&server, "POST", "/api/rooms/guild/kick", &ann.token(), json!({"actor_id": bob.id()})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "nobody kicks the owner");
    // Bans over HTTP, listed and lifted.
    let (status, _) = api(&server, "POST", "/api/rooms/guild/bans", &bob.token(), json!({"actor_id": cat.id()})).await;
    assert_eq!(status, 200);
    let (_, bans) = api(&server, "GET", "/api/rooms/guild/bans", &ann.token(), Value::Null).await;
    assert_eq!(bans["bans"][0]["name"], "cat", "{bans}");
    let (status, _) = api(&server, "DELETE", &format!("/api/rooms/guild/bans/{}", cat.id()), &ann.token(), Value::Null).await;
    assert_eq!(status, 200);
    let (_, bans) = api(&server, "GET", "/api/rooms/guild/bans", &ann.token(), Value::Null).await;
    assert_eq!(bans["bans"], json!([]));
}

/// A ban on one node takes the member's connection on another node out of the room: the ban is an
/// event in the room's log, and the connection on node B leaves as it delivers it. Two nodes on one
/// PostgreSQL schema and Redis.
#[tokio::test]
async fn a_ban_on_node_a_takes_the_member_out_on_node_b() {
    let cluster = Cluster::start(2, &redis_addr(), FAST);
    let (a, b) = (cluster.node(0), cluster.node(1));
    let mut ann = Client::guest(a, "ann").await;
    ann.ok("create_room", json!({"room": "vault", "private": true})).await;
    ann.join("vault").await;
    let mut bob = Client::guest(b, "bob").await;
    let code = ann.ok("invite", json!({"room": "vault"})).await["code"].clone();
    bob.ok("accept_invite", json!({"code": code})).await;
    bob.join("vault").await;
    let mut sio = SioWs::connect(b, Some(&bob.token())).await;
    assert_eq!(sio.call(1, "join_room", json!({"room": "vault"})).await["ok"], true);
    ann.say("vault", "hello bob").await;
    assert_eq!(bob.event_of("message").await["message"]["content"]["text"], "hello bob");

    ann.ok("ban", json!({"room": "vault", "actor": bob.id()})).await;
    assert_eq!(bob.event_of("ban").await["target"]["id"].as_str(), Some(bob.id().as_str()));
    system_notice(&mut sio, "banned bob").await;
    // bob's leave, announced by node B once its connections left, reaches ann on node A.
    let leave = ann.event_of("leave").await;
    assert_eq!(leave["actor"]["id"].as_str(), Some(bob.id().as_str()));
    ann.say("vault", "bob is gone").await;
    bob.quiet(300).await;
    bob.refused("join", json!({"room": "vault"}), "room_not_found").await;
}

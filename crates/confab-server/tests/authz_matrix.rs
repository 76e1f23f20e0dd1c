//! The authorization matrix against a running server: who (anonymous, guest, non-member, member,
//! author, moderator, owner, banned, administrator, an account's API token, webhook) × what (list,
//! read history, join, send, edit, delete, invite, kick, ban, change role, create webhook) × where
//! (public room, private room, direct conversation), each cell asked on the native protocol, on
//! Socket.IO where the action exists there, and over HTTP where it exists, and each answer checked
//! against [`RULES`], which reads as the policy. [`RULES`] is, cell for cell, the table of the core's
//! unit matrix (`confab_core::authz::tests::RULES`); a change to one is a change to the other.
//!
//! What a cell's actor has done before it asks: members, the author, moderators, the owner and (in a
//! public room, which it moderates) the administrator have joined the room on the connection that
//! asks (so `send`, `edit`, `delete` are asked from inside); the non-member, the banned person and the
//! administrator elsewhere have not (they cannot, or the non-member would become a member). Cells that
//! change something get fresh things to change: a new message for each delete, a new member to kick,
//! ban or promote, a new non-member for each cell.
//!
//! Anonymous clients: HTTP answers per the table; the sockets need an identity before anything
//! (`hello` on `/ws`, a `user` name or a token on Socket.IO), so there every cell is `unauthenticated`.
//! Socket.IO has no room list of its own (`update_rooms` lists public rooms only; tests/rooms.rs and
//! tests/socketio/ check that), nor history, invites, moderation or webhooks: those cells are asked on
//! the native protocol and HTTP. Webhooks are made over HTTP only.
//!
//! Webhooks: a webhook's only way in is its URL, `POST /hooks/{id}/{secret}`, which posts into its own
//! room (the send cell, over HTTP). Every other cell the table refuses a webhook is asked with the
//! webhook's secret as the credential (`hello {token}`, Socket.IO `auth.token`, `Authorization:
//! Bearer`), which is no session: `unauthenticated` (the gate, asked, would say `forbidden`). A cell
//! the table allowed a webhook would fail there. A webhook has no room list on any transport, and
//! sends only through its URL, so its list cells and its send cells on the sockets are not asked.
//!
//! Direct conversations: all their members are plain members (no owner, no moderators, no bans: the
//! ban row itself is refused there). Their owner column is asked by the member who opened the
//! conversation and their moderator column by another member, and the table gives them members'
//! answers; the banned column cannot arise and is not asked. The people are accounts (guests are
//! never in one: the guest column is a guest outside it), and a webhook of another room stands in
//! the webhook column, since no webhook belongs to a direct conversation.

mod support;

use serde_json::{json, Value};
use support::accounts::{account, admin_on, login, Account};
use support::{http, Client, Server, SioWs};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Guest,
    NonMember,
    Member,
    Author,
    Moderator,
    Owner,
    Banned,
    /// A server administrator (`confab admin create-admin`) who is not a member of the room.
    Admin,
    /// An account's API token (the account is a member): acts as the account.
    ApiToken,
    /// An incoming webhook of the room (of another room, for a direct conversation).
    Webhook,
}
use Who::*;
const COLUMNS: [Who; 11] = [Anonymous, Guest, NonMember, Member, Author, Moderator, Owner, Banned, Admin, ApiToken, Webhook];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    List,
    History,
    Join,
    Send,
    Edit,
    Delete,
    Invite,
    Kick,
    Ban,
    ChangeRole,
    CreateWebhook,
}

/// Where a cell is: the kind of room.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Public,
    Private,
    Direct,
}

/// A cell's expected answer: allowed, or refused with this error code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    Yes,
    No(&'static str),
}
use Want::*;
const HIDDEN: Want = No("room_not_found");
const FORBIDDEN: Want = No("forbidden");
const ANON: Want = No("unauthenticated");
const NOT_JOINED: Want = No("not_joined");

/// One room kind's answers, a column each.
type Row = [Want; 11];

/// One row per action: the public room's answers, the private room's, then the direct
/// conversation's, for each column in the order of [`COLUMNS`]: anonymous, guest (a guest member;
/// outside, for a direct conversation), non-member, member, author (of the message acted on),
/// moderator, owner, banned, administrator (not a member), API token (of an account that is a
/// member), webhook (of the room; of another room for a direct conversation). The target of kick,
/// ban and change role is a plain member; edit and delete act on the author's message.
const RULES: &[(Act, Row, Row, Row)] = include!("../../confab-core/src/authz_matrix.rs");

/// Where a cell is asked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    Native,
    SocketIo,
    Http,
}

/// One room and the people standing in it.
struct Place {
    kind: Kind,
    room: String,
    owner: Client,
    moderator: Client,
    member: Client,
    guest: Client,
    author: Client,
    /// Banned from the room (none in a direct conversation, which has no bans).
    banned: Option<Client>,
    /// An administrator, not a member: joined in a public room (it moderates those), not elsewhere.
    admin: Client,
    /// A member account acting through its API token.
    token: Client,
    /// The account outside a direct conversation that asks its non-member cells (elsewhere each
    /// cell gets a fresh guest, which joining would make a member).
    outsider: Option<Client>,
    /// The member that kick, ban and change role act on in a direct conversation (elsewhere, a new
    /// member each time).
    target: Option<String>,
    /// The webhook's URL path, `/hooks/{id}/{secret}` (of another room, for a direct conversation).
    hook: String,
}

impl Place {
    fn hook_secret(&self) -> &str {
        self.hook.rsplit('/').next().unwrap_or_default()
    }
}

async fn api(server: &Server, method: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
    let r = http(server, method, path, &headers, &body).await;
    let json = if r.body.is_empty() { Value::Null } else { r.json() };
    (r.status, json)
}

fn native_answer(v: &Value) -> Want {
    match v["type"].as_str() {
        Some("ack") => Yes,
        _ => No(leak(v["code"].as_str().unwrap_or("?"))),
    }
}

fn sio_answer(v: &Value) -> Want {
    if v["ok"] == true {
        Yes
    } else {
        No(leak(v["error"]["code"].as_str().unwrap_or("?")))
    }
}

fn http_answer(status: u16, v: &Value) -> Want {
    if (200..300).contains(&status) {
        Yes
    } else {
        No(leak(v["error"]["code"].as_str().unwrap_or("?")))
    }
}

/// Error codes as `&'static str` for comparison with the table (a test process, a few strings).
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn enc(s: &str) -> String {
    s.replace(' ', "%20")
}

/// A new member of the place's room (added by the owner), to be kicked, banned or promoted.
async fn new_member(server: &Server, place: &mut Place, name: &str) -> Client {
    let c = Client::guest(server, name).await;
    place.owner.ok("add_member", json!({"room": place.room, "actor": c.id()})).await;
    c
}

/// The id of a new message by the place's author.
async fn new_message(place: &mut Place) -> i64 {
    let ack = place.author.say(&place.room, "by the author").await;
    ack["message_id"].as_i64().expect("message id")
}

/// A new API token of the account behind `session`.
async fn api_token(server: &Server, session: &str) -> String {
    let (status, made) = api(server, "POST", "/api/account/tokens", Some(session), json!({"name": "matrix"})).await;
    assert_eq!(status, 201, "API token: {made}");
    made["secret"].as_str().expect("secret").to_string()
}

/// An account (registered over HTTP) with an API token, added to `room` by username and joined over
/// `/ws` with the token.
async fn api_token_member(server: &Server, owner: &mut Client, room: &str) -> Client {
    let username = format!("bot{}", rand::random_range(0..1_000_000_000u32));
    let body = json!({"username": username, "password": "correct horse battery"});
    let (status, reg) = api(server, "POST", "/api/auth/register", None, body).await;
    assert_eq!(status, 200, "register: {reg}");
    let secret = api_token(server, reg["token"].as_str().expect("session token")).await;
    owner.ok("add_member", json!({"room": room, "username": username})).await;
    let mut c = Client::with_token(server, &secret).await;
    assert!(c.id().starts_with("u_"), "the token acts as its account: {}", c.user);
    c.join(room).await;
    c
}

/// A webhook of `room` made by its owner; its URL path.
async fn new_webhook(server: &Server, owner: &Client, room: &str) -> String {
    let (status, made) = api(server, "POST", &format!("/api/rooms/{}/webhooks", enc(room)), Some(&owner.token()), json!({"name": "CI"})).await;
    assert_eq!(status, 200, "webhook: {made}");
    made["path"].as_str().expect("path").to_string()
}

/// The server's administrator (made once per server with `confab admin create-admin`): its session.
async fn admin_session(server: &Server) -> String {
    let (ok, out, err) = admin_on(server, &["create-admin", "Boss"], "correct horse battery\n");
    assert!(ok, "create-admin: {out} {err}");
    let session = login(server, "boss", "correct horse battery").await;
    let (_, me) = api(server, "GET", "/api/me", Some(&session), Value::Null).await;
    assert_eq!(me["user"]["admin"], true, "{me}");
    session
}

async fn setup(server: &Server, admin: &str, room: &str, kind: Kind) -> Place {
    let mut owner = Client::guest(server, "owner").await;
    owner.ok("create_room", json!({"room": room, "private": kind == Kind::Private})).await;
    owner.join(room).await;
    let mut people = Vec::new();
    for name in ["moderator", "member", "guest", "author", "banned"] {
        let mut c = Client::guest(server, name).await;
        owner.ok("add_member", json!({"room": room, "actor": c.id()})).await;
        if name != "banned" {
            c.join(room).await;
        }
        people.push(c);
    }
    let [moderator, member, guest, author, banned] = <[Client; 5]>::try_from(people).ok().expect("five");
    owner.ok("set_role", json!({"room": room, "actor": moderator.id(), "role": "moderator"})).await;
    owner.ok("ban", json!({"room": room, "actor": banned.id()})).await;
    let token = api_token_member(server, &mut owner, room).await;
    let mut admin = Client::with_token(server, admin).await;
    if kind == Kind::Public {
        admin.join(room).await;
    }
    let hook = new_webhook(server, &owner, room).await;
    let banned = Some(banned);
    Place { kind, room: room.to_string(), owner, moderator, member, guest, author, banned, admin, token, outsider: None, target: None, hook }
}

/// A direct conversation opened by "owner" with four other accounts (one behind an API token) and
/// the target; a guest and an account outside it; a webhook of another room.
async fn setup_direct(server: &Server, admin: &str) -> Place {
    let tag = rand::random_range(0..1_000_000u32);
    let mut accounts: Vec<Account> = Vec::new();
    for name in ["Owner", "Moderator", "Member", "Author", "Bot", "Target", "Outsider"] {
        accounts.push(account(server, &format!("{name}{tag}")).await);
    }
    let with: Vec<String> = accounts[1..6].iter().map(|a| a.username.clone()).collect();
    let mut owner = Client::with_token(server, &accounts[0].token).await;
    let opened = owner.ok("open_direct", json!({"with": with})).await;
    let room = opened["room"]["name"].as_str().expect("name").to_string();
    owner.join(&room).await;
    let mut members = Vec::new();
    for (i, a) in accounts[1..5].iter().enumerate() {
        // The fifth ("Bot") acts through an API token.
        let token = if i == 3 { api_token(server, &a.token).await } else { a.token.clone() };
        let mut c = Client::with_token(server, &token).await;
        c.join(&room).await;
        members.push(c);
    }
    let [moderator, member, author, token] = <[Client; 4]>::try_from(members).ok().expect("four");
    let mut guest = Client::guest(server, "guest").await;
    let elsewhere = support::room("elsewhere");
    guest.ok("create_room", json!({"room": elsewhere})).await;
    let hook = new_webhook(server, &guest, &elsewhere).await;
    let outsider = Some(Client::with_token(server, &accounts[6].token).await);
    let admin = Client::with_token(server, admin).await;
    let target = Some(accounts[5].id.clone());
    Place { kind: Kind::Direct, room, owner, moderator, member, guest, author, banned: None, admin, token, outsider, target, hook }
}

/// The webhook's send cell: a POST to its URL (no URL names a direct conversation: `None` there).
async fn post_to_hook(server: &Server, place: &Place) -> Option<Want> {
    if place.kind == Kind::Direct {
        return None;
    }
    let r = http(server, "POST", &place.hook, &[("Content-Type", "application/json")], br#"{"text": "a cell"}"#).await;
    Some(if (200..300).contains(&r.status) { Yes } else { No(leak(r.json()["error"]["code"].as_str().unwrap_or("?"))) })
}

/// A webhook's cell on a socket: its secret as the credential (`hello {token}`, Socket.IO
/// `auth.token`), where the action exists on that socket.
async fn hook_as_credential(server: &Server, place: &Place, act: Act, via: Via) -> Option<Want> {
    let secret = place.hook_secret();
    match (act, via) {
        (Act::CreateWebhook, _) | (Act::History | Act::Invite | Act::Kick | Act::Ban | Act::ChangeRole, Via::SocketIo) => None,
        (_, Via::SocketIo) => {
            let mut sio = SioWs::open(server).await;
            sio.send(&format!("40{}", json!({"token": secret}))).await;
            let answer = sio.recv().await;
            Some(match answer.strip_prefix("44") {
                Some(refused) => {
                    let code = serde_json::from_str::<Value>(refused).ok().and_then(|v| v["data"]["code"].as_str().map(leak));
                    No(code.unwrap_or("?"))
                }
                None => Yes,
            })
        }
        _ => {
            let mut c = Client::connect_raw(server).await;
            Some(native_answer(&c.request("hello", json!({"token": secret})).await))
        }
    }
}

/// Asks one cell and returns the answer.
async fn ask(server: &Server, place: &mut Place, who: Who, act: Act, via: Via) -> Option<Want> {
    // A webhook's only way in is its URL; elsewhere it has its secret (see the module doc).
    if who == Webhook {
        match (act, via) {
            // The send cell is its URL; no socket takes a webhook in.
            (Act::List, _) | (Act::Send, Via::Native | Via::SocketIo) => return None,
            (Act::Send, Via::Http) => return post_to_hook(server, place).await,
            (_, Via::Native | Via::SocketIo) => return hook_as_credential(server, place, act, via).await,
            (_, Via::Http) => {} // the routes below, with the secret as the bearer token
        }
    }
    let room = place.room.clone();
    let secret = place.hook_secret().to_string();
    let direct = place.kind == Kind::Direct;
    // Fresh things for the cells that change something.
    let message = match act {
        Act::Edit | Act::Delete => new_message(place).await,
        _ => 0,
    };
    let target = match (act, &place.target) {
        (Act::Kick | Act::Ban | Act::ChangeRole, Some(t)) => t.clone(),
        (Act::Kick | Act::Ban | Act::ChangeRole, None) => new_member(server, place, "target").await.id(),
        _ => String::new(),
    };
    let mut fresh = match who {
        NonMember if !direct => Some(Client::guest(server, "outsider").await),
        _ => None,
    };
    let inside = match who {
        Guest | Member | Author | Moderator | Owner | ApiToken => !(direct && who == Guest),
        Admin => place.kind == Kind::Public,
        Anonymous | NonMember | Banned | Webhook => false,
    };
    let client: Option<&mut Client> = match who {
        Anonymous | Webhook => None,
        Guest => Some(&mut place.guest),
        NonMember if direct => place.outsider.as_mut(),
        NonMember => fresh.as_mut(),
        Member => Some(&mut place.member),
        Author => Some(&mut place.author),
        Moderator => Some(&mut place.moderator),
        Owner => Some(&mut place.owner),
        Banned => place.banned.as_mut(),
        Admin => Some(&mut place.admin),
        ApiToken => Some(&mut place.token),
    };
    let token = match who {
        Webhook => Some(secret.clone()),
        _ => client.as_ref().map(|c| c.token()),
    };
    match via {
        Via::Native => {
            let mut anonymous;
            let c = match client {
                Some(c) => c,
                None => {
                    anonymous = Client::connect_raw(server).await;
                    &mut anonymous
                }
            };
            let (kind, fields) = match act {
                Act::List => {
                    let v = c.request("rooms", json!({"subscribe": false})).await;
                    if v["type"] != "ack" {
                        return Some(native_answer(&v));
                    }
                    let listed = v["rooms"].as_array().unwrap().iter().any(|r| r["name"] == room.as_str());
                    return Some(if listed { Yes } else { HIDDEN });
                }
                Act::History => ("history", json!({"room": room, "after": 0})),
                Act::Join => ("join", json!({"room": room})),
                Act::Send => ("send", json!({"room": room, "text": "a cell"})),
                Act::Edit => ("edit", json!({"room": room, "message_id": message, "text": "edited"})),
                Act::Delete => ("delete", json!({"room": room, "message_id": message})),
                Act::Invite => ("invite", json!({"room": room})),
                Act::Kick => ("kick", json!({"room": room, "actor": target})),
                Act::Ban => ("ban", json!({"room": room, "actor": target})),
                Act::ChangeRole => ("set_role", json!({"room": room, "actor": target, "role": "moderator"})),
                Act::CreateWebhook => return None,
            };
            Some(native_answer(&c.request(kind, fields).await))
        }
        Via::SocketIo => {
            let (event, payload) = match act {
                Act::Join => ("join_room", json!({"room": room})),
                Act::Send => ("send_message", json!({"room": room, "message": "a cell"})),
                Act::Edit => ("edit_message", json!({"room": room, "message_id": message.to_string(), "new_message": "edited"})),
                Act::Delete => ("delete_message", json!({"room": room, "message_id": message.to_string()})),
                _ => return None,
            };
            let mut sio = SioWs::connect(server, token.as_deref()).await;
            // Those who stand in the room act from inside it, as on the native protocol.
            if inside && act != Act::Join {
                let joined = sio.call(1, "join_room", json!({"room": room})).await;
                assert_eq!(joined["ok"], true, "{who:?} joins over Socket.IO: {joined}");
            }
            Some(sio_answer(&sio.call(2, event, payload).await))
        }
        Via::Http => {
            let t = token.as_deref();
            let (status, v) = match act {
                Act::List => {
                    let (status, v) = api(server, "GET", "/api/rooms", t, Value::Null).await;
                    if status != 200 {
                        return Some(http_answer(status, &v));
                    }
                    let listed = v["rooms"].as_array().unwrap().iter().any(|r| r["name"] == room.as_str());
                    return Some(if listed { Yes } else { HIDDEN });
                }
                Act::History => api(server, "GET", &format!("/api/rooms/{}/history", enc(&room)), t, Value::Null).await,
                Act::Invite => api(server, "POST", &format!("/api/rooms/{}/invites", enc(&room)), t, json!({})).await,
                Act::Kick => api(server, "POST", &format!("/api/rooms/{}/kick", enc(&room)), t, json!({"actor_id": target})).await,
                Act::Ban => api(server, "POST", &format!("/api/rooms/{}/bans", enc(&room)), t, json!({"actor_id": target})).await,
                Act::ChangeRole => {
                    let path = format!("/api/rooms/{}/members/{target}", enc(&room));
                    api(server, "PUT", &path, t, json!({"role": "moderator"})).await
                }
                Act::CreateWebhook => api(server, "POST", &format!("/api/rooms/{}/webhooks", enc(&room)), t, json!({"name": "a cell"})).await,
                Act::Join | Act::Send | Act::Edit | Act::Delete => return None,
            };
            Some(http_answer(status, &v))
        }
    }
}

/// What one walk found: how many cells it asked, and the ones that differ from [`RULES`].
struct Walked {
    asked: usize,
    failures: Vec<String>,
}

impl Walked {
    fn check(&self, want_asked: usize) {
        assert!(self.failures.is_empty(), "{} of {} cells differ:\n{}", self.failures.len(), self.asked, self.failures.join("\n"));
        assert_eq!(self.asked, want_asked, "cells asked");
    }
}

/// Asks every cell of [`RULES`] in `places` that `pick` selects, on every protocol where its action
/// exists; all differences are reported together.
async fn walk(server: &Server, places: &mut [Place], pick: impl Fn(Who, Act, Kind) -> bool) -> Walked {
    let mut walked = Walked { asked: 0, failures: Vec::new() };
    for (act, in_public, in_private, in_direct) in RULES {
        for place in places.iter_mut() {
            let row = match place.kind {
                Kind::Public => in_public,
                Kind::Private => in_private,
                Kind::Direct => in_direct,
            };
            for (who, want) in COLUMNS.iter().zip(row) {
                // A direct conversation has no bans (see the module doc).
                if !pick(*who, *act, place.kind) || (*who == Banned && place.kind == Kind::Direct) {
                    continue;
                }
                for via in [Via::Native, Via::SocketIo, Via::Http] {
                    let want = match (who, via) {
                        // The sockets need an identity first (see the module doc).
                        (Anonymous, Via::Native | Via::SocketIo) => ANON,
                        // A webhook's secret is no session: refused before the gate is asked.
                        (Webhook, _) if !(*act == Act::Send && via == Via::Http) && *want != Yes => ANON,
                        _ => *want,
                    };
                    if *who == Anonymous && via == Via::SocketIo {
                        continue;
                    }
                    let Some(got) = ask(server, place, *who, *act, via).await else { continue };
                    walked.asked += 1;
                    if got != want {
                        let kind = place.kind;
                        walked.failures.push(format!("{act:?} by {who:?} in the {kind:?} room over {via:?}: want {want:?}, got {got:?}"));
                    }
                }
            }
        }
    }
    walked
}

fn start() -> Server {
    Server::start(&["--requests-per-second", "0", "--guests-per-minute-per-address", "0"])
}

/// The columns of people in public and private rooms (everyone but the administrator and the
/// webhook), every row but create-webhook.
#[tokio::test]
async fn every_cell_of_the_matrix_answers_as_the_table_says() {
    let server = start();
    let admin = admin_session(&server).await;
    let mut places = [setup(&server, &admin, "plaza", Kind::Public).await, setup(&server, &admin, "cellar", Kind::Private).await];
    let walked = walk(&server, &mut places, |who, act, kind| {
        !matches!(who, Admin | Webhook) && act != Act::CreateWebhook && kind != Kind::Direct
    })
    .await;
    // Per room: 8 columns × 10 rows × 2 protocols, and anonymous on HTTP for 6 rows and the native
    // protocol for all 10.
    walked.check(2 * (8 * 10 * 2 + 6 + 10));
}

/// The administrator's column, every row, in a public room (it moderates: delete, invite, kick, ban
/// and create webhooks, but not change roles or edit others' messages), a private room and a
/// direct conversation it is not in (`room_not_found` for everything, as for a missing room).
#[tokio::test]
async fn administrator_column() {
    let server = start();
    let admin = admin_session(&server).await;
    let mut places = [
        setup(&server, &admin, "agora", Kind::Public).await,
        setup(&server, &admin, "attic", Kind::Private).await,
        setup_direct(&server, &admin).await,
    ];
    let walked = walk(&server, &mut places, |who, _, _| who == Admin).await;
    // Per room: 10 rows on two protocols each, create-webhook on HTTP only.
    walked.check(3 * (10 * 2 + 1));
}

/// The webhook's column (it posts into its own room and nothing else; its secret is no credential)
/// and the create-webhook row for everyone but the administrator (whose cells are in
/// `administrator_column`), in every kind of room; then a revoked webhook and another room's
/// webhook get the one 404 an unknown webhook gets.
#[tokio::test]
async fn webhook_column_and_create_webhook_row() {
    let server = start();
    let admin = admin_session(&server).await;
    let mut places = [
        setup(&server, &admin, "harbour", Kind::Public).await,
        setup(&server, &admin, "bunker", Kind::Private).await,
        setup_direct(&server, &admin).await,
    ];
    let walked = walk(&server, &mut places, |who, act, _| who == Webhook || (act == Act::CreateWebhook && who != Admin)).await;
    // The webhook: per room 8 rows on two protocols and create-webhook on HTTP (list is not asked),
    // and send through its URL (no URL names a direct conversation). The create-webhook row: 9
    // columns on HTTP in each kind of room, no banned one in the direct one.
    walked.check(3 * (8 * 2 + 1) + 2 + (3 * 9 - 1));

    let unknown = http(&server, "POST", "/hooks/w_nosuchwebhookxxxxxxx/secret", &[("Content-Type", "application/json")], br#"{"text": "x"}"#).await;
    assert_eq!((unknown.status, unknown.json()["error"]["code"].as_str()), (404, Some("webhook_not_found")));
    let [public, private, _] = &mut places;
    // The public room's webhook id with the private room's secret: no such webhook.
    let public_id = public.hook.split('/').nth(2).unwrap_or_default().to_string();
    let mixed = format!("/hooks/{public_id}/{}", private.hook_secret());
    let r = http(&server, "POST", &mixed, &[("Content-Type", "application/json")], br#"{"text": "x"}"#).await;
    assert_eq!((r.status, &r.body), (404, &unknown.body), "another room's webhook: the same answer as unknown");
    // The private room's owner revoking the public room's webhook through the private room: not one of its webhooks.
    let path = format!("/api/rooms/{}/webhooks/{public_id}", private.room);
    let (status, v) = api(&server, "DELETE", &path, Some(&private.owner.token()), Value::Null).await;
    assert_eq!((status, v["error"]["code"].as_str()), (404, Some("webhook_not_found")), "{v}");
    let path = format!("/api/rooms/{}/webhooks/{public_id}", public.room);
    assert_eq!(api(&server, "DELETE", &path, Some(&public.owner.token()), Value::Null).await.0, 204);
    let r = http(&server, "POST", &public.hook, &[("Content-Type", "application/json")], br#"{"text": "x"}"#).await;
    assert_eq!((r.status, &r.body), (404, &unknown.body), "revoked: the same answer as unknown");
}

/// The direct conversation's column of every row but create-webhook (in
/// `webhook_column_and_create_webhook_row`), for everyone but the administrator and the webhook
/// (their own tests): its members read, join, send and act on their own messages, nobody
/// moderates, and everyone outside gets `room_not_found`.
#[tokio::test]
async fn direct_conversation_column() {
    let server = start();
    let admin = admin_session(&server).await;
    let mut places = [setup_direct(&server, &admin).await];
    let walked = walk(&server, &mut places, |who, act, _| !matches!(who, Admin | Webhook) && act != Act::CreateWebhook).await;
    // 7 columns (no banned one) × 10 rows × 2 protocols, and anonymous: 6 rows on HTTP, 10 native.
    walked.check(7 * 10 * 2 + 6 + 10);
}

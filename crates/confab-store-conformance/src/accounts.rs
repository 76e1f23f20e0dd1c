//! Accounts: usernames unique by key, account changes, TOTP steps and recovery codes used once,
//! sessions and API tokens found by hash, listed, revoked, checked for liveness, sessions ending
//! when idle or too old (tokens never), and registration invites used once before they expire.

use confab_core::accounts::{new_credential_id, Credential, CredentialKind, NewUser, Revoke, SessionLifetime, User, UserChange};
use confab_core::model::{now_ms, ActorKind, ActorRef, RoomKind};
use confab_core::ErrorCode;

use crate::{fixture, Backend};

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        username_key: name.to_lowercase(),
        display_name: format!("{name} display"),
        password_hash: format!("$argon2id$fake${name}"),
        admin: false,
    }
}

fn credential(user: &User, kind: CredentialKind, label: &str) -> Credential {
    Credential { id: new_credential_id(kind), kind, actor: user.actor.id.clone(), label: label.into(), created_at: now_ms(), last_used_at: None }
}

/// An account is an actor of kind `user` that can own rooms; its key is unique, it is found by key
/// and by id, and changes to it read back.
pub async fn accounts_are_unique_by_key_and_change<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_user(&new_user("Ann")).await.expect("create");
    assert_eq!(ann.actor.kind, ActorKind::User);
    assert!(ann.actor.id.as_str().starts_with("u_"));
    let taken = s.create_user(&NewUser { username: "ANN".into(), ..new_user("Ann") }).await.expect_err("taken");
    assert_eq!(taken.code, ErrorCode::UsernameTaken);
    assert_eq!(s.user_by_key("ann").await.unwrap().expect("by key"), ann);
    assert_eq!(s.user(&ann.actor.id).await.unwrap().expect("by id"), ann);
    assert!(s.user_by_key("bob").await.unwrap().is_none());
    // An account can own a room like any actor.
    s.create_room("hall", RoomKind::Public, &ActorRef::from(&ann.actor)).await.expect("room");

    assert!(s.update_user(&ann.actor.id, &UserChange::PasswordHash("new-hash".into())).await.unwrap());
    assert!(s.update_user(&ann.actor.id, &UserChange::DisplayName("Annie".into())).await.unwrap());
    assert!(s.update_user(&ann.actor.id, &UserChange::Admin(true)).await.unwrap());
    assert!(s.update_user(&ann.actor.id, &UserChange::Disabled(true)).await.unwrap());
    let read = s.user(&ann.actor.id).await.unwrap().unwrap();
    assert_eq!((read.password_hash.as_str(), read.actor.name.as_str(), read.actor.admin, read.disabled), ("new-hash", "Annie", true, true));
    assert!(s.update_user(&ann.actor.id, &UserChange::Disabled(false)).await.unwrap());
    assert!(!s.user(&ann.actor.id).await.unwrap().unwrap().disabled);
    let ghost = confab_core::model::ActorId::from("u_nobody".to_string());
    assert!(!s.update_user(&ghost, &UserChange::Disabled(true)).await.unwrap(), "no such account");

    s.create_user(&new_user("bob")).await.expect("bob");
    let keys: Vec<String> = s.users().await.unwrap().into_iter().map(|u| u.username_key).collect();
    assert_eq!(keys, ["ann", "bob"]);
    // Guests are not accounts.
    let guest = s.create_guest("gus", b"hash-gus").await.unwrap();
    assert!(s.user(&guest.id).await.unwrap().is_none());
}

/// 2FA: a pending secret, then enabled with recovery codes; a TOTP step is accepted only above the
/// last one; each recovery code works once; disabling removes secret and codes.
pub async fn two_factor_steps_and_recovery_codes_are_used_once<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_user(&new_user("ann")).await.unwrap();
    let id = &ann.actor.id;
    assert!(!s.update_user(id, &UserChange::TotpEnabled { recovery_code_hashes: vec![] }).await.unwrap(), "no secret yet");
    assert!(s.update_user(id, &UserChange::TotpPending("SECRET".into())).await.unwrap());
    let hashes = vec![b"code-1".to_vec(), b"code-2".to_vec()];
    assert!(s.update_user(id, &UserChange::TotpEnabled { recovery_code_hashes: hashes }).await.unwrap());
    let read = s.user(id).await.unwrap().unwrap();
    assert_eq!((read.totp_secret.as_deref(), read.totp_enabled), (Some("SECRET"), true));
    assert!(!s.update_user(id, &UserChange::TotpPending("OTHER".into())).await.unwrap(), "setup does not replace an enabled secret");

    assert!(s.claim_totp_step(id, 100).await.unwrap());
    assert!(!s.claim_totp_step(id, 100).await.unwrap(), "the same step twice");
    assert!(!s.claim_totp_step(id, 99).await.unwrap(), "an older step");
    assert!(s.claim_totp_step(id, 101).await.unwrap());

    assert_eq!(s.recovery_codes_left(id).await.unwrap(), 2);
    assert!(s.use_recovery_code(id, b"code-1").await.unwrap());
    assert!(!s.use_recovery_code(id, b"code-1").await.unwrap(), "a code works once");
    assert!(!s.use_recovery_code(id, b"code-9").await.unwrap());
    assert_eq!(s.recovery_codes_left(id).await.unwrap(), 1);

    assert!(s.update_user(id, &UserChange::TotpDisabled).await.unwrap());
    let read = s.user(id).await.unwrap().unwrap();
    assert_eq!((read.totp_secret, read.totp_enabled), (None, false));
    assert_eq!(s.recovery_codes_left(id).await.unwrap(), 0);
    assert!(!s.use_recovery_code(id, b"code-2").await.unwrap());
    assert!(s.claim_totp_step(id, 50).await.unwrap(), "a new secret starts its steps afresh");
}

/// Sessions and API tokens: found by hash only (with their account), listed per account and kind,
/// revoked one, all-but-one or all (never another account's), and live only while they exist and
/// their account is not disabled.
pub async fn credentials_are_found_listed_revoked_and_rechecked<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_user(&new_user("ann")).await.unwrap();
    let bob = s.create_user(&new_user("bob")).await.unwrap();
    let phone = credential(&ann, CredentialKind::Session, "phone");
    let laptop = credential(&ann, CredentialKind::Session, "laptop");
    let bot = credential(&ann, CredentialKind::ApiToken, "ci bot");
    let bobs = credential(&bob, CredentialKind::Session, "bob's");
    s.create_credential(&phone, b"h-phone").await.unwrap();
    s.create_credential(&laptop, b"h-laptop").await.unwrap();
    s.create_credential(&bot, b"h-bot").await.unwrap();
    s.create_credential(&bobs, b"h-bob").await.unwrap();

    let now = now_ms();
    let lt = &SessionLifetime::DEFAULT;
    let (found, user) = s.use_credential(CredentialKind::Session, b"h-phone", now, lt).await.unwrap().expect("found");
    assert_eq!((found.id.as_str(), found.label.as_str(), found.last_used_at), (phone.id.as_str(), "phone", Some(now)));
    assert_eq!(user.actor.id, ann.actor.id);
    assert!(s.use_credential(CredentialKind::ApiToken, b"h-phone", now, lt).await.unwrap().is_none(), "a session is not a token");
    assert!(s.use_credential(CredentialKind::Session, b"nope", now, lt).await.unwrap().is_none());
    let (tok, _) = s.use_credential(CredentialKind::ApiToken, b"h-bot", now, lt).await.unwrap().expect("token");
    assert_eq!(tok.label, "ci bot");

    let sessions: Vec<String> = s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.contains(&phone.id) && sessions.contains(&laptop.id));
    assert_eq!(s.credentials(CredentialKind::ApiToken, &ann.actor.id).await.unwrap().len(), 1);

    let all = vec![phone.id.clone(), laptop.id.clone(), bot.id.clone(), bobs.id.clone(), "s_unknown".into()];
    let mut live = s.live_credentials(&all, now, lt).await.unwrap().live;
    live.sort();
    let mut want = all[..4].to_vec();
    want.sort();
    assert_eq!(live, want);

    let none = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::One(bobs.id.clone())).await.unwrap();
    assert!(none.is_empty(), "ann cannot revoke bob's session");
    let others = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::AllBut(phone.id.clone())).await.unwrap();
    assert_eq!(others, std::slice::from_ref(&laptop.id));
    assert!(s.use_credential(CredentialKind::Session, b"h-laptop", now, lt).await.unwrap().is_none());
    assert!(!s.live_credentials(&all, now, lt).await.unwrap().live.contains(&laptop.id));

    s.update_user(&ann.actor.id, &UserChange::Disabled(true)).await.unwrap();
    let live = s.live_credentials(&all, now, lt).await.unwrap().live;
    assert_eq!(live, std::slice::from_ref(&bobs.id), "a disabled account's credentials are not live");
    s.update_user(&ann.actor.id, &UserChange::Disabled(false)).await.unwrap();

    let gone = s.revoke_credentials(CredentialKind::ApiToken, &ann.actor.id, &Revoke::One(bot.id.clone())).await.unwrap();
    assert_eq!(gone, std::slice::from_ref(&bot.id));
    let rest = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::All).await.unwrap();
    assert_eq!(rest, std::slice::from_ref(&phone.id));
    assert!(s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap().is_empty());
    assert_eq!(s.credentials(CredentialKind::Session, &bob.actor.id).await.unwrap().len(), 1);
}

/// Session lifetime: a session idle for `idle_ms`, or `max_ms` old however much it is used, is
/// found by nothing (and not revived by trying), reported expired (not live) by the recheck, and
/// deleted by the sweep; the recheck records open connections' use; API tokens never expire.
pub async fn sessions_expire_when_idle_or_old_and_tokens_never<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let ann = s.create_user(&new_user("ann")).await.unwrap();
    let t0 = 1_000_000_000_000;
    let lt = &SessionLifetime { idle_ms: 10_000, max_ms: 30_000, touch_ms: 1_000 };
    let at = |label: &str, kind| Credential { created_at: t0, last_used_at: Some(t0), ..credential(&ann, kind, label) };
    let (idle, busy) = (at("idle", CredentialKind::Session), at("busy", CredentialKind::Session));
    let (bot, open) = (at("bot", CredentialKind::ApiToken), at("open", CredentialKind::Session));
    for (c, h) in [(&idle, b"h-idle"), (&busy, b"h-busy"), (&bot, b"h-bot_"), (&open, b"h-open")] {
        s.create_credential(c, h).await.unwrap();
    }
    let all = vec![idle.id.clone(), busy.id.clone(), bot.id.clone(), open.id.clone()];

    // Used every 6 s: the busy session lives on; a use 500 ms after the last is not recorded.
    for step in 1..=4 {
        let now = t0 + step * 6_000;
        let (c, _) = s.use_credential(CredentialKind::Session, b"h-busy", now, lt).await.unwrap().expect("busy is live");
        assert_eq!(c.last_used_at, Some(now));
        let (c, _) = s.use_credential(CredentialKind::Session, b"h-busy", now + 500, lt).await.unwrap().expect("busy");
        assert_eq!(c.last_used_at, Some(now), "a use within touch_ms of the last is not written");
        // The open session is kept alive by the recheck alone (its connections are in use).
        let open_ones = [busy.id.clone(), bot.id.clone(), open.id.clone()];
        let check = s.live_credentials(&open_ones, now, lt).await.unwrap();
        assert_eq!((check.live.len(), check.expired.len()), (3, 0), "at {now}: {check:?}");
    }
    // The idle one (in no recheck: no connection open): expired for the recheck once idle_ms passed.
    let check = s.live_credentials(&all, t0 + 24_000, lt).await.unwrap();
    assert_eq!(check.expired, std::slice::from_ref(&idle.id), "idle past idle_ms");
    assert_eq!(check.live.len(), 3);
    // The idle one: refused from then on, and a late try does not revive it.
    assert!(s.use_credential(CredentialKind::Session, b"h-idle", t0 + 10_000, lt).await.unwrap().is_none(), "idle for idle_ms");
    assert!(s.use_credential(CredentialKind::Session, b"h-idle", t0 + 10_001, lt).await.unwrap().is_none(), "still refused");
    let listed = s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap();
    assert!(listed.iter().any(|c| c.id == idle.id && c.last_used_at == Some(t0)), "a refused use records nothing");

    // At max_ms every session is over, however busy; the token (idle all along) is not.
    let end = t0 + lt.max_ms;
    assert!(s.use_credential(CredentialKind::Session, b"h-busy", end - 1, lt).await.unwrap().is_some());
    assert!(s.use_credential(CredentialKind::Session, b"h-busy", end, lt).await.unwrap().is_none(), "max_ms after sign-in");
    let check = s.live_credentials(&all, end, lt).await.unwrap();
    assert_eq!(check.live, std::slice::from_ref(&bot.id));
    let mut expired = check.expired.clone();
    expired.sort();
    let mut want = vec![idle.id.clone(), busy.id.clone(), open.id.clone()];
    want.sort();
    assert_eq!(expired, want);
    let (tok, _) = s.use_credential(CredentialKind::ApiToken, b"h-bot_", t0 + 100 * lt.max_ms, lt).await.unwrap().expect("a token never expires");
    assert_eq!(tok.id, bot.id);

    // The sweep deletes the expired sessions only, once.
    let mut swept = s.expire_sessions(end, lt).await.unwrap();
    swept.sort();
    assert_eq!(swept, want);
    assert!(s.expire_sessions(end, lt).await.unwrap().is_empty(), "a sweep is idempotent");
    assert!(s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap().is_empty());
    assert_eq!(s.credentials(CredentialKind::ApiToken, &ann.actor.id).await.unwrap().len(), 1);
    let check = s.live_credentials(&all, end, lt).await.unwrap();
    assert!(check.expired.is_empty(), "deleted sessions are neither live nor expired: {check:?}");
}

/// Username keys recomputed by today's rule (full case folding): an account stored under the old
/// key moves to the new one; of two accounts the new rule makes one, the one already holding the
/// key keeps it and the other keeps its old key (both still found by their keys); it is idempotent.
pub async fn username_keys_are_recomputed_and_collisions_keep_their_old_key<B: Backend>(backend: &B) {
    use confab_core::accounts::username::{key, legacy_key};
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let old = |name: &str| NewUser { username: name.into(), username_key: legacy_key(name), ..new_user(name) };
    let strasse = s.create_user(&old("straße")).await.unwrap();
    let sam = s.create_user(&old("Sam")).await.unwrap();
    let gross_old = s.create_user(&old("groß")).await.unwrap();
    let gross_new = s.create_user(&old("GROSS")).await.unwrap();
    assert_ne!(strasse.username_key, key("strasse"), "the old rule kept straße apart from strasse");

    let moves = s.rekey_usernames().await.unwrap();
    assert_eq!(moves, [(strasse.actor.id.as_str().to_string(), key("strasse"))]);
    assert_eq!(s.user_by_key(&key("strasse")).await.unwrap().map(|u| u.actor.id), Some(strasse.actor.id.clone()));
    assert_eq!(s.user(&sam.actor.id).await.unwrap().unwrap().username_key, sam.username_key, "unchanged");
    // groß and GROSS are one name now: GROSS already held "gross", groß keeps its old key.
    assert_eq!(s.user_by_key(&key("groß")).await.unwrap().map(|u| u.actor.id), Some(gross_new.actor.id.clone()));
    assert_eq!(s.user_by_key(&gross_old.username_key).await.unwrap().map(|u| u.actor.id), Some(gross_old.actor.id.clone()));
    assert!(s.rekey_usernames().await.unwrap().is_empty(), "idempotent");
    // A new account under the old spelling is taken.
    let taken = s.create_user(&NewUser { username: "STRASSE".into(), username_key: key("STRASSE"), ..new_user("STRASSE") }).await;
    assert_eq!(taken.expect_err("taken").code, ErrorCode::UsernameTaken);
}

/// A registration invite works once, and not after it expires.
pub async fn invites_are_single_use_and_expire<B: Backend>(backend: &B) {
    let f = fixture(backend).await;
    let s = f.store.as_ref();
    let admin = s.create_user(&NewUser { admin: true, ..new_user("root") }).await.unwrap();
    let now = now_ms();
    s.create_invite(b"inv-1", Some(&admin.actor.id), now + 60_000).await.unwrap();
    s.create_invite(b"inv-2", None, now + 1_000).await.unwrap();
    assert!(s.take_invite(b"inv-1", now).await.unwrap());
    assert!(!s.take_invite(b"inv-1", now).await.unwrap(), "used");
    assert!(!s.take_invite(b"inv-2", now + 1_000).await.unwrap(), "expired");
    assert!(!s.take_invite(b"inv-3", now).await.unwrap(), "unknown");
}

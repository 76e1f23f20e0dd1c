//! Accounts: usernames unique by key, account changes, TOTP steps and recovery codes used once,
//! sessions and API tokens found by hash, listed, revoked, checked for liveness, and registration
//! invites used once before they expire.

use confab_core::accounts::{new_credential_id, Credential, CredentialKind, NewUser, Revoke, User, UserChange};
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
    let (found, user) = s.use_credential(CredentialKind::Session, b"h-phone", now).await.unwrap().expect("found");
    assert_eq!((found.id.as_str(), found.label.as_str(), found.last_used_at), (phone.id.as_str(), "phone", Some(now)));
    assert_eq!(user.actor.id, ann.actor.id);
    assert!(s.use_credential(CredentialKind::ApiToken, b"h-phone", now).await.unwrap().is_none(), "a session is not a token");
    assert!(s.use_credential(CredentialKind::Session, b"nope", now).await.unwrap().is_none());
    let (tok, _) = s.use_credential(CredentialKind::ApiToken, b"h-bot", now).await.unwrap().expect("token");
    assert_eq!(tok.label, "ci bot");

    let sessions: Vec<String> = s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.contains(&phone.id) && sessions.contains(&laptop.id));
    assert_eq!(s.credentials(CredentialKind::ApiToken, &ann.actor.id).await.unwrap().len(), 1);

    let all = vec![phone.id.clone(), laptop.id.clone(), bot.id.clone(), bobs.id.clone(), "s_unknown".into()];
    let mut live = s.live_credentials(&all).await.unwrap();
    live.sort();
    let mut want = all[..4].to_vec();
    want.sort();
    assert_eq!(live, want);

    let none = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::One(bobs.id.clone())).await.unwrap();
    assert!(none.is_empty(), "ann cannot revoke bob's session");
    let others = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::AllBut(phone.id.clone())).await.unwrap();
    assert_eq!(others, std::slice::from_ref(&laptop.id));
    assert!(s.use_credential(CredentialKind::Session, b"h-laptop", now).await.unwrap().is_none());
    assert!(!s.live_credentials(&all).await.unwrap().contains(&laptop.id));

    s.update_user(&ann.actor.id, &UserChange::Disabled(true)).await.unwrap();
    let live = s.live_credentials(&all).await.unwrap();
    assert_eq!(live, std::slice::from_ref(&bobs.id), "a disabled account's credentials are not live");
    s.update_user(&ann.actor.id, &UserChange::Disabled(false)).await.unwrap();

    let gone = s.revoke_credentials(CredentialKind::ApiToken, &ann.actor.id, &Revoke::One(bot.id.clone())).await.unwrap();
    assert_eq!(gone, std::slice::from_ref(&bot.id));
    let rest = s.revoke_credentials(CredentialKind::Session, &ann.actor.id, &Revoke::All).await.unwrap();
    assert_eq!(rest, std::slice::from_ref(&phone.id));
    assert!(s.credentials(CredentialKind::Session, &ann.actor.id).await.unwrap().is_empty());
    assert_eq!(s.credentials(CredentialKind::Session, &bob.actor.id).await.unwrap().len(), 1);
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

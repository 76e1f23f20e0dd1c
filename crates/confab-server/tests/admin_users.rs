//! `confab admin` for accounts beside a running server (the stopped-server case is in
//! accounts.rs, where the first administrator is made before the server starts): what the command
//! changes in the shared database, the running server acts on at once (new accounts, passwords)
//! or within `--credential-recheck-ms` (disabled accounts, revoked sessions and tokens close their
//! open connections).

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::accounts::{admin_on, call, code, login, login_raw, register};
use support::{Client, Server, SioWs};

const PASSWORD: &str = "correct horse battery";

async fn closed(c: &mut Client) -> Value {
    loop {
        let v = c.recv().await;
        if v["type"] == "closed" {
            return v;
        }
    }
}

/// Every account command against a running server, with the recheck at 300 ms: each change is
/// seen by the server within a second.
#[tokio::test]
async fn admin_commands_act_on_a_running_server() {
    let server = Server::start(&["--credential-recheck-ms", "300"]);
    let (ok, out, err) = admin_on(&server, &["create-admin", "Boss"], &format!("{PASSWORD}\n"));
    assert!(ok && out.contains("created administrator Boss"), "{out} {err}");
    let boss = login(&server, "boss", PASSWORD).await;
    assert_eq!(call(&server, "GET", "/api/me", Some(&boss), None).await.json()["user"]["admin"], true, "signed in at once");
    let (ok, _, err) = admin_on(&server, &["create-admin", "weak"], "short\n");
    assert!(!ok && err.contains("weak_password"), "{err}");
    let (ok, _, err) = admin_on(&server, &["create-admin", "other", "--password", PASSWORD], "");
    assert!(!ok && err.contains("--password"), "a password is never a flag: {err}");

    let ann_session = register(&server, "ann", PASSWORD).await["token"].as_str().unwrap().to_string();
    let (ok, out, _) = admin_on(&server, &["users"], "");
    assert!(ok);
    let boss_line = out.lines().find(|l| l.starts_with("Boss ")).expect("Boss listed");
    assert!(boss_line.ends_with("admin"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("ann ") && !l.contains("admin")), "{out}");

    let (ok, secret, err) = admin_on(&server, &["token", "create", "ann", "--name", "deploy bot"], "");
    assert!(ok, "{err}");
    let secret = secret.trim().to_string();
    assert!(secret.starts_with("cft_"), "{secret}");
    let mut bot = Client::with_token(&server, &secret).await;
    let mut ann = Client::with_token(&server, &ann_session).await;
    let mut ann_sio = SioWs::connect(&server, Some(&ann_session)).await;

    let started = Instant::now();
    let (ok, _, err) = admin_on(&server, &["disable", "ann"], "");
    assert!(ok, "{err}");
    for c in [&mut ann, &mut bot] {
        let close = closed(c).await;
        assert_eq!((close["code"].clone(), close["reason"].clone()), (json!(4003), json!("session_revoked")));
    }
    let packets = ann_sio.until_closed().await;
    assert_eq!(packets.last().map(String::as_str), Some("closed 4003"), "{packets:?}");
    let took = started.elapsed();
    eprintln!("a disabled account's connections closed {took:?} after `confab admin disable` returned... (recheck 300 ms)");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let r = login_raw(&server, "ann", PASSWORD, None).await;
    assert_eq!((r.status, code(&r)), (401, "bad_credentials".into()), "a disabled account signs in like a wrong password");
    assert_eq!(code(&call(&server, "GET", "/api/me", Some(&ann_session), None).await), "account_disabled");

    assert!(admin_on(&server, &["enable", "ann"], "").0);
    let fresh = login(&server, "ann", PASSWORD).await;
    let mut ann = Client::with_token(&server, &fresh).await;
    let (ok, out, err) = admin_on(&server, &["reset-password", "ANN"], "brand new password\n");
    assert!(ok && out.contains("session(s) ended"), "{out} {err}");
    assert_eq!(closed(&mut ann).await["code"], 4003);
    assert_eq!(login_raw(&server, "ann", PASSWORD, None).await.status, 401);
    let after = login(&server, "ann", "brand new password").await;

    let tokens = call(&server, "GET", "/api/account/tokens", Some(&after), None).await.json();
    let id = tokens["tokens"][0]["id"].as_str().unwrap().to_string();
    let mut bot = Client::with_token(&server, &secret).await;
    let (ok, out, err) = admin_on(&server, &["token", "revoke", &id], "");
    assert!(ok && out.contains("revoked"), "{out} {err}");
    assert_eq!(closed(&mut bot).await["code"], 4003);
    let (ok, _, err) = admin_on(&server, &["token", "revoke", &id], "");
    assert!(!ok && err.contains("no API token"), "{err}");

    let (ok, invite, err) = admin_on(&server, &["invite"], "");
    assert!(ok && invite.trim().len() == 24, "{invite} {err}");
}

//! Accounts over HTTP as a client meets them: register, sign in, calls with a cookie or a bearer
//! token, and `confab admin` run beside a server.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::{http, HttpResponse, Server};

/// A JSON request with optional bearer token.
pub async fn call(server: &Server, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> HttpResponse {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json"), ("User-Agent", "accounts-test")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    http(server, method, path, &headers, &bytes).await
}

/// Registers `username` with `password`; the answer's JSON (`user`, `token`).
pub async fn register(server: &Server, username: &str, password: &str) -> Value {
    let r = call(server, "POST", "/api/auth/register", None, Some(json!({"username": username, "password": password}))).await;
    assert_eq!(r.status, 200, "register {username}: {}", r.text());
    r.json()
}

/// Signs in; the raw answer.
pub async fn login_raw(server: &Server, username: &str, password: &str, code: Option<&str>) -> HttpResponse {
    let mut body = json!({"username": username, "password": password});
    if let Some(c) = code {
        body["code"] = json!(c);
    }
    call(server, "POST", "/api/auth/login", None, Some(body)).await
}

/// Signs in and returns the session token.
pub async fn login(server: &Server, username: &str, password: &str) -> String {
    let r = login_raw(server, username, password, None).await;
    assert_eq!(r.status, 200, "login {username}: {}", r.text());
    r.json()["token"].as_str().expect("token").to_string()
}

/// The error code of a JSON error answer.
pub fn code(r: &HttpResponse) -> String {
    r.json()["error"]["code"].as_str().unwrap_or_default().to_string()
}

/// Runs `confab admin ARGS` with `stdin` as its standard input (not a terminal); (success, stdout, stderr).
pub fn admin(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_confab"))
        .arg("admin")
        .args(args)
        .env("CONFAB_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run confab admin");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `confab admin` on this server's store (its data dir, or its PostgreSQL schema).
pub fn admin_on(server: &Server, command: &[&str], stdin: &str) -> (bool, String, String) {
    let store = server.store_args();
    let mut args: Vec<&str> = command.to_vec();
    args.extend(store.iter().map(String::as_str));
    admin(&args, stdin)
}

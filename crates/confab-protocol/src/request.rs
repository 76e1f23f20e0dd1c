//! The native protocol's requests, as the client sends them (docs/protocol.md).
//! Unknown fields are ignored so that newer clients can talk to this server.

use confab_core::model::{MessageId, Seq};
use confab_core::{ChatError, ErrorCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

/// A parsed frame: its id (echoed in the answer), its type, and the whole object for the fields.
pub struct Envelope {
    pub id: Value,
    pub kind: String,
    pub body: Value,
}

impl Envelope {
    pub fn parse(text: &str) -> Result<Envelope, (Value, ChatError)> {
        let body: Value = serde_json::from_str(text)
            .map_err(|e| (Value::Null, ChatError::new(ErrorCode::BadFrame, format!("not JSON: {e}"))))?;
        if !body.is_object() {
            return Err((Value::Null, ChatError::new(ErrorCode::BadFrame, "a frame is a JSON object")));
        }
        let id = body.get("id").cloned().unwrap_or(Value::Null);
        if !(id.is_string() || id.is_number()) {
            return Err((id, ChatError::bad_request("every request has an `id`, a string or a number")));
        }
        let kind = match body.get("type").and_then(Value::as_str) {
            Some(k) => k.to_string(),
            None => return Err((id, ChatError::bad_request("every request has a `type`, a string"))),
        };
        Ok(Envelope { id, kind, body })
    }

    /// The request's fields as `T`; a missing or mistyped field is a `bad_request` naming it.
    pub fn fields<T: DeserializeOwned>(&self) -> Result<T, ChatError> {
        T::deserialize(&self.body).map_err(|e| ChatError::bad_request(format!("{}: {e}", self.kind)))
    }
}

#[derive(Deserialize)]
pub struct Hello {
    pub token: Option<String>,
    pub name: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
pub struct Rooms {
    #[serde(default = "yes")]
    pub subscribe: bool,
}

#[derive(Deserialize)]
pub struct RoomOnly {
    pub room: String,
}

#[derive(Deserialize)]
pub struct CreateRoom {
    pub room: String,
    #[serde(default)]
    pub private: bool,
}

#[derive(Deserialize)]
pub struct Invite {
    pub room: String,
    pub max_uses: Option<i64>,
    pub expires_in_secs: Option<u64>,
}

#[derive(Deserialize)]
pub struct AcceptInvite {
    pub code: String,
}

/// A moderation request naming its target: `actor` (an actor id, for `kick`, `ban`, `unban`,
/// `transfer` and `add_member`) or `username` (`add_member`, once accounts exist).
#[derive(Deserialize)]
pub struct Target {
    pub room: String,
    pub actor: Option<String>,
    pub username: Option<String>,
}

/// How a request names a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// By actor id (guests have no username).
    Actor(String),
    /// By an account's username.
    Username(String),
}

impl Target {
    /// Whom the request names: `actor` if given, else `username`.
    pub fn named(&self) -> Result<Named, ChatError> {
        match (&self.actor, &self.username) {
            (Some(a), _) => Ok(Named::Actor(a.clone())),
            (None, Some(u)) => Ok(Named::Username(u.clone())),
            (None, None) => Err(ChatError::bad_request("name the person: `actor` (their id) or `username`")),
        }
    }

    /// The target's actor id, for the requests that take no username.
    pub fn target(&self) -> Result<String, ChatError> {
        match &self.actor {
            Some(a) => Ok(a.clone()),
            None => Err(ChatError::bad_request("give `actor`, the id of the person")),
        }
    }
}

#[derive(Deserialize)]
pub struct SetRole {
    pub room: String,
    pub actor: String,
    pub role: String,
}

#[derive(Deserialize)]
pub struct Join {
    pub room: String,
    pub since: Option<Seq>,
    #[serde(default)]
    pub create: bool,
}

#[derive(Deserialize)]
pub struct Send {
    pub room: String,
    pub text: String,
    pub client_id: Option<String>,
}

#[derive(Deserialize)]
pub struct Edit {
    pub room: String,
    pub message_id: MessageId,
    pub text: String,
}

#[derive(Deserialize)]
pub struct Delete {
    pub room: String,
    pub message_id: MessageId,
}

#[derive(Deserialize)]
pub struct History {
    pub room: String,
    pub before: Option<Seq>,
    pub after: Option<Seq>,
    pub limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors_name_the_problem() {
        assert_eq!(Envelope::parse("{nope").err().unwrap().1.code, ErrorCode::BadFrame);
        assert_eq!(Envelope::parse("[1]").err().unwrap().1.code, ErrorCode::BadFrame);
        let (id, e) = Envelope::parse(r#"{"id":1}"#).err().unwrap();
        assert_eq!((id, e.code), (Value::from(1), ErrorCode::BadRequest));
        let env = Envelope::parse(r#"{"id":"a","type":"send","room":"r"}"#).unwrap();
        let err = env.fields::<Send>().err().unwrap();
        assert!(err.message.contains("text"), "{}", err.message);
    }
}

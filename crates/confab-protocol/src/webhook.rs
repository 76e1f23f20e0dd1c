//! The body of `POST /hooks/{id}/{secret}`: Slack's incoming-webhook payload, as JSON or as the
//! form field `payload=<json>` Slack also accepts (docs/api.md, "Direct and webhooks").

use confab_core::ChatError;
use serde::Deserialize;
use serde_json::Value;

use crate::query::query_param;

/// Slack's incoming-webhook payload: the fields Confab reads (others, such as `channel`,
/// `icon_emoji` or `blocks`, are ignored).
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlackPayload {
    #[serde(default)]
    pub text: String,
    pub username: Option<String>,
}

/// Whether a `Content-Type` value is a URL-encoded form (any case, parameters after it allowed).
pub fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// The payload of a body sent with `content_type`: a form's `payload` field, or else the body
/// itself, as a JSON object. Anything else is `bad_request`.
pub fn payload(content_type: Option<&str>, body: &[u8]) -> Result<SlackPayload, ChatError> {
    let json = if is_form(content_type) {
        let text = std::str::from_utf8(body).map_err(|_| ChatError::bad_request("the form is not UTF-8"))?;
        query_param(text, "payload").ok_or_else(|| ChatError::bad_request("a form body carries the JSON in its `payload` field"))?
    } else {
        String::from_utf8(body.to_vec()).map_err(|_| ChatError::bad_request("the body is not UTF-8"))?
    };
    let value: Value = serde_json::from_str(&json).map_err(|e| ChatError::bad_request(format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ChatError::bad_request(r#"the payload is a JSON object: {"text": "..."}"#));
    }
    SlackPayload::deserialize(value).map_err(|e| ChatError::bad_request(format!("payload: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_core::ErrorCode;

    #[test]
    fn slack_payloads_as_json_and_as_a_form() {
        let p = payload(None, br#"{"text": "build passed", "username": "CI", "icon_emoji": ":x:"}"#).unwrap();
        assert_eq!((p.text.as_str(), p.username.as_deref()), ("build passed", Some("CI")));
        let form = Some("Application/X-WWW-Form-Urlencoded; charset=utf-8");
        let p = payload(form, b"payload=%7B%22text%22%3A%22a+b%22%7D").unwrap();
        assert_eq!((p.text.as_str(), p.username), ("a b", None));
        assert!(payload(form, b"text=hi").is_err(), "a form needs `payload`");
        for bad in [&b"{not json"[..], b"[1]", b"\xff", br#"{"text": 5}"#] {
            assert_eq!(payload(Some("application/json"), bad).err().map(|e| e.code), Some(ErrorCode::BadRequest));
        }
    }
}

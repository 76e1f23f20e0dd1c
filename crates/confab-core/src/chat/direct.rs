//! The chat rules of direct conversations, "my rooms" and incoming webhooks.
//!
//! - Only accounts (kind `user`) open and take part in direct conversations; guests and webhooks never.
//! - `open_direct` names the others; the caller is always one of the members. The same set of people
//!   always gets the same room (the store's unique member key), up to `--direct-max-members`.
//! - A new direct room is announced with a lobby notice of kind `direct` and top sequence 0, which
//!   the server's hub turns into a `direct_opened` notice to the members' own connections only (it
//!   never reaches the lobby: see `fanout::Hub`).
//! - Webhooks belong to one room; its moderators create, list and revoke them. A POST with the right
//!   secret posts a message as the webhook (the secret's hash compared in constant time). Both ask
//!   the authorization gate (`ManageWebhooks`, and `Send` by the webhook's actor), as every action does.

use subtle::ConstantTimeEq;

use super::Chat;
use crate::accounts::username;
use crate::direct::{self, MyRoom, Webhook, WebhookSecret};
use crate::error::{ChatError, ErrorCode, Result};
use crate::authz::Action;
use crate::model::{self, Actor, ActorId, ActorKind, ActorRef, Content, Membership, Role, Room, RoomKind};
use crate::store::{Appended, BoxFuture, NewEvent};

/// Longest webhook name, as display names.
fn webhook_name(raw: &str) -> Result<String> {
    model::display_name(raw)
}

impl Chat {
    /// The direct room of the caller and the people `with` names (by username or account id),
    /// created if it does not exist yet. Returns the room and its members.
    pub async fn open_direct(&self, actor: &Actor, with: &[String]) -> Result<(Room, Vec<ActorRef>)> {
        if actor.kind != ActorKind::User {
            return Err(match actor.kind {
                ActorKind::Guest => ChatError::new(ErrorCode::GuestsNotAllowed, "direct conversations are between accounts: sign in first"),
                _ => ChatError::forbidden("a webhook only posts messages"),
            });
        }
        let max = self.limits.direct_max_members;
        // Each person once, and never the caller: the list checked against the limit before any lookup.
        let mut wanted: Vec<&str> = Vec::new();
        for w in with.iter().map(|w| w.trim()) {
            if w != actor.id.as_str() && !wanted.contains(&w) {
                wanted.push(w);
            }
        }
        if wanted.is_empty() {
            return Err(ChatError::bad_request("open_direct: `with` names at least one person other than yourself"));
        }
        if wanted.len() + 1 > max {
            return Err(direct::too_many_members(max));
        }
        let mut members = vec![ActorRef::from(actor)];
        for raw in wanted {
            let other = self.account(raw).await?.ok_or_else(|| {
                ChatError::new(ErrorCode::UserNotFound, format!("no account {raw:?}"))
            })?;
            if !members.iter().any(|m| m.id == other.id) {
                members.push(ActorRef::from(&other));
            }
        }
        if members.len() < 2 {
            return Err(ChatError::bad_request("open_direct: name someone other than yourself"));
        }
        if members.len() > max {
            return Err(direct::too_many_members(max));
        }
        let key = direct::member_key(&members);
        let opened = self.store.open_direct(&key, &direct::new_direct_name(), &members).await?;
        if opened.created {
            self.sink.room_changed(&self.summary(&opened.room));
        }
        let members = self.store.room_members(opened.room.id).await?.into_iter().map(|(m, _)| m).collect();
        Ok((opened.room, members))
    }

    /// The account `raw` names: an account id (`u_…`), else a username (looked up by its key, so any
    /// spelling that normalises to it). Guests, webhooks and disabled accounts are answered like names
    /// that match nobody.
    async fn account(&self, raw: &str) -> Result<Option<Actor>> {
        if username::unmatchable(raw) {
            return Ok(None);
        }
        let by_id = match raw.starts_with("u_") {
            true => self.store.user(&ActorId::from(raw.to_string())).await?,
            false => None,
        };
        let user = match by_id {
            Some(user) => Some(user),
            None => self.store.user_by_key(&username::lookup_key(raw)).await?,
        };
        Ok(user.filter(|u| !u.disabled && u.actor.kind == ActorKind::User).map(|u| u.actor))
    }

    /// Every room the caller belongs to (public rooms it joined, private rooms, direct rooms), with
    /// its current top sequence and, for direct rooms, the other members.
    pub async fn my_rooms(&self, actor: &Actor) -> Result<Vec<MyRoom>> {
        let mut out = Vec::new();
        for (room, role) in self.store.my_rooms(&actor.id).await? {
            let members = match room.kind {
                // Guests and webhooks are never in one; a stray membership stays hidden.
                RoomKind::Direct if actor.kind != ActorKind::User => continue,
                RoomKind::Direct => Some(
                    self.store
                        .room_members(room.id)
                        .await?
                        .into_iter()
                        .map(|(m, _)| m)
                        .filter(|m| m.id != actor.id)
                        .collect(),
                ),
                _ => None,
            };
            out.push(MyRoom { name: room.name, kind: room.kind, role, top_seq: room.top_seq, members });
        }
        Ok(out)
    }

    /// Asks the gate whether the actor may manage the room's webhooks (`ManageWebhooks`: its
    /// moderators and owner, administrators in public rooms; never in a direct conversation, never a
    /// webhook). Someone who may not see the room gets `room_not_found`, as for a room that does not exist.
    async fn moderates(&self, actor: &Actor, room: &Room) -> Result<()> {
        let m = self.store.membership(room.id, &actor.id).await?;
        self.allow_in(actor, room, m, Action::ManageWebhooks)
    }

    /// Creates a webhook for the room; `secret_hash` is the hash of the secret the caller shows once.
    pub async fn create_webhook(&self, actor: &Actor, room: &Room, name: &str, secret_hash: &[u8]) -> Result<Webhook> {
        self.moderates(actor, room).await?;
        let name = webhook_name(name)?;
        self.store.create_webhook(room.id, &name, secret_hash, &actor.id).await
    }

    pub async fn webhooks(&self, actor: &Actor, room: &Room) -> Result<Vec<Webhook>> {
        self.moderates(actor, room).await?;
        self.store.webhooks(room.id).await
    }

    pub async fn revoke_webhook(&self, actor: &Actor, room: &Room, id: &str) -> Result<()> {
        self.moderates(actor, room).await?;
        let id = ActorId::from(id.to_string());
        match self.store.revoke_webhook(room.id, &id).await? {
            true => Ok(()),
            false => Err(webhook_not_found()),
        }
    }

    /// The live webhook `id` whose secret hashes to `secret_hash`. Unknown, revoked and a wrong
    /// secret get one answer, `webhook_not_found`; the hashes are compared in constant time. An id
    /// that no webhook can have (not `w_…`, or with a control character: PostgreSQL refuses NUL in
    /// text) is not looked up.
    pub async fn webhook(&self, id: &str, secret_hash: &[u8]) -> Result<WebhookSecret> {
        if !id.starts_with("w_") || id.chars().any(char::is_control) {
            return Err(webhook_not_found());
        }
        let found = self.store.webhook(&ActorId::from(id.to_string())).await?;
        match found {
            Some(hook) if bool::from(hook.secret_hash.as_slice().ct_eq(secret_hash)) => Ok(hook),
            _ => Err(webhook_not_found()),
        }
    }

    /// Posts a message as the webhook, into its room, under `username` (validated as a display
    /// name) or the webhook's name, once the gate allows it (`Send` by a `webhook` actor); resolves
    /// once stored. The webhook is a member of its own room (its row binds it there) unless a
    /// moderator banned its actor: then the gate refuses it, `forbidden` in a public room. In a
    /// private room the gate answers `room_not_found`, which a webhook POST turns into
    /// `webhook_not_found`, so that the URL's holder does not learn the room's name.
    pub async fn post_webhook(&self, hook: &WebhookSecret, text: &str, username: Option<&str>) -> Result<BoxFuture<Result<Appended>>> {
        let me = Actor { id: hook.webhook.id.clone(), name: hook.webhook.name.clone(), kind: ActorKind::Webhook, admin: false };
        let room = &hook.room;
        let m = self.store.membership(room.id, &me.id).await?;
        // Its webhook row makes it a member of its room, whatever the membership says; a ban ends that.
        let m = Membership { role: (!m.banned).then_some(Role::Member), ..m };
        self.allow_in(&me, room, m, Action::Send).map_err(|e| match e.code {
            ErrorCode::RoomNotFound => webhook_not_found(),
            _ => e,
        })?;
        let text = model::message_text(text, &self.limits)?;
        let name = match username.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => model::display_name(u)?,
            None => hook.webhook.name.clone(),
        };
        let actor = ActorRef { id: me.id, name };
        Ok(self.store.append(room, actor, NewEvent::Message { content: Content { text }, client_id: None }))
    }
}

fn webhook_not_found() -> ChatError {
    ChatError::new(ErrorCode::WebhookNotFound, "no such webhook (unknown, revoked, or a wrong secret)")
}

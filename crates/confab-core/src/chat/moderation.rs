//! Private rooms' doors and a room's moderation: invites, adding members, roles, hand-over, kicks and
//! bans. Each change that members see is an event in the room's log (`added`, `role`, `kick`, `ban`,
//! `unban`), appended through the store, which applies the membership change in the same transaction.
//! Kicks and bans reach every node through the log itself: each connection of the target leaves the
//! room as it delivers the event (see the server's `conn::sequencer`).

use crate::authz::{Action, Standing};
use crate::error::{ChatError, ErrorCode, Result};
use crate::model::{now_ms, Actor, ActorId, ActorKind, ActorRef, Member, NewInvite, Role, Room};
use crate::store::{Appended, NewEvent};

use super::Chat;

/// An invite just made. The code itself is the caller's (it handed the store only its hash).
#[derive(Debug, Clone)]
pub struct InviteCreated {
    pub room: Room,
    pub expires_at: i64,
    pub max_uses: i64,
}

fn bad_target(why: &str) -> ChatError {
    ChatError::new(ErrorCode::BadTarget, why)
}

/// A member as the member list shows it: stored role, and whether it is live in the room now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MemberView {
    #[serde(flatten)]
    pub member: Member,
    pub online: bool,
}

impl Chat {
    /// The visible room (`room_not_found` otherwise) and the actor's standing there.
    async fn room_and_standing(&self, actor: &Actor, name: &str) -> Result<(Room, crate::model::Membership)> {
        let room = self.visible_room(Some(actor), name).await?;
        let membership = self.store.membership(room.id, &actor.id).await?;
        Ok((room, membership))
    }

    /// Asks the gate about `action` in `room` for `actor` with this membership.
    pub(super) fn allow_in(&self, actor: &Actor, room: &Room, m: crate::model::Membership, action: Action<'_>) -> Result<()> {
        let standing = Standing { room: &room.name, kind: room.kind, role: m.role, banned: m.banned, ..Standing::default() };
        self.allow(Some(actor), action, &standing)
    }

    /// The actor named by a moderation request, with its membership; `bad_target` if there is none.
    async fn target(&self, room: &Room, id: &str) -> Result<(Actor, crate::model::Membership)> {
        // Ids are letters, digits and `_`: one with a control character is nobody's, and is not
        // looked up (PostgreSQL refuses a NUL in the query's text).
        if id.chars().any(char::is_control) {
            return Err(bad_target("no such person"));
        }
        let id = ActorId::from(id.to_string());
        let Some(target) = self.store.actor(&id).await? else {
            return Err(bad_target("no such person"));
        };
        let membership = self.store.membership(room.id, &id).await?;
        Ok((target, membership))
    }

    async fn log(&self, room: &Room, actor: &Actor, new: NewEvent) -> Result<Appended> {
        self.store.append(room, ActorRef::from(actor), new).await
    }

    /// A new invite to `room` (moderators). `code_hash` is the hash of the code the caller hands out.
    pub async fn invite(
        &self,
        actor: &Actor,
        name: &str,
        code_hash: Vec<u8>,
        max_uses: Option<i64>,
        expires_in_secs: Option<u64>,
    ) -> Result<InviteCreated> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        self.allow_in(actor, &room, m, Action::Invite)?;
        let limits = &self.limits;
        let max_uses = max_uses.unwrap_or(limits.invite_default_uses);
        if !(1..=limits.invite_max_uses).contains(&max_uses) {
            return Err(ChatError::bad_request(format!("max_uses is between 1 and {}", limits.invite_max_uses)));
        }
        let ttl = expires_in_secs.unwrap_or(limits.invite_default_ttl.as_secs());
        if ttl == 0 || ttl > limits.invite_max_ttl.as_secs() {
            return Err(ChatError::bad_request(format!(
                "expires_in_secs is between 1 and {}",
                limits.invite_max_ttl.as_secs()
            )));
        }
        let now = now_ms();
        let expires_at = now.saturating_add((ttl as i64).saturating_mul(1000));
        let invite = NewInvite { room: room.id, code_hash, created_by: actor.id.clone(), created_at: now, expires_at, max_uses };
        self.store.create_room_invite(&invite).await?;
        Ok(InviteCreated { room, expires_at, max_uses })
    }

    /// Accepts an invite: the actor becomes a member (an `added` event naming itself). Every way an
    /// invite can fail (unknown, expired, used up) is the one answer `invite_invalid`; a banned actor
    /// stays out (`forbidden`: it knows the room already, since it holds its invite).
    pub async fn accept_invite(&self, actor: &Actor, code_hash: &[u8]) -> Result<Room> {
        if actor.kind == ActorKind::Webhook {
            return Err(ChatError::forbidden("webhooks only post messages"));
        }
        if actor.kind == ActorKind::Guest && self.policy().guests != crate::authz::GuestAccess::On {
            return Err(ChatError::new(ErrorCode::GuestsNotAllowed, "guests cannot accept invites on this server: sign in"));
        }
        let room = self.store.use_room_invite(code_hash, now_ms()).await?;
        let m = self.store.membership(room.id, &actor.id).await?;
        if m.banned {
            return Err(ChatError::forbidden("you are banned from this room"));
        }
        if m.role.is_none() {
            self.log(&room, actor, NewEvent::Added { target: ActorRef::from(actor) }).await?;
        }
        Ok(room)
    }

    /// A moderator adds an account by username (as `add_member` by id); `bad_target` if there is no
    /// such account.
    pub async fn add_member_by_username(&self, actor: &Actor, name: &str, username: &str) -> Result<Appended> {
        let key = crate::accounts::username::lookup_key(username);
        let found = match crate::accounts::username::unmatchable(username) {
            true => None,
            false => self.store.user_by_key(&key).await?,
        };
        let Some(user) = found else {
            // Asked only after the gate: a non-moderator learns nothing about who has an account.
            let (room, m) = self.room_and_standing(actor, name).await?;
            self.allow_in(actor, &room, m, Action::Invite)?;
            return Err(bad_target("no account with this username"));
        };
        self.add_member(actor, name, user.actor.id.as_str()).await
    }

    /// A moderator adds someone by id: an `added` event.
    pub async fn add_member(&self, actor: &Actor, name: &str, target: &str) -> Result<Appended> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        self.allow_in(actor, &room, m, Action::Invite)?;
        let (target, tm) = self.target(&room, target).await?;
        if tm.banned {
            return Err(bad_target("this person is banned from the room: unban them first"));
        }
        if tm.role.is_some() {
            return Err(bad_target("this person is already a member"));
        }
        if target.kind == ActorKind::Webhook {
            return Err(bad_target("webhooks are not added as members"));
        }
        self.log(&room, actor, NewEvent::Added { target: ActorRef::from(&target) }).await
    }

    /// The owner makes a member a moderator, or a moderator a member again: a `role` event.
    pub async fn set_role(&self, actor: &Actor, name: &str, target: &str, role: &str) -> Result<Appended> {
        let role = match Role::parse(role) {
            Some(r @ (Role::Member | Role::Moderator)) => r,
            _ => return Err(ChatError::bad_request("role is \"member\" or \"moderator\" (ownership moves with transfer)")),
        };
        let (room, m) = self.room_and_standing(actor, name).await?;
        let (target, tm) = self.target(&room, target).await?;
        self.allow_in(actor, &room, m, Action::SetRole { target: tm.role })?;
        if tm.role.is_none() {
            return Err(bad_target("only a member's role can change"));
        }
        self.log(&room, actor, NewEvent::Role { target: ActorRef::from(&target), role }).await
    }

    /// The owner hands ownership to a member, and becomes a moderator: two `role` events, the new
    /// owner's first (if the second failed, the room would have two owners, never none).
    pub async fn transfer(&self, actor: &Actor, name: &str, target: &str) -> Result<Appended> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        self.allow_in(actor, &room, m, Action::Transfer)?;
        let (target, tm) = self.target(&room, target).await?;
        if target.id == actor.id {
            return Err(bad_target("you already own this room"));
        }
        if tm.role.is_none() || target.kind != ActorKind::User && target.kind != ActorKind::Guest {
            return Err(bad_target("ownership goes to a member of the room"));
        }
        self.log(&room, actor, NewEvent::Role { target: ActorRef::from(&target), role: Role::Owner }).await?;
        self.log(&room, actor, NewEvent::Role { target: ActorRef::from(actor), role: Role::Moderator }).await
    }

    /// Removes a member (a `kick` event): its membership ends and its connections leave the room.
    pub async fn kick(&self, actor: &Actor, name: &str, target: &str) -> Result<Appended> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        let (target, tm) = self.target(&room, target).await?;
        self.allow_in(actor, &room, m, Action::Kick { target: tm.role })?;
        if target.id == actor.id {
            return Err(bad_target("leave the room instead of kicking yourself"));
        }
        if tm.role.is_none() && !self.presence.has(room.id, &target.id) {
            return Err(bad_target("this person is not in the room"));
        }
        self.log(&room, actor, NewEvent::Kick { target: ActorRef::from(&target) }).await
    }

    /// Bans someone (a `ban` event): no membership, no joining, no history, and its connections leave.
    pub async fn ban(&self, actor: &Actor, name: &str, target: &str) -> Result<Appended> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        let (target, tm) = self.target(&room, target).await?;
        self.allow_in(actor, &room, m, Action::Ban { target: tm.role })?;
        if target.id == actor.id {
            return Err(bad_target("you cannot ban yourself"));
        }
        if tm.banned {
            return Err(bad_target("this person is already banned"));
        }
        self.log(&room, actor, NewEvent::Ban { target: ActorRef::from(&target) }).await
    }

    /// Lifts a ban (an `unban` event). The person is not a member again: it joins a public room, or
    /// needs a new invite to a private one.
    pub async fn unban(&self, actor: &Actor, name: &str, target: &str) -> Result<Appended> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        let (target, tm) = self.target(&room, target).await?;
        self.allow_in(actor, &room, m, Action::Ban { target: None })?;
        if !tm.banned {
            return Err(bad_target("this person is not banned"));
        }
        self.log(&room, actor, NewEvent::Unban { target: ActorRef::from(&target) }).await
    }

    /// The room's banned actors (moderators).
    pub async fn bans(&self, actor: &Actor, name: &str) -> Result<Vec<ActorRef>> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        self.allow_in(actor, &room, m, Action::Ban { target: None })?;
        self.store.bans(room.id).await
    }

    /// The room's stored members with their roles and whether each is live now (for a private room,
    /// members only; banned actors are not members, so never listed).
    pub async fn member_list(&self, actor: &Actor, name: &str) -> Result<(Room, Vec<MemberView>)> {
        let (room, m) = self.room_and_standing(actor, name).await?;
        self.allow_in(actor, &room, m, Action::Read)?;
        let live = self.roster.members(room.id).await.unwrap_or_else(|_| self.presence.members(room.id));
        let members = self
            .store
            .members_of(room.id)
            .await?
            .into_iter()
            .map(|member| MemberView { online: live.iter().any(|l| l.id == member.id), member })
            .collect();
        Ok((room, members))
    }
}

//! Authorization in one place: every action, from either protocol or HTTP, asks [`authorize`] whether
//! this actor may do it in this room, given the actor's [`Standing`] there and the server's [`Policy`].
//! Callers never decide themselves; they gather the standing (role, ban, room kind) and ask.
//!
//! The rules, which the matrix test below walks cell by cell:
//! - **Visibility first.** A private room or a direct conversation exists only for its members: to
//!   anyone else (a non-member, a banned actor, an administrator who is not in it) every action is
//!   `room_not_found`, with exactly the message a missing room gets. Public rooms are visible to all.
//! - **Nobody anonymous** does anything but list public rooms (and not even that when guests are off).
//! - **Guests** follow `--guests`: `off` refuses them everything (`guests_not_allowed`), `public` lets
//!   them into public rooms only, `on` also into private rooms they were invited to. Never into direct
//!   conversations, and they never create private rooms unless `on`.
//! - **Banned** actors can do nothing in the room (a public room answers `forbidden`, a private one
//!   `room_not_found`, since a ban ends the membership).
//! - **Members** read, join, send; authors edit and delete their own messages.
//! - **Moderators** (and owners) delete others' messages, invite, add members, kick, ban and unban;
//!   only the owner acts on moderators (kick, ban, role), and nobody acts on the owner. Only the owner
//!   changes roles and hands ownership over. Moderation does not exist in direct conversations.
//! - **Administrators** moderate public rooms (as a moderator would), and have no access at all to
//!   private rooms or direct conversations they are not members of.
//! - **Webhooks** only post, and only into rooms where they have a membership (the webhook's room).
//! - **API tokens** act as their account in rooms (the few things a token may not do are account
//!   matters, refused by the account routes, not here).
//!
//! Fail closed: the enums are closed (a kind read from the database that the code does not know is
//! an error where it is read), every `match` below is exhaustive, and the fall-through answer is "no".

use crate::error::{ChatError, ErrorCode, Result};
use crate::model::{Actor, ActorId, ActorKind, Role, RoomKind};

/// Who may come in without an account (the `--guests` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuestAccess {
    /// Only accounts: an anonymous connection is refused on every protocol.
    Off,
    /// Guests may be in public rooms only.
    Public,
    /// Guests may do what accounts do in public and private rooms (never in direct conversations).
    #[default]
    On,
}

impl GuestAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestAccess::Off => "off",
            GuestAccess::Public => "public",
            GuestAccess::On => "on",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "off" => Some(GuestAccess::Off),
            "public" => Some(GuestAccess::Public),
            "on" => Some(GuestAccess::On),
            _ => None,
        }
    }
}

/// The server's settings that the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    pub guests: GuestAccess,
}

/// How the request was authenticated (the server keeps it beside the actor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Credential {
    /// A guest or account session (a token from `hello`/`POST /api/guest`, or the session cookie).
    #[default]
    Session,
    /// A long-lived API token of an account; it acts as the account in rooms.
    ApiToken,
}

/// What the actor wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// See the room in a list (native `rooms`, `GET /api/rooms`, Socket.IO `update_rooms`).
    List,
    /// Create a room of this kind.
    CreateRoom { kind: RoomKind },
    /// Join a room (and so read its history).
    Join,
    /// Read history or the member list.
    Read,
    Send,
    Edit { author: &'a ActorId },
    Delete { author: &'a ActorId },
    /// Create an invite link, or add someone by name (moderators).
    Invite,
    /// Kick someone whose role there is `target` (`None`: not a member).
    Kick { target: Option<Role> },
    /// Ban (or unban) someone whose role there is `target`.
    Ban { target: Option<Role> },
    /// Make someone whose role is `target` a moderator or a member again (the owner).
    SetRole { target: Option<Role> },
    /// Hand ownership over (the owner).
    Transfer,
    /// Create, list or revoke the room's incoming webhooks (moderators).
    ManageWebhooks,
}

impl Action<'_> {
    /// Whether the action needs the connection to be in the room (live) first.
    fn needs_joined(&self) -> bool {
        matches!(self, Action::Send | Action::Edit { .. } | Action::Delete { .. })
    }
}

/// The actor's standing in the room the action is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing<'a> {
    /// The room's name, for the `room_not_found` answer (the same message as for a missing room).
    pub room: &'a str,
    pub kind: RoomKind,
    /// Stored role: `None` if the actor is not a member.
    pub role: Option<Role>,
    /// Whether the actor is banned from the room.
    pub banned: bool,
    /// Whether this connection has joined the room (is live in it). HTTP requests never are.
    pub joined: bool,
    pub credential: Credential,
}

fn guests_not_allowed() -> ChatError {
    ChatError::new(ErrorCode::GuestsNotAllowed, "guests are not allowed here on this server: sign in with an account")
}

/// May `actor` (`None`: nobody signed in) do `action`, standing as `standing`, under `policy`?
pub fn authorize(actor: Option<&Actor>, action: Action<'_>, standing: &Standing<'_>, policy: &Policy) -> Result<()> {
    let public = standing.kind == RoomKind::Public;
    let Some(actor) = actor else {
        return match action {
            Action::List if public && policy.guests != GuestAccess::Off => Ok(()),
            Action::List if !public => Err(ChatError::room_not_found(standing.room)),
            _ => Err(ChatError::new(ErrorCode::Unauthenticated, "sign in or say your name first")),
        };
    };
    let member = standing.role.is_some() && !standing.banned;
    // Invisible: the same answer as for a room that does not exist, whoever asks.
    if !public && !member {
        return Err(ChatError::room_not_found(standing.room));
    }
    match (actor.kind, policy.guests, standing.kind) {
        (ActorKind::Guest, GuestAccess::Off, _) => return Err(guests_not_allowed()),
        (ActorKind::Guest, _, RoomKind::Direct) => return Err(guests_not_allowed()),
        (ActorKind::Guest, GuestAccess::Public, RoomKind::Private) => return Err(guests_not_allowed()),
        (ActorKind::Guest, GuestAccess::Public | GuestAccess::On, _) | (ActorKind::User | ActorKind::Webhook, _, _) => {}
    }
    if let Action::List = action {
        return Ok(());
    }
    if let Action::CreateRoom { kind } = action {
        return match (actor.kind, kind) {
            (ActorKind::Webhook, _) => Err(ChatError::forbidden("webhooks only post messages")),
            (_, RoomKind::Direct) => Err(ChatError::bad_request("direct conversations are opened with open_direct")),
            (ActorKind::Guest, RoomKind::Private) if policy.guests != GuestAccess::On => Err(guests_not_allowed()),
            (ActorKind::Guest | ActorKind::User, RoomKind::Public | RoomKind::Private) => Ok(()),
        };
    }
    if standing.banned {
        return Err(ChatError::forbidden("you are banned from this room"));
    }
    if actor.kind == ActorKind::Webhook {
        return match action {
            Action::Send if member => Ok(()),
            _ => Err(ChatError::forbidden("webhooks only post messages into their own room")),
        };
    }
    if action.needs_joined() && !standing.joined {
        return Err(ChatError::new(ErrorCode::NotJoined, "join the room first"));
    }
    let role = standing.role;
    let owner = role == Some(Role::Owner);
    // Administrators moderate public rooms; in others they are whatever their membership says.
    let moderator = role.is_some_and(Role::moderates) || (actor.admin && public);
    let direct = standing.kind == RoomKind::Direct;
    let no_moderation = || ChatError::forbidden("direct conversations have no moderation");
    let only_moderators = || ChatError::forbidden("only a room moderator may do this");
    let only_owner = || ChatError::forbidden("only the room's owner may do this");
    match action {
        Action::CreateRoom { .. } | Action::List | Action::Join | Action::Read => Ok(()),
        Action::Send => Ok(()),
        Action::Edit { author } if *author == actor.id => Ok(()),
        Action::Edit { .. } => Err(ChatError::forbidden("only the author may edit this message")),
        Action::Delete { author } if *author == actor.id => Ok(()),
        Action::Delete { .. } if moderator && !direct => Ok(()),
        Action::Delete { .. } => Err(ChatError::forbidden("only the author or a room moderator may delete this message")),
        _ if direct => Err(no_moderation()),
        Action::Invite | Action::ManageWebhooks if moderator => Ok(()),
        Action::Invite | Action::ManageWebhooks => Err(only_moderators()),
        Action::Kick { target } | Action::Ban { target } => match target {
            Some(Role::Owner) => Err(ChatError::forbidden("nobody may kick or ban the room's owner")),
            Some(Role::Moderator) if owner => Ok(()),
            Some(Role::Moderator) => Err(ChatError::forbidden("only the owner may kick or ban a moderator")),
            Some(Role::Member) | None if moderator => Ok(()),
            Some(Role::Member) | None => Err(only_moderators()),
        },
        Action::SetRole { target: Some(Role::Owner) } => {
            Err(ChatError::forbidden("the owner's role changes only by handing ownership over"))
        }
        Action::SetRole { .. } | Action::Transfer if owner => Ok(()),
        Action::SetRole { .. } | Action::Transfer => Err(only_owner()),
    }
}

#[cfg(test)]
mod tests {
    //! The whole matrix: every kind of actor × every action × public, private, direct. Each row of
    //! [`RULES`] reads as the policy; the test builds the standing of each column and checks every cell.
    use super::*;

    /// The columns: who is asking.
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
        Admin,
        ApiToken,
        Webhook,
    }
    use Who::*;
    const EVERYONE: [Who; 11] = [Anonymous, Guest, NonMember, Member, Author, Moderator, Owner, Banned, Admin, ApiToken, Webhook];

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

    /// What a cell expects.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Want {
        Yes,
        /// Refused with this code.
        No(ErrorCode),
    }
    use Want::*;
    const HIDDEN: Want = No(ErrorCode::RoomNotFound);
    const FORBIDDEN: Want = No(ErrorCode::Forbidden);
    const ANON: Want = No(ErrorCode::Unauthenticated);
    const NOT_JOINED: Want = No(ErrorCode::NotJoined);

    /// One row per action: the answer in a public, a private and a direct room for each column, in
    /// the order of [`EVERYONE`]: anonymous, guest (a member, under `--guests on`), non-member, member,
    /// author (of the message acted on), moderator, owner, banned, administrator (not a member),
    /// API token (of a member), webhook (of the room). The target of kick/ban/role is a plain member.
    /// Nobody makes a guest or a webhook a member of a direct conversation, so in the direct column
    /// those two stand outside it (a stray guest membership is `guest_access_settings`'s). The server's
    /// end-to-end walk (crates/confab-server/tests/authz_matrix.rs) includes this same table (`src/authz_matrix.rs`).
    /// One room kind's answers, a column each.
    type Row = [Want; 11];

    const RULES: &[(Act, Row, Row, Row)] = include!("authz_matrix.rs");

    fn id(s: &str) -> ActorId {
        ActorId::from(s.to_string())
    }

    /// The actor and its standing for one column.
    fn column(who: Who, kind: RoomKind) -> (Option<Actor>, Standing<'static>) {
        let user = |admin| Actor { id: id("u_me"), name: "me".into(), kind: ActorKind::User, admin };
        let standing = |role, banned, credential| Standing { room: "r", kind, role, banned, joined: true, credential };
        let s = Credential::Session;
        match who {
            Anonymous => (None, standing(None, false, s)),
            Guest => (Some(Actor::guest(id("g_me"), "me")), standing((kind != RoomKind::Direct).then_some(Role::Member), false, s)),
            NonMember => (Some(user(false)), Standing { joined: false, ..standing(None, false, s) }),
            Member | Author => (Some(user(false)), standing(Some(Role::Member), false, s)),
            Moderator => (Some(user(false)), standing(Some(Role::Moderator), false, s)),
            Owner => (Some(user(false)), standing(Some(Role::Owner), false, s)),
            Banned => (Some(user(false)), standing(None, true, s)),
            Admin => (Some(user(true)), Standing { joined: kind == RoomKind::Public, ..standing(None, false, s) }),
            ApiToken => (Some(user(false)), standing(Some(Role::Member), false, Credential::ApiToken)),
            Webhook => (
                Some(Actor { id: id("w_hook"), name: "ci".into(), kind: ActorKind::Webhook, admin: false }),
                standing((kind != RoomKind::Direct).then_some(Role::Member), false, s),
            ),
        }
    }

    fn ask(who: Who, act: Act, kind: RoomKind) -> Want {
        let (actor, standing) = column(who, kind);
        let other = id("u_other");
        // The author column acts on its own message; everyone else on someone else's.
        let author = match (who, &actor) {
            (Author, Some(a)) => a.id.clone(),
            _ => other.clone(),
        };
        let action = match act {
            Act::List => Action::List,
            Act::History => Action::Read,
            Act::Join => Action::Join,
            Act::Send => Action::Send,
            Act::Edit => Action::Edit { author: &author },
            Act::Delete => Action::Delete { author: &author },
            Act::Invite => Action::Invite,
            Act::Kick => Action::Kick { target: Some(Role::Member) },
            Act::Ban => Action::Ban { target: Some(Role::Member) },
            Act::ChangeRole => Action::SetRole { target: Some(Role::Member) },
            Act::CreateWebhook => Action::ManageWebhooks,
        };
        let policy = Policy { guests: GuestAccess::On };
        match authorize(actor.as_ref(), action, &standing, &policy) {
            Ok(()) => Yes,
            Err(e) => No(e.code),
        }
    }

    #[test]
    fn matrix() {
        let mut failures = Vec::new();
        for (act, public, private, direct) in RULES {
            for (kind, row) in [(RoomKind::Public, public), (RoomKind::Private, private), (RoomKind::Direct, direct)] {
                for (who, want) in EVERYONE.iter().zip(row) {
                    let got = ask(*who, *act, kind);
                    if got != *want {
                        failures.push(format!("{act:?} by {who:?} in a {} room: want {want:?}, got {got:?}", kind.as_str()));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
    }

    /// A hidden room's refusal is word for word the one for a missing room.
    #[test]
    fn hidden_is_the_same_as_missing() {
        let (actor, standing) = column(NonMember, RoomKind::Private);
        let hidden = authorize(actor.as_ref(), Action::Join, &standing, &Policy::default()).unwrap_err();
        let missing = ChatError::room_not_found("r");
        assert_eq!((hidden.code, hidden.message), (missing.code, missing.message));
    }

    /// `--guests public` keeps guests out of private rooms even when they are members, and `off` out of
    /// everything; only accounts create private rooms then.
    #[test]
    fn guest_access_settings() {
        let guest = Actor::guest(id("g_me"), "me");
        let member = |kind| Standing { room: "r", kind, role: Some(Role::Member), joined: true, ..Standing::default() };
        let public = Policy { guests: GuestAccess::Public };
        let off = Policy { guests: GuestAccess::Off };
        let code = |r: Result<()>| r.err().map(|e| e.code);
        assert_eq!(code(authorize(Some(&guest), Action::Send, &member(RoomKind::Public), &public)), None);
        assert_eq!(code(authorize(Some(&guest), Action::Send, &member(RoomKind::Private), &public)), Some(ErrorCode::GuestsNotAllowed));
        assert_eq!(code(authorize(Some(&guest), Action::Send, &member(RoomKind::Public), &off)), Some(ErrorCode::GuestsNotAllowed));
        // A guest membership of a direct conversation (none is ever made) is refused under every setting.
        for policy in [public, off, Policy::default()] {
            assert_eq!(code(authorize(Some(&guest), Action::Read, &member(RoomKind::Direct), &policy)), Some(ErrorCode::GuestsNotAllowed));
        }
        let create = |kind| Action::CreateRoom { kind };
        let nowhere = Standing::default();
        assert_eq!(code(authorize(Some(&guest), create(RoomKind::Private), &nowhere, &public)), Some(ErrorCode::GuestsNotAllowed));
        assert_eq!(code(authorize(Some(&guest), create(RoomKind::Public), &nowhere, &public)), None);
        assert_eq!(code(authorize(Some(&guest), create(RoomKind::Private), &nowhere, &Policy::default())), None);
        assert_eq!(code(authorize(None, Action::List, &nowhere, &off)), Some(ErrorCode::Unauthenticated));
    }

    /// Moderators act on members only; the owner on moderators too; nobody on the owner.
    #[test]
    fn who_acts_on_whom() {
        let me = Actor { id: id("u_me"), name: "me".into(), kind: ActorKind::User, admin: false };
        let as_role = |role| Standing { room: "r", kind: RoomKind::Private, role: Some(role), joined: true, ..Standing::default() };
        let code = |role, action| authorize(Some(&me), action, &as_role(role), &Policy::default()).err().map(|e| e.code);
        let f = Some(ErrorCode::Forbidden);
        assert_eq!(code(Role::Moderator, Action::Kick { target: Some(Role::Moderator) }), f);
        assert_eq!(code(Role::Moderator, Action::Ban { target: Some(Role::Owner) }), f);
        assert_eq!(code(Role::Owner, Action::Ban { target: Some(Role::Moderator) }), None);
        assert_eq!(code(Role::Owner, Action::Kick { target: Some(Role::Owner) }), f);
        assert_eq!(code(Role::Moderator, Action::Ban { target: None }), None, "ban someone not (or no longer) a member");
        assert_eq!(code(Role::Moderator, Action::SetRole { target: Some(Role::Member) }), f);
        assert_eq!(code(Role::Owner, Action::SetRole { target: Some(Role::Moderator) }), None);
        assert_eq!(code(Role::Owner, Action::SetRole { target: Some(Role::Owner) }), f);
        assert_eq!(code(Role::Moderator, Action::Transfer), f);
        assert_eq!(code(Role::Owner, Action::Transfer), None);
    }
}

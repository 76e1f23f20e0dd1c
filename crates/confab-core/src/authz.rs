//! Authorization in one place: every action, from either protocol or HTTP, asks [`authorize`] whether
//! this actor may do it in this room. Today's rules are few (public rooms, authors edit their own
//! messages, moderators delete any); private rooms, bans and admins extend this function, not its callers.

use crate::error::{ChatError, ErrorCode, Result};
use crate::model::{Actor, ActorId, Role, RoomKind};

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

/// What the actor wants to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    CreateRoom,
    /// Join a room (and so read its history).
    Join,
    /// Read history or the member list.
    Read,
    Send,
    Edit { author: &'a ActorId },
    Delete { author: &'a ActorId },
}

/// The actor's standing in the room the action is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Standing {
    pub kind: RoomKind,
    /// Stored role, if the actor ever joined or created the room.
    pub role: Option<Role>,
    /// Whether this connection has joined the room (is live in it).
    pub joined: bool,
}

pub fn authorize(actor: &Actor, action: Action<'_>, standing: &Standing) -> Result<()> {
    let visible = standing.kind == RoomKind::Public || standing.role.is_some();
    let moderator = standing.role.is_some_and(Role::moderates);
    match action {
        Action::CreateRoom => Ok(()),
        Action::Join | Action::Read if visible => Ok(()),
        Action::Join | Action::Read => Err(ChatError::forbidden("this room is private")),
        Action::Send | Action::Edit { .. } | Action::Delete { .. } if !standing.joined => Err(ChatError::new(
            ErrorCode::NotJoined,
            "join the room first",
        )),
        Action::Send => Ok(()),
        Action::Edit { author } if *author == actor.id => Ok(()),
        Action::Edit { .. } => Err(ChatError::forbidden("only the author may edit this message")),
        Action::Delete { author } if *author == actor.id || moderator => Ok(()),
        Action::Delete { .. } => Err(ChatError::forbidden(
            "only the author or a room moderator may delete this message",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: &str) -> Actor {
        Actor::guest(ActorId::from(id.to_string()), "sam")
    }

    /// The whole matrix of today's rules: who may do what, in a public room.
    #[test]
    fn matrix() {
        let me = actor("g_me");
        let other = ActorId::from("g_other".to_string());
        let mine = me.id.clone();
        // (name, role, joined, action, expected error)
        type Case<'a> = (&'a str, Option<Role>, bool, Action<'a>, Option<ErrorCode>);
        let cases: Vec<Case> = vec![
            ("create", None, false, Action::CreateRoom, None),
            ("join public", None, false, Action::Join, None),
            ("send not joined", Some(Role::Member), false, Action::Send, Some(ErrorCode::NotJoined)),
            ("send joined", Some(Role::Member), true, Action::Send, None),
            ("edit own", Some(Role::Member), true, Action::Edit { author: &mine }, None),
            ("edit other's", Some(Role::Member), true, Action::Edit { author: &other }, Some(ErrorCode::Forbidden)),
            ("moderator edits other's", Some(Role::Moderator), true, Action::Edit { author: &other }, Some(ErrorCode::Forbidden)),
            ("delete own", Some(Role::Member), true, Action::Delete { author: &mine }, None),
            ("delete other's", Some(Role::Member), true, Action::Delete { author: &other }, Some(ErrorCode::Forbidden)),
            ("moderator deletes other's", Some(Role::Moderator), true, Action::Delete { author: &other }, None),
            ("owner deletes other's", Some(Role::Owner), true, Action::Delete { author: &other }, None),
            ("delete not joined", Some(Role::Owner), false, Action::Delete { author: &mine }, Some(ErrorCode::NotJoined)),
        ];
        for (name, role, joined, action, want) in cases {
            let got = authorize(&me, action, &Standing { kind: RoomKind::Public, role, joined });
            assert_eq!(got.err().map(|e| e.code), want, "{name}");
        }
        let private = Standing { kind: RoomKind::Private, role: None, joined: false };
        assert_eq!(authorize(&me, Action::Join, &private).unwrap_err().code, ErrorCode::Forbidden);
    }
}

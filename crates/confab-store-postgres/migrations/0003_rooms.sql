-- Private rooms, invites and bans (issue 15, rooms). Memberships already carry the role; a kick or a
-- ban deletes the membership, and a ban is kept here so that the actor cannot join again.

CREATE TABLE bans (
    room_id     BIGINT NOT NULL REFERENCES rooms(id),
    actor_id    TEXT NOT NULL REFERENCES actors(id),
    -- the name the actor had when banned, for the moderators' list
    actor_name  TEXT NOT NULL,
    banned_by   TEXT NOT NULL REFERENCES actors(id),
    banned_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, actor_id)
);

-- Invite links to a room. The code is shown once to its creator; only its SHA-256 hash is stored.
CREATE TABLE room_invites (
    code_hash   BYTEA PRIMARY KEY,
    room_id     BIGINT NOT NULL REFERENCES rooms(id),
    created_by  TEXT NOT NULL REFERENCES actors(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    max_uses    BIGINT NOT NULL,
    uses        BIGINT NOT NULL DEFAULT 0
);

-- "Which rooms is this actor a member of" (room lists with private rooms in them).
CREATE INDEX memberships_by_actor ON memberships (actor_id);

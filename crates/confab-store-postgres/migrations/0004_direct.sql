-- Direct conversations and incoming webhooks (issue 15, part E), the PostgreSQL copy of the SQLite store's 0005. Independent of the other
-- migrations of that batch: it relies only on 0001.

-- One row per direct room: the unique key over its members' sorted ids is what makes the same
-- people always get the same room (docs/architecture.md, "Direct conversations").
CREATE TABLE direct_rooms (
    room_id     BIGINT PRIMARY KEY REFERENCES rooms(id),
    member_key  TEXT NOT NULL UNIQUE
);

-- Incoming webhooks: each is an actor (kind 'webhook', same id) bound to one room. Only the
-- SHA-256 of its secret is kept; revoking keeps the row (its messages keep their author).
CREATE TABLE webhooks (
    id           TEXT PRIMARY KEY REFERENCES actors(id),
    room_id      BIGINT NOT NULL REFERENCES rooms(id),
    name         TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_by   TEXT NOT NULL REFERENCES actors(id),
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX webhooks_room ON webhooks (room_id);

-- "My rooms" reads memberships by actor.
CREATE INDEX memberships_actor ON memberships (actor_id);

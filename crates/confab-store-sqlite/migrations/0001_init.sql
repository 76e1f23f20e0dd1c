-- Confab's schema. Kept to SQL that PostgreSQL accepts too (the PostgreSQL store will carry its own
-- copy of these migrations with types adjusted where the engines differ).

CREATE TABLE actors (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    token_hash  BLOB UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    -- lower-cased name: room names are unique regardless of case
    name_key    TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    created_by  TEXT NOT NULL REFERENCES actors(id),
    created_at  BIGINT NOT NULL,
    -- the last sequence number handed out in this room's event log
    top_seq     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    room_id     BIGINT NOT NULL REFERENCES rooms(id),
    actor_id    TEXT NOT NULL REFERENCES actors(id),
    role        TEXT NOT NULL,
    joined_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, actor_id)
);

CREATE TABLE messages (
    id           INTEGER PRIMARY KEY,
    room_id      BIGINT NOT NULL REFERENCES rooms(id),
    author_id    TEXT NOT NULL REFERENCES actors(id),
    client_id    TEXT,
    -- JSON of the message content ({"text": ...}); emptied when deleted
    content      TEXT NOT NULL,
    created_seq  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    edited_at    BIGINT,
    deleted_at   BIGINT
);
CREATE UNIQUE INDEX messages_idempotency ON messages (room_id, author_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_client_id ON messages (room_id, client_id);
CREATE INDEX messages_recent ON messages (room_id, id);

-- One log per room: every message, edit, delete, join and leave, in sequence.
CREATE TABLE events (
    room_id     BIGINT NOT NULL REFERENCES rooms(id),
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    at          BIGINT NOT NULL,
    message_id  BIGINT,
    -- JSON of the kind-specific fields (see confab_core::event::EventBody)
    data        TEXT NOT NULL,
    PRIMARY KEY (room_id, seq)
);

-- Accounts (issue 15): registered users beside their actor row (kind 'user'), their sessions and
-- API tokens (secrets kept as SHA-256 hashes only), TOTP recovery codes, and registration invites.
-- Guests keep their session token on the actors row, as before.

CREATE TABLE users (
    actor_id        TEXT PRIMARY KEY REFERENCES actors(id),
    -- as registered (NFKC); identifies the account and never changes
    username        TEXT NOT NULL,
    -- NFKC, lower-cased, TR 39 skeleton: look-alike usernames collide here
    username_key    TEXT NOT NULL UNIQUE,
    -- argon2id PHC string
    password_hash   TEXT NOT NULL,
    admin           INTEGER NOT NULL DEFAULT 0,
    disabled_at     BIGINT,
    totp_secret     TEXT,
    totp_enabled    INTEGER NOT NULL DEFAULT 0,
    -- the last TOTP step accepted: a code is never accepted twice
    totp_last_step  BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    actor_id      TEXT NOT NULL REFERENCES actors(id),
    token_hash    BLOB NOT NULL UNIQUE,
    user_agent    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX sessions_actor ON sessions (actor_id);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    actor_id      TEXT NOT NULL REFERENCES actors(id),
    token_hash    BLOB NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX api_tokens_actor ON api_tokens (actor_id);

CREATE TABLE recovery_codes (
    actor_id   TEXT NOT NULL REFERENCES actors(id),
    code_hash  BLOB NOT NULL,
    used_at    BIGINT,
    PRIMARY KEY (actor_id, code_hash)
);

CREATE TABLE registration_invites (
    code_hash   BLOB PRIMARY KEY,
    -- the administrator who made it (none when made by `confab admin invite`)
    created_by  TEXT REFERENCES actors(id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

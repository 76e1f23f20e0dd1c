-- Idle guest sessions expire (--guest-idle-days). `last_seen`: when the session was last used
-- (Unix ms; NULL: not since it was created, so `created_at` counts), touched at most once an hour.
-- An expired guest keeps its row, id and name (its messages keep their author); its token is
-- cleared, so it no longer signs anyone in, and `expired_at` says when.
ALTER TABLE actors ADD COLUMN last_seen BIGINT;
ALTER TABLE actors ADD COLUMN expired_at BIGINT;

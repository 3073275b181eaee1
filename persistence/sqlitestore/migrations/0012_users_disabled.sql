-- 0012_users_disabled: an account an admin disabled cannot log in, refresh or
-- use any token; token_version counts the changes that end a user's sessions
-- (password change, role change, disable). A refresh family remembers the
-- version it was opened under and is refused once the user's is newer.
-- Existing rows: enabled, version 0.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_families ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;

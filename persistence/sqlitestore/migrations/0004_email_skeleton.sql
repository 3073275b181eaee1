-- 0004_email_skeleton: the confusable skeleton of each user's email
-- (gateway/app), unique, so that two addresses that look alike cannot both
-- be registered.
--
-- Users created before this migration get their email as skeleton, which is
-- the skeleton of every address without look-alike characters; the engine
-- recomputes the others at start-up (app.ReconcileSkeletons).

ALTER TABLE users ADD COLUMN email_skeleton TEXT NOT NULL DEFAULT '';
UPDATE users SET email_skeleton = email;
-- UserByEmailSkeleton; uniqueness of skeletons.
CREATE UNIQUE INDEX users_email_skeleton ON users (email_skeleton);

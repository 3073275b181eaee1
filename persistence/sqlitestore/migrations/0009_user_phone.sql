-- 0009_user_phone: a user's own phone (E.164; '' when unset), the number a
-- call to a customer rings first. Existing users get ''.
ALTER TABLE users ADD COLUMN phone TEXT NOT NULL DEFAULT '';

-- 0011_calls_conversation: CallsOfConversation, the calls started from a
-- conversation, newest first, keyset paged like CallsOfCustomer. Calls
-- started without a conversation (conversation_id '') are left out of the
-- index; its queries repeat the condition so the planner may use it.
CREATE INDEX calls_conversation_started ON calls (conversation_id, started_at, id) WHERE conversation_id != '';

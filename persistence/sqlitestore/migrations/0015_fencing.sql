-- 0015_fencing: the epoch of each conversation key (business number,
-- customer). Every activation of a conversation actor in a cluster takes the
-- next epoch (AcquireEpoch); a write fenced with an epoch that is not the
-- key's current one is refused (actors.ErrFenced). The check runs inside the
-- write's own committer job, so it and the write are one atomic step.
CREATE TABLE conversation_epochs (
    phone_number_id TEXT NOT NULL,
    wa_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    PRIMARY KEY (phone_number_id, wa_id)
) WITHOUT ROWID;

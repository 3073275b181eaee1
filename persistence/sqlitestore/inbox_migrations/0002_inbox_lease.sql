-- Leases: the node that works on an entry (owner, '' while unclaimed) and
-- when its lease runs out (lease_until, INTEGER milliseconds since the Unix
-- epoch, UTC; 0 while unclaimed). ClaimInbox hands a node only entries that
-- are unclaimed, its own, or whose lease ran out. No index: the inbox holds
-- the entries not yet applied, and an index would cost every webhook's
-- INSERT for a read that runs when a node starts, retries or takes over.
ALTER TABLE inbox ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

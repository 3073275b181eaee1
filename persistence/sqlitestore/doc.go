// Package sqlitestore keeps the engine's durable records (users,
// refresh-token families, customers, the audit log, the conversation
// engine's conversations, messages, pending statuses and notifications, the
// template registry, media records, and calls with their Exotel callbacks) in one SQLite file, and the webhook inbox in a
// second file beside it, using the pure-Go modernc.org/sqlite driver (built
// with -tags sqlite_cgo,sqlite_fts5 it uses mattn/go-sqlite3 instead, with
// the same pragmas and error mapping: see driver.go). It
// implements actors.Store, actors.ConversationsStore, actors.TemplateStore,
// actors.MediaStore and actors.CallStore and passes the shared contract
// suites in persistence/storetest (Run, RunConversations, RunTemplates,
// RunMedia and RunCalls).
// Media bytes are not kept here: see persistence/fsblobs. With a keyring
// (WithKeyring) customer names, e-mails and attributes and message text,
// content and raw are sealed at rest (persistence/sealed; see sealing.go),
// and Reencrypt moves them to the newest key.
//
// # Guarantees
//
//   - Safe for concurrent use. All writes to a file go through one
//     connection (SQLite has a single writer per file), so writers queue in
//     the pool rather than failing with SQLITE_BUSY; reads use a separate
//     pool of read-only connections that run beside the writer thanks to WAL
//     mode. Each of the two files has its own writer and reader pools.
//   - Every multi-statement write (customer and its tags, an audit batch, a
//     refresh rotation) is one IMMEDIATE transaction: it happens entirely or
//     not at all. A page and its total are read from one snapshot.
//   - Conditional writes are single statements: RotateFamily and
//     UpdateCustomer compare and write in one UPDATE, so of concurrent
//     callers presenting the same old hash or version exactly one wins and
//     the others get actors.ErrConflict.
//   - SaveConversation is one UPDATE ... WHERE id = ? AND version = ?; of
//     concurrent saves from the same loaded version exactly one wins. A
//     save that moves only the message columns (times, unread, seq) sets
//     only those, guarded by the others being as given; any other save
//     (state, assignee, close) falls back to the whole-row UPDATE in the
//     same transaction. Either way the stored row ends as given.
//     UpdateMessageStatus compares ranks inside its UPDATE, so a late
//     "delivered" can never overwrite "read", whoever runs first.
//     UpdateMessageStatuses runs the same UPDATE once per status, in order,
//     in one committer job: one conversation's statuses in one savepoint,
//     all applied or none.
//   - Fencing (migration 0015, fence.go): AcquireEpoch increments a key's
//     row of conversation_epochs in one committer job. A fenced write (a
//     Conversation with Epoch set, or the Fenced status updates) reads the
//     key's epoch inside its own committer job and is actors.ErrFenced,
//     writing nothing, unless it is the writer's: the committer runs one
//     job at a time, so the check and the write are atomic. Unfenced writes
//     (Epoch 0) skip the check.
//   - A send's claim (ClaimSend, migration 0014) is three columns of its
//     message, taken by one UPDATE ... RETURNING on the primary key that
//     asks for a queued message with no claim or a lapsed one: of
//     concurrent claimers exactly one wins, and a claim taken over keeps
//     its first send_claimed_at, which is how the taker knows. Only when
//     nothing was claimed does a second statement, in the same committer
//     job, tell absent, not queued and held apart. The status write that
//     moves the message (the send's outcome) and RequeueFailed clear the
//     claim in their own UPDATE; SettleSendClaims walks the partial index
//     of queued outbound messages. Of two
//     conversations of one (business number, customer) at most one is not
//     closed: a partial unique index enforces it.
//   - AppendInbox writes its whole batch in one transaction (one commit for
//     a group-committed batch of webhook bodies); bodies are kept byte for
//     byte. TakePendingStatuses reads and deletes in one DELETE ... RETURNING.
//   - Inbox leases (inbox migration 0002: owner, lease_until): ClaimInbox
//     is one UPDATE ... RETURNING on the inbox writer that picks, oldest
//     first, the entries unclaimed, the claimer's own or whose lease ran
//     out, and leases them; SQLite runs it alone, so of concurrent claims
//     one gets each entry. RenewInbox is one UPDATE of the owner's live
//     leases. Several processes may share the files (SQLite's locks), but
//     a cluster shares MongoDB: the leases matter there (see
//     actors/inbox).
//   - Durability: journal_mode=WAL with synchronous=NORMAL. A committed write
//     survives a crash of the process; a power loss may drop the most recent
//     commits but never corrupts the file.
//   - Errors wrap the actors sentinels with the operation and key id:
//     unique/primary-key violations are actors.ErrDuplicate, missing rows
//     actors.ErrNotFound, a lock not granted within the busy timeout
//     actors.ErrUnavailable. Errors never contain phone numbers or emails.
//   - ReplaceTemplates deletes a business account's templates, inserts the
//     new set and records the sync in one transaction, so readers see the
//     old set or the new one; UpdateTemplate is one UPDATE by the primary
//     key (waba_id, name, language), which also orders the listings.
//
// # The inbox database
//
// The webhook inbox lives in its own file: for "/data/engine.db" it is
// "/data/engine-inbox.db" (a path without extension gets "-inbox"
// appended). SQLite allows one writer per database file, and a webhook is
// answered 200 only after AppendInbox commits; in the main file that commit
// queued behind the conversation actors' message, conversation and customer
// writes, so acceptance latency grew with engine load. With its own file the
// inbox has its own single-connection writer pool, reader pool and WAL
// (same pragmas as the main file), and its commits wait only for other inbox
// writes. AppendInbox, PendingInbox, ClaimInbox, RenewInbox, MarkInboxDone
// and RecordInboxAttempt use it; no transaction spans both files, and none needs to.
//
// Upgrade: the main file's inbox table (migration 0002) is left in place but
// unused. Open moves any rows it still holds into the inbox file in batches,
// each copied and committed there before it is deleted from the main file,
// so an upgrade loses no accepted webhook and a crash mid-move is finished
// by the next Open.
//
// # Schema
//
// The schema lives in numbered files under migrations/ (0001_init.sql, ...)
// for the main file and inbox_migrations/ for the inbox file, embedded in the
// binary. Each file tracks its own in its schema_migrations table. Open
// applies the ones not yet listed there inside one transaction per file, so
// reopening is a no-op and a failed migration leaves the file as it was. Never edit an applied
// migration; add the next number.
//
// Times are stored as INTEGER Unix milliseconds and come back in UTC,
// truncated to the millisecond. Tags are kept twice: as a JSON array on the
// customer (order preserved) and one row per distinct tag in customer_tags,
// indexed by (tag, created_at) so a tag's customers are read newest first
// straight from the index.
//
// # Search
//
// Customer search is a literal, case-insensitive substring match on name,
// phone and email. Strings of three or more characters are answered by an
// FTS5 trigram index (customers_fts) that triggers keep in step with the
// customers table; shorter strings fall back to LIKE with %, _ and \
// escaped, scanning the table. The trigram index folds Unicode case; the LIKE
// fallback folds ASCII case only.
//
// # Encryption at rest
//
// With WithKeyring, customers.name, email and attributes, messages.text,
// content and raw, and inbox.body hold values sealed by persistence/sealed, bound to their
// table, column and row id; customers.email_hash (migration 0013) keeps the
// keyed hash of the normalised e-mail. The search index indexes a sealed
// value as the empty string (the triggers of migration 0013), so with keys a search is
// searchSealedCustomers: the newest SealedSearchWindow customers decrypted
// and matched in memory, plus phone substrings through the index and exact
// e-mails through email_hash. secure_delete is on, so resealed or deleted
// values leave no plaintext in free pages. Rows written before keys were
// set are read as they are; Reencrypt (keyset batches, one conditional
// UPDATE per row, safe beside a running engine) seals them, moves rows
// sealed under older keys to the current one, and merges the search index.
//
// # Conversations
//
// Zero optional times (NextTimerAt, ClosedAt, ReadAt, ...) are NULL, so the
// partial index conversations_next_timer holds only open conversations with
// a pending timer and the expiry sweeper's DueConversations and NextTimer
// are index range reads. Message pages are keyset pages over
// (conversation_id, created_at, id); the cursor is opaque (base64 of the
// last message's created_at and id) and one the store did not hand out is
// ErrBadCursor. ListConversations picks one SQL variant per filter shape so
// each is served by its own index (see conversation.go).
//
// # Media
//
// A medium is a row of media (migration 0008), indexed by sha256 (the
// reference count mediabytes.Release asks for) and by (status, updated_at,
// id) (MediaByStatus, oldest first). A message's medium is the JSON of
// actors.MessageMedia in messages.media, NULL without one, written by both
// appends and replaced by SetMessageMedia; every message read returns it.
//
// # Calls
//
// A call is a row of calls (migration 0010), its Exotel callbacks rows of
// call_events. "One agent has at most one live call" is the partial unique
// index calls_live_agent (agent_id WHERE state != 'closed'): CreateCall and
// SaveCall are single statements in which SQLite enforces it, and a refusal
// is actors.ErrConflict (an id or CallSid taken is actors.ErrDuplicate).
// SaveCall is one UPDATE ... WHERE id = ? AND version = ?. A callback's id
// is its primary key: AddCallEvent is INSERT ... ON CONFLICT DO NOTHING.
// CallsOfCustomer and CallsOfConversation walk calls_customer_started and
// the partial calls_conversation_started (migration 0011; calls without a
// conversation are not in it) backwards from their keyset cursor.
//
// CallStatistics is one SQL query per call (callstats.go): counts per group
// and status, and the p90 talk time by nearest rank from a row_number()
// window. SQLite has no time zones, so days are cut in Go
// (actors.CallStatsQuery.DayOf, DST-correct) between the range's first and
// last call and passed as one JSON array, each day's calls being an index
// range of calls_started or calls_agent_started, which cover every column
// the statistics read.
//
// Every query the store runs is a package constant, and plan_test.go and
// conversation_plan_test.go check, with EXPLAIN QUERY PLAN on the file that
// serves each query, that the hot ones are served by an index. The statements of
// the webhook ingest path (inbox, message, conversation, customer-by-phone
// and notification writes and lookups) are prepared once at Open (stmts.go),
// so SQLite does not parse their SQL on every call.
package sqlitestore

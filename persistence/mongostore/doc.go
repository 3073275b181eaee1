// Package mongostore keeps the engine's durable records (users,
// refresh-token families, customers, the audit log, and the conversation
// engine's conversations, messages, pending statuses, webhook inbox and
// notifications, the template registry, media records, and calls with
// their Exotel callbacks) in one MongoDB
// database through the official driver (go.mongodb.org/mongo-driver/v2),
// and media bytes in GridFS in the same database (Blobs). It implements
// actors.Store, actors.ConversationsStore, actors.TemplateStore,
// actors.MediaStore and actors.CallStore and passes the shared contract
// suites in persistence/storetest (Run, RunConversations, RunTemplates,
// RunMedia, RunCalls);
// Blobs implements actors.MediaBlobs and mediabytes.Blobs and passes
// persistence/blobtest (Run, RunReferences); all against FerretDB v1.24 on
// its SQLite and PostgreSQL backends, so it runs on MongoDB and on FerretDB
// alike. The tests run FerretDB (the embedded library) in a child process,
// one per handler shared by the test binary, built without -race by
// servicetest.FerretDB (persistence/servicetest/ferretd); each test works in
// a database of its own, dropped when it ends.
//
// # Guarantees
//
//   - Safe for concurrent use. The connection pool is bounded by the pool
//     size given to Open; every operation is bounded by a client-wide
//     timeout (opTimeout) as well as by its context, and server selection
//     gives up after selectTimeout.
//   - Conditional writes have exactly one winner. RotateFamily and
//     UpdateCustomer are one single-document update whose filter carries the
//     expected state ({_id, tokenHash, revokedAt: null, generation} and
//     {_id, version}); generation and version move with $inc. Because
//     FerretDB v1 executes such an update as a read followed by a write, the
//     update is taken under a write claim: a document in write_claims whose
//     unique _id names the record and the expected state (see claim.go). Of
//     concurrent writers presenting the same state one wins and the rest get
//     actors.ErrConflict; a revocation is taken under the same claim, so a
//     rotation in flight can never write a revoked family back as live. A
//     claim left by a crashed writer blocks that one state for at most
//     claimTTL, after which the next writer breaks it; a claim taken under a
//     deadline (the conversation actors' writes run under 5 s) only until
//     claimMargin (5 s) after that deadline, so a cluster node killed
//     mid-write holds up the node taking over its conversations seconds,
//     not a minute.
//   - Fencing of conversation activations (fence.go): AcquireEpoch moves a
//     key's conversation_epochs document on under the claim
//     "epoch/<key>/<epoch>" and then raises the epoch field of the key's
//     open conversation under its save claim. A fenced SaveConversation
//     (and the save of AppendMessageAndSave) checks the stored epoch in its
//     own filtered replace: refused (actors.ErrFenced, nothing written) once
//     a newer epoch was acquired. Creates, message inserts and status
//     updates check the key's epoch just before they write; fence.go states
//     exactly what an acquisition racing them can let through.
//   - The conversation engine's conditional writes use the same claims.
//     SaveConversation is one replace filtered on {_id, version} under the
//     claim "conversation/<id>/<version-1>": of concurrent saves from one
//     version exactly one wins. UpdateMessageStatus is one update filtered
//     on {_id, statusRank} under "message/<id>/<stored rank>"; a writer
//     that finds the claim held waits and re-reads (its status may still be
//     further forward), so a status never moves backwards and each
//     transition is reported changed once. UpdateMessageStatuses is that,
//     once per status in order (no bulk write: it would bypass the claims),
//     stopping at the first error. The inbox's leases (ClaimInbox,
//     RenewInbox) and RecordInboxAttempt (a $set from the count read) run
//     under one write claim, "inbox/leases", abandoned after five seconds
//     rather than a minute (see inboxlease.go): of concurrent claims one
//     gets each entry, and no write of one overwrites another's. A claim is
//     a read of the ids, one updateMany whose filter repeats the condition,
//     and a read of what it holds; no multi-document transaction.
//     MarkNotificationsRead
//     (one updateMany under "notifications/<userId>") wait for each other
//     the same way, so no increment is lost and each notification is
//     counted once.
//   - Uniqueness over part of a collection (one conversation per
//     (phoneNumberId, waId) that is not closed; a non-empty waMessageId;
//     one live call per agent) is enforced by guard collections whose _id
//     is the key (open_conversations, message_wamids, call_agents; see
//     guard.go), because FerretDB has no partial unique index. The guard is inserted before the record
//     and deleted when the record write fails or the record gives the key
//     up. A crash between the two writes leaves a stale guard, which the
//     next writer needing the key replaces once it is older than
//     guardGrace (one minute) and its owner does not carry the key; until
//     then the key reads as taken (actors.ErrDuplicate; for an agent,
//     actors.ErrConflict). A write whose outcome is unknown
//     (actors.ErrUnavailable) keeps the guard it took, so a record that did
//     land is never left unguarded.
//   - The template registry has no multi-document transaction either: a
//     sync writes a new generation of an account's templates, points
//     template_syncs at it, then deletes all but it and the one it
//     replaced; readers read the pointer before and after and start over
//     when two syncs ran meanwhile, so they see one whole generation (see
//     template.go). Writes to an
//     account's templates (sync, update, delete) are serialized by the
//     write claim "templates/<account>".
//   - TakePendingStatuses deletes each status on its own and returns only
//     those it deleted, so concurrent takers never return one twice.
//   - Single-record writes are atomic; nothing spans documents. An audit
//     batch is one unordered insertMany: records whose ID is already stored
//     (or repeated in the batch) are skipped and keep their first version,
//     so a retried batch stores each record once; any other error is
//     returned. A page and its total are two reads, not one snapshot.
//   - Errors wrap the actors sentinels with the operation and key id:
//     duplicate keys (E11000, and FerretDB's unique-constraint failure on
//     update of a customer's phone) are actors.ErrDuplicate, missing
//     documents actors.ErrNotFound, lost conditional writes
//     actors.ErrConflict, and network errors, timeouts, failed server
//     selection, a closed client and a server InternalError (FerretDB's
//     answer when its backend fails a command; see below)
//     actors.ErrUnavailable. A write that failed with ErrUnavailable may or
//     may not have been applied. Errors never contain phone numbers or
//     emails.
//
// # Documents
//
// Each collection has a typed document struct with bson tags; filters are
// built from typed fields only, never from client-supplied maps, and reads
// project exactly the fields they return. Times are BSON dates: stored at
// millisecond precision and returned in UTC. A live family's revokedAt is
// null. Customer tags are an array in the caller's order (an empty array
// when there are none); attributes are an array of {k, v} pairs sorted by
// key, because attribute keys may contain '.' or '$', which FerretDB
// rejects in field names.
//
// Optional times of the conversation engine (a conversation's
// LastInboundAt, NextTimerAt, ClosedAt..., a message's UpdatedAt, a
// notification's ReadAt, pending and inbox timestamps) are absent while
// zero and come back zero; the times that order a listing (a
// conversation's updatedAt, a message's and a notification's createdAt)
// are always stored. A message keeps statusRank = actors.StatusRank(status)
// beside its status; its Content and Raw and an inbox Body are BSON
// binary, returned byte for byte. ListMessages cursors are opaque:
// base64url of "<createdAt ms>:<id>", the last message of the page.
// Conversations are created with Version 1 whatever c.Version says.
//
// Open first gives every user stored without an email skeleton its email as
// skeleton (the unique index needs a value in every document), then
// creates, one command per index and each only if missing: users.email
// (unique), users.emailSkeleton (unique), users createdAt/_id and role/createdAt/_id, customers.phone
// (unique), customers createdAt/_id (descending), customers.tags
// (multikey), refresh_families.userId and .expiresAt, and audit at/_id,
// actorId/at/_id, action/at/_id (all descending on at/_id), conversations
// phoneNumberId/waId, nextTimerAt, assigneeId/state, updatedAt/_id
// (descending) and customerId/updatedAt, messages conversationId/createdAt/
// _id (descending on createdAt/_id) and waMessageId (not unique: see the
// guards), pending_statuses waMessageId, notifications
// userId/createdAt/_id (descending on createdAt/_id), templates
// wabaId/gen/name/language (unique), media sha256 and
// status/updatedAt/_id, calls startedAt, agentId/startedAt,
// customerId/startedAt/_id, conversationId/startedAt/_id, exotelSid (not
// unique) and state/startedAt/_id,
// call_events applied/receivedAt/_id, and the GridFS bucket's media.files
// filename/uploadDate and filename (unique) and media.chunks files_id/n
// (unique). The guard, claim, template_syncs and media_uploads
// collections are reached by _id only (media_uploads by at in Sweep).
//
// A send's claim (ClaimSend) is the fields sendOwner, sendClaimedAt and
// sendLeaseUntil of the message, absent while no send holds it. ClaimSend
// is one findAndModify filtered on {_id, statusRank: queued, no owner or a
// lapsed lease}, returning the document as it was (a former owner means a
// take-over: its first sendClaimedAt is put back), under the write claim
// "message/<id>/<queued rank>" that UpdateMessageStatus takes to move a
// queued message on, so on FerretDB neither writes the other's old fields
// back and of concurrent claimers one wins; ReleaseSend takes the same
// claim. Moving a status and RequeueFailed $unset the three fields. Open
// moves the claims of an earlier version (idempotency records
// "whatsapp.send:<message id>") onto their queued messages and deletes
// them, so a send in flight across the upgrade is still not made twice.
//
// A message's medium (actors.MessageMedia) is the subdocument media,
// absent for a message without one. SetMessageMedia takes the message's
// write claim for its current status rank, the one UpdateMessageStatus
// takes, so neither writes the other's old fields back on FerretDB.
// SaveMedia is a plain replaceOne: the last of concurrent saves wins whole.
//
// # Calls
//
// A call is a document of calls, an Exotel callback one of call_events
// (_id its content-derived ID: a repeat is a duplicate insert, reported as
// not inserted). SaveCall is a replace filtered on {_id, version} under the
// claim "call/<id>/<version-1>", like SaveConversation. One live call per
// agent is the call_agents guard (_id the agent, owner the call): CreateCall
// of a live call and SaveCall re-opening a closed one insert it first
// (actors.ErrConflict when a live call of another id holds it), a save
// closing the call deletes it after the write. A guard left by a crash
// between the two writes, whose call is absent or closed, is replaced after
// guardGrace: until then that agent cannot start a call (ErrConflict).
// Calls keep two derived fields for the statistics, answered (1 for a
// completed call with talk time) and talkSec (its talk time, else 0).
//
// CallStatistics (callstats.go) runs, per query or per day, an aggregation
// $match/$group counting calls by agent, status and answered, a second one
// summing talkSec by agent, and for each group with answered calls one find
// sorted by talkSec descending that skips to the nearest-rank p90 (so the
// server's top-k sort keeps a tenth of the group). Days are cut in Go
// (actors.CallStatsQuery.DayOf): the next call of the range (a find on
// startedAt, limit 1) names its day, which is aggregated, and the walk goes
// on from the day's end. The statistics are several reads, not a snapshot.
//
// What the FerretDB tests cannot prove about real MongoDB here:
//
//   - Plans. FerretDB v1 pushes simple filters down to its backend and runs
//     $group, sorts and skips in its own process; it has no real
//     equivalent of MongoDB's plans. That the $match stages and finds use
//     startedAt or agentId/startedAt (IXSCAN, not COLLSCAN), that LiveCalls
//     and LiveCallOfAgent use state/startedAt/_id, CallsOfCustomer and
//     CallsOfConversation customerId or conversationId/startedAt/_id
//     (walked backwards, no in-memory sort), and that the p90 find is
//     a bounded top-k sort within MongoDB's 100 MB in-memory sort limit is
//     by design, checked with neither explain nor load.
//   - Numbers. $sum's result type (int32, int64 or double on overflow) and
//     the grouping of a composite _id follow MongoDB's documented rules;
//     the decoding accepts each, but only FerretDB's answers are tested.
//   - Concurrency. FerretDB serialises differently from a MongoDB replica
//     set; "one live call per agent" rests on the guard's unique _id, which
//     both enforce, and is tested with concurrent creates on FerretDB only.
//   - FerretDB v1.24 itself gives a $group's documents to its first
//     accumulator only (they share one iterator), so every $group here has
//     one accumulator; on MongoDB one $group with three would do.
//
// # Encryption at rest
//
// With WithKeyring, customers' name and email, their attributes (as sealed
// JSON in sealedAttributes, attributes then []), messages' text, content
// and raw, inbox bodies, and the chunks of GridFS files hold data sealed by
// persistence/sealed, bound to collection, field and document id (files:
// their digest). customers.emailHash (indexed) is the keyed hash of the
// normalised e-mail. A files document keeps the plaintext's digest as its
// filename (dedupe by plaintext digest), the sealed length as its length
// and sealed: true (so a plain file opens without a read, as before);
// Open returns a seekable reader of the plaintext. With keys, a
// customer search is searchSealedCustomers (the newest SealedSearchWindow
// customers decrypted and matched in memory, phone substrings and exact
// e-mails over the collection). Documents and files written before keys
// were set are read as they are; Store.Reencrypt and Blobs.Reencrypt seal
// them and move data sealed under older keys to the current one, with
// conditional writes (a customer on its version, a message on the values
// read, a file swapped under its digest's write claim) so they run beside
// live engines. See sealing.go, reencrypt.go and blobseal.go.
//
// # Media bytes in GridFS
//
// Blobs (Store.Blobs) keeps media bytes in the GridFS bucket "media", one
// file per SHA-256, the digest being the filename. It writes the GridFS
// format itself rather than through the driver's GridFSBucket: the
// driver's upload stream allocates a 16 MiB buffer per upload and checks
// its indexes through an unsynchronised field of the bucket, and its
// download stream cannot seek, while the content route serves HTTP ranges
// (http.ServeContent seeks to the end for the size, then to the range).
// The files are plain GridFS all the same: the driver's bucket reads what
// Blobs writes and Blobs reads what the driver writes (tested).
//
//   - No reader sees part of a file. Put writes the chunks under a new file
//     id first (hashing and counting), then, only when size and digest
//     match, inserts the files document, which is what Open looks up, so a
//     file is visible only when complete; otherwise it deletes its chunks.
//     A unique index on filename keeps one file per digest: of concurrent
//     Puts of the same bytes (on several nodes) one files document is
//     inserted and the others delete their chunks and succeed.
//   - Open reads the files document and returns a reader that fetches
//     chunks by number (byte p is in chunk p / chunkSize), a window of
//     about 1 MiB at a time, each fetch bounded by opTimeout; it seeks
//     without reading. A missing or mis-sized chunk is an
//     io.ErrUnexpectedEOF error, never wrong bytes.
//   - Hide renames a file to hidden/<sha>/<file id> (recording hiddenAt),
//     Unhide renames it back or, when the digest was stored again, removes
//     it, Purge and Delete remove the files document and then the chunks.
//     These four take the write claim "blob/<sha>": FerretDB runs an update
//     as a read and a write, so two renames of one file must not overlap.
//     FerretDB reports the unique index refusing a rename as an
//     InternalError, MongoDB as E11000; Unhide checks for the other file
//     instead of relying on either.
//   - Each Put keeps a marker in media_uploads while it writes chunks.
//     Sweep (run by the engine at start) deletes the chunks of markers
//     older than its age (a Put that died) and puts back hidden files older
//     than it (a Release that died); a Put whose marker a Sweep took fails
//     with actors.ErrConflict and leaves nothing.
//
// # FerretDB on PostgreSQL
//
// FerretDB v1.24.2 with the PostgreSQL backend can answer a command of one
// client with InternalError ("timeout: read tcp ...->...:5432: i/o
// timeout") because of an earlier command of any client, typically under
// CPU load. A find, findAndModify or aggregate that carries maxTimeMS makes
// FerretDB wrap its context in a cancellable one, and when the command is
// done it cancels that context before it closes the PostgreSQL rows. pgx
// (v5.7.5) then sets an immediate deadline on the backend connection and
// clears it when the rows are closed; if pgx's background reader (started
// when a write to PostgreSQL takes over 15 ms) was waiting in a read at
// that moment, that read fails with "i/o timeout", and the error stays
// buffered in the connection, which goes back to FerretDB's pool looking
// healthy. The next command to use it (an update's BEGIN, a query, a
// delete) reads the stale error and fails, whatever its own deadline.
// Nothing in the URL or FerretDB's configuration prevents it
// (a pgx pool without connection reuse does, but makes the store's tests
// 25 times slower).
//
// The driver sends maxTimeMS whenever an operation has a deadline, and the
// client-wide opTimeout gives every operation one. So the store reads single
// documents with a find limited to 1 (findOne), for which the driver never
// sends maxTimeMS, instead of FindOne; that removes nearly all such commands.
// Those left are UpdateCustomer's, SetUserRole's and SetUserPhone's
// findAndModify and the
// counts (an aggregate). Their rare casualties are reported as
// actors.ErrUnavailable: an update or insert failed so changed nothing (the
// stale error is met at BEGIN), but a delete may have been applied. A write
// claim or guard whose release fails so stays until it is broken after
// claimTTL or guardGrace, as after a crash.
//
// # MongoDB features used, and the ones avoided
//
// The store uses only what FerretDB v1.24 implements: find with filter,
// projection, sort, skip and limit (single documents too: see above);
// insertOne and unordered insertMany; updateOne with $set and $inc,
// updateMany with $set, replaceOne; findAndModify (findOneAndUpdate,
// without a projection, which FerretDB does not implement); updateOne with
// upsert (template_syncs); deleteOne and
// deleteMany; ordered insertMany;
// countDocuments and aggregations of $match and $group by a field or a
// document of fields with one $sum; createIndexes with single-field, compound, multikey and unique
// indexes; listIndexes; $regex with the i option; $or, $in, $ne, $exists,
// $lt, $lte and $gte; BSON binary.
//
// It deliberately avoids what FerretDB v1 lacks: TTL indexes (expired
// families are removed by DeleteExpiredFamilies over the indexed
// expiresAt, and abandoned write claims are swept there too), $text (search
// is a case-insensitive $regex on name, phone and email built with
// regexp.QuoteMeta, so it is a literal substring match and scans the
// collection), $avg, $cond, $bucket, percentiles, time zones in date
// operators, $dateToString and $facet (totals come from countDocuments;
// call statistics: see Calls), partial indexes (rejected) and sparse indexes (accepted
// but ignored, so a sparse unique index would be a plain unique one): hence
// the guard collections; multi-document transactions and change streams.
// FerretDB v1 also runs update, replace and findAndModify as a read
// followed by a write, which is why every conditional write is taken under
// a claim.
package mongostore

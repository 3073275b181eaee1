// Package mongostore keeps the engine's durable records (users,
// refresh-token families, customers, the audit log) in one MongoDB database
// through the official driver (go.mongodb.org/mongo-driver/v2). It
// implements actors.Store and passes the shared contract suite in
// persistence/storetest against FerretDB v1.24 on its SQLite and PostgreSQL
// backends, so it runs on MongoDB and on FerretDB alike.
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
//     claimTTL, after which the next writer breaks it.
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
//     selection and a closed client actors.ErrUnavailable. Errors never
//     contain phone numbers or emails.
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
// Open creates, one command per index and each only if missing: users.email
// (unique), users createdAt/_id and role/createdAt/_id, customers.phone
// (unique), customers createdAt/_id (descending), customers.tags
// (multikey), refresh_families.userId and .expiresAt, and audit at/_id,
// actorId/at/_id, action/at/_id (all descending on at/_id).
//
// # MongoDB features used, and the ones avoided
//
// The store uses only what FerretDB v1.24 implements: find with filter,
// projection, sort, skip and limit; insertOne and unordered insertMany;
// updateOne with $set and $inc; findAndModify (findOneAndUpdate, without a
// projection, which FerretDB does not implement); deleteOne and deleteMany;
// countDocuments (an aggregation of $match, $group with $sum); createIndexes
// with single-field, compound, multikey and unique indexes; listIndexes;
// $regex with the i option; $or, $ne, $lt and $gte.
//
// It deliberately avoids what FerretDB v1 lacks: TTL indexes (expired
// families are removed by DeleteExpiredFamilies over the indexed
// expiresAt, and abandoned write claims are swept there too), $text (search
// is a case-insensitive $regex on name, phone and email built with
// regexp.QuoteMeta, so it is a literal substring match and scans the
// collection), $avg, $dateToString and $facet (totals come from
// countDocuments), multi-document transactions and change streams.
package mongostore

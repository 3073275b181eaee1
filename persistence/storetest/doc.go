// Package storetest is the contract suite every actors.Store implementation
// must pass. The SQLite and MongoDB stores run the same suite from their own
// tests:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) actors.Store {
//			s, err := Open(t.Context(), filepath.Join(t.TempDir(), "engine.db"), zaptest.NewLogger(t))
//			require.NoError(t, err)
//			t.Cleanup(func() { _ = s.Close() })
//			return s
//		})
//	}
//
// Both stores also run the suites with encryption at rest on (a Keyring
// from this package's Keyring and NewKey helpers, persistence/sealed).
//
// What the suite pins down, beyond the doc comments in package actors:
//
//   - Every group of subtests gets a fresh, empty store from open; open
//     registers its own cleanup. Read-only tables (search, filters, pages)
//     share one seeded store inside their group.
//   - Unique keys (user id and email, family id, customer id and phone) report
//     actors.ErrDuplicate; missing rows actors.ErrNotFound; lost conditional
//     writes (stale version, stale or revoked refresh token) actors.ErrConflict,
//     and a lost write changes nothing. Errors are matched with errors.Is.
//   - Times come back in UTC, truncated to the millisecond. A zero RevokedAt
//     comes back as the zero time.Time.
//   - Tags keep their order; a nil and an empty Tags or Attributes are
//     equivalent and come back with length zero.
//   - Customer search is a literal, case-insensitive substring match on name,
//     phone and email for strings of any length: %, _, \, quotes and regular
//     expression metacharacters have no special meaning. With encryption at
//     rest on, the stores match names and e-mails among their newest
//     customers only (see the README, "Data at rest"); the suite's data fits
//     that window, so it passes with keys as without. Tag filtering is an
//     exact, case-sensitive match on one tag.
//   - ListUsersPage orders by CreatedAt, then ID (as ListUsers) and its
//     search is the same literal, case-insensitive substring match, on name
//     and email; a page past the end is empty with the full total.
//   - RotateFamily is atomic: of 20 concurrent rotations presenting the same
//     old hash exactly one wins and the rest get ErrConflict.
//   - Races accept actors.ErrUnavailable from a call the backend failed (a
//     write that may or may not have landed) in place of the expected
//     outcome, and log it; then no call may have won, and the stored state
//     is the one before the race or a failed call's. Without such failures
//     they check exactly one winner; every call failing fails (race.go).
//   - Close is safe to call twice.
//
// RunConversations is the suite of actors.ConversationsStore, run the same
// way with an opener returning a fresh ConversationsStore. Beyond the doc
// comments in package actors it pins down:
//
//   - CreateConversation stores Version 1 whatever c.Version says. Only
//     states new, active and expired count as not closed for the one-open-
//     conversation-per-(PhoneNumberID, WaID) rule; a closed conversation may
//     be created beside an open one.
//   - SaveConversation replaces every field but ID; any Version other than
//     stored+1 (equal, older, skipping, zero) is ErrConflict.
//   - Time fields come back in UTC truncated to the millisecond; zero times
//     (LastInboundAt, NextTimerAt, ClosedAt, ReadAt, ...) come back zero.
//   - ListConversations and ListNotifications order by (UpdatedAt resp.
//     CreatedAt) descending, then ID descending; the total counts the
//     filtered set. DueConversations orders by NextTimerAt, then ID
//     ascending; at is inclusive; expired conversations are open.
//   - CountOpenByAssignee only has keys with a count (states new and active).
//   - Message Content and Raw compare as JSON; nil and empty are
//     equivalent. Error nil comes back nil. MessageByWaID("") is
//     ErrNotFound. A status update that does not apply changes nothing,
//     not even WaMessageID or Error; an applied one sets UpdatedAt to at.
//     Unknown statuses rank 0 and never apply.
//   - ListMessages' cursor is opaque; pages split inside runs of equal
//     CreatedAt lose and repeat nothing; the next cursor is "" exactly when
//     no older message exists (a full last page too).
//   - TakePendingStatuses orders by Timestamp; Errors nil and empty are
//     equivalent.
//   - PendingInbox orders by ID only; Body bytes are kept exactly (not
//     necessarily valid JSON or UTF-8); an entry's in-memory Batch is not
//     kept (read back, it is nil). MarkInboxDone of unknown or done ids
//     and empty batches are no-ops; RecordInboxAttempt of an unknown id is
//     ErrNotFound. Leases: AppendInbox keeps Owner and LeaseUntil;
//     ClaimInbox hands an owner, oldest first, only entries unclaimed, its
//     own, or whose lease ended before now (a lease is live at its end
//     instant), one owner per entry under concurrent claims; a lost lease
//     is not renewed; done entries never come back; RecordInboxAttempt
//     keeps the lease. InboxClaimCost logs what the leases cost a store.
//   - MarkNotificationsRead counts only notifications that were unread and
//     keeps the first ReadAt.
//
// RunFencing is the suite of actors.EpochStore (with the conversation
// writes it fences): epochs start at 1 per key and concurrent acquisitions
// each get their own; a write fenced with an epoch older than the key's is
// actors.ErrFenced (not ErrConflict) and changes nothing, even before the
// newer epoch's holder wrote (a save, a create, a message append with its
// save, single and batched status updates); the current epoch writes; an
// unfenced write (Epoch 0) is not checked.
//
// RunTemplates is the suite of actors.TemplateStore (see its comment for
// what it pins down beyond package actors).
//
// RunMedia is the suite of actors.MediaStore and of the medium every
// message read returns (see its comment).
//
// RunCalls is the suite of actors.CallStore, RunCallStatistics (run by it)
// that of its statistics against a hand-counted data set across days and
// time zones (see their comments).
//
// The package is a normal (non-test) package so other packages' tests can
// import it; it imports testing and testify and must never be imported by
// production code.
package storetest

package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmts holds the statements the webhook ingest path runs for every webhook
// or message, the claim of every send, those every media upload and
// download runs, and those of every call's writes and callbacks, prepared
// once
// at Open: SQLite then parses each once per connection instead of on every
// call. Writes are prepared on the writer pool, reads on the reader pool,
// and the inbox statements on the inbox database's pools; inside a
// transaction a statement is bound to it with tx.StmtContext, which reuses
// the connection's prepared handle.
type stmts struct {
	// Inbox writer.
	insertInbox        *sql.Stmt
	deleteInbox        *sql.Stmt
	recordInboxAttempt *sql.Stmt
	claimInbox         *sql.Stmt
	renewInbox         *sql.Stmt

	// Inbox reader.
	pendingInbox *sql.Stmt

	// Writer.
	insertMessage       *sql.Stmt
	updateMessageStatus *sql.Stmt
	claimSend           *sql.Stmt
	takePendingStatuses *sql.Stmt
	insertConversation  *sql.Stmt
	saveConversation    *sql.Stmt
	saveConversationHot *sql.Stmt
	insertCustomer      *sql.Stmt
	insertNotification  *sql.Stmt
	insertMedia         *sql.Stmt
	saveMedia           *sql.Stmt
	insertCall          *sql.Stmt
	saveCall            *sql.Stmt
	insertCallEvent     *sql.Stmt
	acquireEpoch        *sql.Stmt
	epochOf             *sql.Stmt

	// Reader.
	messageByWaID    *sql.Stmt
	messageByID      *sql.Stmt
	openConversation *sql.Stmt
	customerByPhone  *sql.Stmt
	hasPendingStatus *sql.Stmt
	mediaByID        *sql.Stmt
	callByID         *sql.Stmt
}

// stmtSpec names one statement to prepare: where it goes, on which pool, and
// its SQL.
type stmtSpec struct {
	dst   **sql.Stmt
	db    *sql.DB
	query string
}

func (p *stmts) specs(w, r, iw, ir *sql.DB) []stmtSpec {
	return []stmtSpec{
		{&p.insertInbox, iw, qInsertInbox},
		{&p.deleteInbox, iw, qDeleteInbox},
		{&p.recordInboxAttempt, iw, qRecordInboxAttempt},
		{&p.claimInbox, iw, qClaimInbox},
		{&p.renewInbox, iw, qRenewInbox},
		{&p.pendingInbox, ir, qPendingInboxLease},

		{&p.insertMessage, w, qInsertMessage},
		{&p.updateMessageStatus, w, qUpdateMessageStatus},
		{&p.claimSend, w, qClaimSend},
		{&p.takePendingStatuses, w, qTakePendingStatuses},
		{&p.insertConversation, w, qInsertConversation},
		{&p.saveConversation, w, qSaveConversation},
		{&p.saveConversationHot, w, qSaveConversationHot},
		{&p.insertCustomer, w, qInsertCustomer},
		{&p.insertNotification, w, qInsertNotification},
		{&p.insertMedia, w, qInsertMedia},
		{&p.saveMedia, w, qSaveMedia},
		{&p.insertCall, w, qInsertCall},
		{&p.saveCall, w, qSaveCall},
		{&p.insertCallEvent, w, qInsertCallEvent},
		{&p.acquireEpoch, w, qAcquireEpoch},
		{&p.epochOf, w, qEpochOf},

		{&p.messageByWaID, r, qMessageByWaID},
		{&p.messageByID, r, qMessageByID},
		{&p.openConversation, r, qOpenConversation},
		{&p.customerByPhone, r, qCustomerByPhone},
		{&p.hasPendingStatus, r, qHasPendingStatus},
		{&p.mediaByID, r, qMediaByID},
		{&p.callByID, r, qCallByID},
	}
}

// prepareStmts prepares every hot statement; on failure it closes the ones
// already prepared.
func prepareStmts(ctx context.Context, w, r, iw, ir *sql.DB) (*stmts, error) {
	p := &stmts{}
	for _, sp := range p.specs(w, r, iw, ir) {
		st, err := sp.db.PrepareContext(ctx, sp.query)
		if err != nil {
			_ = p.close()
			return nil, fmt.Errorf("prepare %q: %w", sp.query, mapErr(err))
		}
		*sp.dst = st
	}
	return p, nil
}

// close closes the prepared statements; it runs before the pools close. A
// closed statement answers "sql: statement is closed", as a closed pool
// answers "sql: database is closed".
func (p *stmts) close() error {
	var errs []error
	for _, sp := range p.specs(nil, nil, nil, nil) {
		if *sp.dst == nil {
			continue
		}
		if err := (*sp.dst).Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

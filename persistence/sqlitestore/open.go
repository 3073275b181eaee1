package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/wacc/engine/actors"
)

// OpenConversationWith opens a conversation with its first message in one
// write (one committer job, so one commit however busy the store is): cust
// when not nil (a customer not stored yet, with its tags, as
// CreateCustomer), c (created at Version 1, as CreateConversation), m, and
// next, c's state once m is applied, saved as SaveConversation saves it
// (Version 2). Opening used to cost three writes, each its own commit when
// webhooks arrive one at a time. Any error writes nothing: ErrDuplicate when
// the customer's id or phone, the conversation's id or open (business
// number, customer) pair, or the message's id or wamid is taken; ErrFenced
// when c is fenced (Epoch) with an epoch that is not its key's.
func (s *Store) OpenConversationWith(ctx context.Context, cust *actors.Customer, c actors.Conversation, m actors.Message, next actors.Conversation) error {
	var tags string
	var sc customerSeal
	if cust != nil {
		t, attrs, err := encodeTagsAttrs(*cust)
		if err != nil {
			return fmt.Errorf("open conversation %s: customer %s: %w", c.ID, cust.ID, err)
		}
		tags, sc = t, s.sealCustomer(*cust, attrs)
	}
	margs, err := s.messageArgs(m)
	if err != nil {
		return fmt.Errorf("open conversation %s: message %s: %w", c.ID, m.ID, err)
	}
	err = s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if err := s.checkEpochTx(ctx, tx, c.PhoneNumberID, c.WaID, max(c.Epoch, next.Epoch)); err != nil {
			return err
		}
		if cust != nil {
			if err := s.insertCustomerTx(ctx, tx, *cust, sc, tags); err != nil {
				return fmt.Errorf("create customer %s: %w", cust.ID, err)
			}
		}
		if _, err := tx.StmtContext(ctx, s.st.insertConversation).ExecContext(ctx, conversationInsertArgs(c)...); err != nil {
			return fmt.Errorf("create conversation: %w", mapErr(err))
		}
		if _, err := tx.StmtContext(ctx, s.st.insertMessage).ExecContext(ctx, margs...); err != nil {
			return fmt.Errorf("append message %s: %w", m.ID, mapErr(err))
		}
		if err := s.saveConversationTx(ctx, tx, next); err != nil {
			return fmt.Errorf("save conversation: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open conversation %s: %w", c.ID, err)
	}
	return nil
}

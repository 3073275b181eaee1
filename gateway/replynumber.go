package gateway

import (
	"context"

	"github.com/wacc/engine/actors"
)

// replyNumber is the business number a send that names none goes out
// from: the number of the customer's most recently updated open
// conversation (new, active or expired), the one the customer wrote to, so
// the reply lands in that conversation and its service window; the
// configured default only when the customer has no open conversation.
func (s *Server) replyNumber(ctx context.Context, cust actors.Customer) (string, error) {
	open, _, err := s.engine.Reads.ListConversations(ctx, actors.ConversationFilter{CustomerID: cust.ID,
		States: []string{actors.StateNew, actors.StateActive, actors.StateExpired}, Page: 1, Limit: 1})
	if err != nil {
		return "", err
	}
	if len(open) == 1 && open[0].PhoneNumberID != "" {
		return open[0].PhoneNumberID, nil
	}
	return s.cfg.WhatsAppPhoneNumberID, nil
}

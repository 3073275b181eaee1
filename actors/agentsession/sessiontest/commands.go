package sessiontest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/agentsession"
)

// Grant is what Commands.Authenticate answers for one token.
type Grant struct {
	UserID    string
	ExpiresAt time.Time
	Err       error
}

// Commands is a fake of agentsession.Commands.
//
// MarkRead answers ReadErrs[conversationID] (nil when absent). Visible
// answers the conversation of Conversations when the user may see it (the
// contract's rule: agents see only the conversations assigned to them),
// actors.ErrNotFound otherwise, or VisibleErrs[conversationID] when set.
// Authenticate answers Tokens[token], actors.ErrTokenInvalid for an
// unknown token. Block makes MarkRead wait for its context.
type Commands struct {
	mu            sync.Mutex
	readErrs      map[string]error
	visibleErrs   map[string]error
	conversations map[string]actors.Conversation
	tokens        map[string]Grant
	block         bool

	reads   []string
	ctxErrs []error
	auths   int
}

var _ agentsession.Commands = (*Commands)(nil)

// SetReadErr makes MarkRead of conversationID answer err.
func (c *Commands) SetReadErr(conversationID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErrs == nil {
		c.readErrs = map[string]error{}
	}
	c.readErrs[conversationID] = err
}

// SetVisibleErr makes Visible of conversationID answer err.
func (c *Commands) SetVisibleErr(conversationID string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.visibleErrs == nil {
		c.visibleErrs = map[string]error{}
	}
	c.visibleErrs[conversationID] = err
}

// AddConversation makes conv known to Visible.
func (c *Commands) AddConversation(conv actors.Conversation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conversations == nil {
		c.conversations = map[string]actors.Conversation{}
	}
	c.conversations[conv.ID] = conv
}

// AddToken makes Authenticate answer g for token.
func (c *Commands) AddToken(token string, g Grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == nil {
		c.tokens = map[string]Grant{}
	}
	c.tokens[token] = g
}

// BlockReads makes MarkRead wait until its context ends.
func (c *Commands) BlockReads() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.block = true
}

// MarkRead records "<user>/<conversation>".
func (c *Commands) MarkRead(ctx context.Context, user actors.User, conversationID string) error {
	c.mu.Lock()
	c.reads = append(c.reads, user.ID+"/"+conversationID)
	block, err := c.block, c.readErrs[conversationID]
	c.mu.Unlock()
	if block {
		<-ctx.Done()
		c.mu.Lock()
		c.ctxErrs = append(c.ctxErrs, ctx.Err())
		c.mu.Unlock()
		return ctx.Err()
	}
	return err
}

// Visible applies the contract's visibility rule to the known
// conversations.
func (c *Commands) Visible(_ context.Context, user actors.User, conversationID string) (actors.Conversation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, ok := c.visibleErrs[conversationID]; ok {
		return actors.Conversation{}, err
	}
	conv, ok := c.conversations[conversationID]
	if !ok || (user.Role == actors.RoleAgent && conv.AssigneeID != user.ID) {
		return actors.Conversation{}, fmt.Errorf("conversation %s: %w", conversationID, actors.ErrNotFound)
	}
	return conv, nil
}

// Authenticate answers the token's grant.
func (c *Commands) Authenticate(_ context.Context, token string) (string, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auths++
	g, ok := c.tokens[token]
	if !ok {
		return "", time.Time{}, fmt.Errorf("token: %w", actors.ErrTokenInvalid)
	}
	return g.UserID, g.ExpiresAt, g.Err
}

// Reads returns the MarkRead calls so far.
func (c *Commands) Reads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reads...)
}

// ReadCtxErrs returns the context errors blocked MarkRead calls ended with.
func (c *Commands) ReadCtxErrs() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.ctxErrs...)
}

// Auths is how many tokens Authenticate checked.
func (c *Commands) Auths() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.auths
}

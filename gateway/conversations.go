package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// ConversationReads are the reads behind the conversation, message and
// notification endpoints.
type ConversationReads interface {
	Conversation(ctx context.Context, id string) (actors.Conversation, error)
	OpenConversation(ctx context.Context, phoneNumberID, waID string) (actors.Conversation, error)
	ListConversations(ctx context.Context, f actors.ConversationFilter) ([]actors.Conversation, int, error)
	ListMessages(ctx context.Context, conversationID, before string, limit int) ([]actors.Message, string, error)
	ListNotifications(ctx context.Context, userID string, unreadOnly bool, page, limit int) ([]actors.Notification, int, error)
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
}

// Sockets serves agent WebSockets and closes a user's sockets.
type Sockets interface {
	// Serve upgrades an authenticated request; the socket's session
	// expires with the access token at expiresAt unless the client sends
	// a fresh one. clientIP is the client's address (trusted proxies
	// applied), for the audit of tokens the socket refuses later.
	Serve(w http.ResponseWriter, r *http.Request, user actors.User, expiresAt time.Time, clientIP string)
	DisconnectUser(userID string, code int, reason string)
	Online(userID string) bool
}

// AgentLoads reports each agent's open-conversation count.
type AgentLoads interface {
	Loads(timeout time.Duration) (map[string]int, error)
}

// Engine is the conversation engine behind the WhatsApp, agent and
// notification endpoints. Nil in Deps leaves those routes out.
type Engine struct {
	Reads     ConversationReads
	Directory conversation.Directory
	Inbox     InboxWriter
	// WakeInbox tells the inbox dispatcher new bodies were stored; used
	// when Accepted is nil.
	WakeInbox func()
	// Accepted hands the bodies just stored to the inbox dispatcher (in
	// append order), so that it need not read them back.
	Accepted func([]actors.InboxEntry)
	Sockets  Sockets
	Loads    AgentLoads
	// Idempotency keeps Idempotency-Key answers of mutating requests.
	Idempotency IdempotencyStore
	// DeadLetters lists and re-drives failed sends; Requeue puts their
	// messages back to queued first.
	DeadLetters actors.DeadLetters
	Requeue     Requeuer
	// Reports are the pricing counts and webhook errors for operators.
	Reports WhatsAppReports
	// Templates is the template registry; nil (no business account
	// configured) leaves template sends unchecked.
	Templates Templates
}

const commandTimeout = 10 * time.Second

// sendAnswerMargin is how long before commandTimeout a Send's actor must
// have given up (Send.Deadline), leaving time for a refusal written after
// a failed publish to come back.
const sendAnswerMargin = 3 * time.Second

type messagesPage struct {
	Items      []actors.MessageView `json:"items"`
	NextCursor string               `json:"nextCursor"`
	Limit      int                  `json:"limit"`
}

type conversationEnvelope struct {
	Conversation actors.ConversationView `json:"conversation"`
}

type assignRequest struct {
	AgentID *string `json:"agentId,omitempty"`
}

var validStates = map[string]bool{actors.StateNew: true, actors.StateActive: true, actors.StateExpired: true, actors.StateClosed: true}

// visibleConversation loads a conversation the caller may see
// (app.Visible: agents see only their own), and anything else is 404
// (never 403: no leak).
func (s *Server) visibleConversation(r *http.Request) (actors.Conversation, *apiError, error) {
	p, _ := principalFrom(r.Context())
	c, err := s.app.Visible(r.Context(), p.User, chi.URLParam(r, "id"))
	if errors.Is(err, actors.ErrNotFound) {
		return actors.Conversation{}, errf(http.StatusNotFound, CodeNotFound, "conversation not found"), nil
	}
	if err != nil {
		return actors.Conversation{}, nil, err
	}
	return c, nil, nil
}

// visible is visibleConversation that answers the error itself; ok is
// false when it did.
func (s *Server) visible(w http.ResponseWriter, r *http.Request) (actors.Conversation, bool) {
	c, ae, err := s.visibleConversation(r)
	switch {
	case err != nil:
		s.fail(w, r, err)
	case ae != nil:
		writeError(w, r, ae)
	default:
		return c, true
	}
	return actors.Conversation{}, false
}

func (s *Server) handleListConversations(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "status", "assignee", "customerId", "page", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	p, _ := principalFrom(r.Context())
	ve := &validationError{}
	page, limit := q.paging(ve)
	f := actors.ConversationFilter{CustomerID: q.get("customerId"), Page: page, Limit: limit}
	if v := q.get("status"); v != "" {
		for _, st := range strings.Split(v, ",") {
			st = strings.TrimSpace(st)
			if !validStates[st] {
				ve.add("status", "INVALID_STATE", "must be a comma-separated list of new, active, expired, closed")
				break
			}
			f.States = append(f.States, st)
		}
	}
	switch a := q.get("assignee"); {
	case a == "me":
		f.AssigneeID = p.User.ID
	case a == "none":
		f.Unassigned = true
	case a != "":
		f.AssigneeID = a
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	if p.User.Role == actors.RoleAgent {
		// Agents see only their own conversations.
		if f.Unassigned || (f.AssigneeID != "" && f.AssigneeID != p.User.ID) {
			writeData(w, http.StatusOK, listPage[actors.ConversationView]{Items: []actors.ConversationView{}, Page: page, Limit: limit})
			return
		}
		f.AssigneeID = p.User.ID
	}
	cs, total, err := s.engine.Reads.ListConversations(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]actors.ConversationView, 0, len(cs))
	for _, c := range cs {
		items = append(items, c.View())
	}
	writeData(w, http.StatusOK, listPage[actors.ConversationView]{Items: items, Total: total, Page: page, Limit: limit})
}

func (s *Server) handleGetConversation(w http.ResponseWriter, r *http.Request) {
	c, ok := s.visible(w, r)
	if !ok {
		return
	}
	writeData(w, http.StatusOK, conversationEnvelope{Conversation: c.View()})
}

func (s *Server) handleListMessages(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "before", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	_, limit := q.paging(ve)
	if len(q.get("before")) > 200 {
		ve.add("before", "INVALID_CURSOR", "is not a cursor this server issued")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	c, ok := s.visible(w, r)
	if !ok {
		return
	}
	ms, next, err := s.engine.Reads.ListMessages(r.Context(), c.ID, q.get("before"), limit)
	if err != nil {
		if errors.Is(err, actors.ErrBadCursor) {
			ve.add("before", "INVALID_CURSOR", "is not a cursor this server issued")
			writeError(w, r, ve.err())
			return
		}
		s.fail(w, r, err)
		return
	}
	items := make([]actors.MessageView, 0, len(ms))
	for _, m := range ms {
		items = append(items, m.View())
	}
	writeData(w, http.StatusOK, messagesPage{Items: items, NextCursor: next, Limit: limit})
}

// command sends cmd to the conversation's actor and maps its answer.
func (s *Server) command(c actors.Conversation, cmd conversation.Command) (actors.Conversation, error) {
	key := conversation.Key{PhoneNumberID: c.PhoneNumberID, WaID: c.WaID}
	out, err := conversation.Ask(s.engine.Directory, key, cmd, commandTimeout)
	switch {
	case errors.Is(err, conversation.ErrClosed):
		return actors.Conversation{}, errf(http.StatusConflict, "CONVERSATION_CLOSED", "conversation is closed")
	case errors.Is(err, conversation.ErrStale):
		return actors.Conversation{}, errors.Join(actors.ErrUnavailable, err)
	case err != nil:
		// ErrNoAnswer is actors.ErrUnavailable (503).
		return actors.Conversation{}, err
	}
	return out.Conversation, nil
}

func (s *Server) handleCloseConversation(w http.ResponseWriter, r *http.Request) {
	c, ok := s.visible(w, r)
	if !ok {
		return
	}
	if c.State == actors.StateClosed {
		writeError(w, r, errf(http.StatusConflict, "CONVERSATION_CLOSED", "conversation is already closed"))
		return
	}
	p, _ := principalFrom(r.Context())
	out, err := s.command(c, conversation.Close{ConversationID: c.ID, ByUserID: p.User.ID})
	if err != nil {
		s.audit(r, "conversations.close", "conversation:"+c.ID, actors.OutcomeFailure, "")
		s.fail(w, r, err)
		return
	}
	s.audit(r, "conversations.close", "conversation:"+c.ID, actors.OutcomeSuccess, "")
	writeData(w, http.StatusOK, conversationEnvelope{Conversation: out.View()})
}

func (s *Server) handleAssignConversation(w http.ResponseWriter, r *http.Request) {
	var req assignRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, r, e)
		return
	}
	c, ok := s.visible(w, r)
	if !ok {
		return
	}
	if c.State == actors.StateClosed {
		writeError(w, r, errf(http.StatusConflict, "CONVERSATION_CLOSED", "conversation is closed"))
		return
	}
	p, _ := principalFrom(r.Context())
	msg := conversation.Assign{ConversationID: c.ID, ByUserID: p.User.ID}
	detail := "auto"
	if req.AgentID != nil && *req.AgentID != "" {
		u, err := s.store.UserByID(r.Context(), *req.AgentID)
		if errors.Is(err, actors.ErrNotFound) {
			ve := &validationError{}
			ve.add("agentId", "UNKNOWN_USER", "no such user")
			writeError(w, r, ve.err())
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		msg.AgentID, detail = u.ID, "to "+u.ID
	}
	// {} (or agentId "") unassigns; the conversation then asks the assigner
	// for the least-loaded online agent.
	out, err := s.command(c, msg)
	if err != nil {
		s.audit(r, "conversations.assign", "conversation:"+c.ID, actors.OutcomeFailure, detail)
		s.fail(w, r, err)
		return
	}
	s.audit(r, "conversations.assign", "conversation:"+c.ID, actors.OutcomeSuccess, detail)
	writeData(w, http.StatusOK, conversationEnvelope{Conversation: out.View()})
}

type agentView struct {
	ID                string    `json:"id"`
	Email             string    `json:"email"`
	Name              string    `json:"name"`
	Role              string    `json:"role"`
	Online            bool      `json:"online"`
	OpenConversations int       `json:"openConversations"`
	CreatedAt         time.Time `json:"createdAt"`
}

func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request) {
	if _, ae := readQuery(r); ae != nil {
		writeError(w, r, ae)
		return
	}
	users, err := s.store.ListUsers(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	loads, err := s.engine.Loads.Loads(5 * time.Second)
	if err != nil {
		s.fail(w, r, errors.Join(actors.ErrUnavailable, err))
		return
	}
	items := make([]agentView, 0, len(users))
	for _, u := range users {
		items = append(items, agentView{ID: u.ID, Email: u.Email, Name: u.Name, Role: string(u.Role), Online: s.engine.Sockets.Online(u.ID),
			OpenConversations: loads[u.ID], CreatedAt: u.CreatedAt.UTC()})
	}
	writeData(w, http.StatusOK, listPage[agentView]{Items: items, Total: len(items), Page: 1, Limit: len(items)})
}

type markReadRequest struct {
	IDs []string `json:"ids,omitempty"`
}

func (s *Server) handleListNotifications(w http.ResponseWriter, r *http.Request) {
	q, ae := readQuery(r, "unread", "page", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return
	}
	ve := &validationError{}
	page, limit := q.paging(ve)
	unread := false
	switch q.get("unread") {
	case "", "false":
	case "true":
		unread = true
	default:
		ve.add("unread", "INVALID_BOOLEAN", "must be true or false")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return
	}
	p, _ := principalFrom(r.Context())
	ns, total, err := s.engine.Reads.ListNotifications(r.Context(), p.User.ID, unread, page, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]actors.NotificationView, 0, len(ns))
	for _, n := range ns {
		items = append(items, n.View())
	}
	writeData(w, http.StatusOK, listPage[actors.NotificationView]{Items: items, Total: total, Page: page, Limit: limit})
}

func (s *Server) handleMarkNotificationsRead(w http.ResponseWriter, r *http.Request) {
	var req markReadRequest
	if r.ContentLength != 0 {
		if e := decodeJSON(r, &req); e != nil {
			writeError(w, r, e)
			return
		}
	}
	if len(req.IDs) > 500 {
		ve := &validationError{}
		ve.add("ids", "TOO_MANY", "at most 500 ids")
		writeError(w, r, ve.err())
		return
	}
	p, _ := principalFrom(r.Context())
	n, err := s.engine.Reads.MarkNotificationsRead(r.Context(), p.User.ID, req.IDs, s.now().UTC())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusOK, map[string]int{"updated": n})
}

// handleSocket authenticates the upgrade (Authorization header, or
// ?access_token= for browsers) and checks Origin before handing the
// connection to the agent socket server.
func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
		writeError(w, r, errf(http.StatusForbidden, CodeForbidden, "origin is not allowed"))
		return
	}
	tok := bearerToken(r)
	if tok == "" {
		tok = r.URL.Query().Get("access_token")
	}
	if tok == "" {
		writeError(w, r, errf(http.StatusUnauthorized, CodeUnauthorized, "a bearer access token is required"))
		return
	}
	p, err := s.verifyToken(r.Context(), tok)
	if err != nil {
		s.refusedToken(r, placeSocket, err)
		s.fail(w, r, err)
		return
	}
	if h, ok := r.Context().Value(ctxUserHolder).(*userHolder); ok {
		h.id.Store(&p.User.ID)
	}
	// The server's read and write timeouts must not cut a socket that lives
	// all day; the socket server keeps it alive with pings instead.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	s.engine.Sockets.Serve(w, r, p.User, p.Claims.ExpiresAt.Time, clientIPFrom(r.Context()))
}

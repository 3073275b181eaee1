package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/call"
)

// Calls is what the /api/calls routes are built from; nil in Deps leaves
// them out.
type Calls struct {
	Store     actors.CallStore
	Directory call.Directory
	// WebhookSecret authenticates Exotel's status callbacks: it is the
	// `secret` query parameter of the StatusCallback URL the engine gives
	// Exotel (Exotel does not sign callbacks).
	WebhookSecret string
	// CallerID is the ExoPhone both legs see; TimeLimit and TimeOut (in
	// seconds) go on every connect request.
	CallerID  string
	TimeLimit int
	TimeOut   int
	// CommandTimeout bounds one command to a call actor; 10s when 0.
	CommandTimeout time.Duration
}

// Audit actions of calls.
const (
	auditCallInitiate = "calls.initiate"
	auditCallWebhook  = "calls.webhook"
)

type initiateCallRequest struct {
	CustomerID     string  `json:"customerId"`
	AgentPhone     *string `json:"agentPhone,omitempty"`
	ConversationID *string `json:"conversationId,omitempty"`
	Record         *bool   `json:"record,omitempty"`
}

type callEnvelope struct {
	Call actors.CallView `json:"call"`
}

type callsPage struct {
	Items      []actors.CallView `json:"items"`
	NextCursor string            `json:"nextCursor"`
	Limit      int               `json:"limit"`
}

func (s *Server) callRoutes() []route {
	return []route{
		{method: "POST", pattern: "/api/calls/initiate", handler: s.handleInitiateCall, limited: true, perm: actors.PermCallsWrite, tag: "calls",
			summary: "Call a customer through Exotel: the agent's phone (agentPhone, or the agent's profile phone) rings first, then the customer's. 202 once queued; 409 CONFLICT when the agent has a live call",
			request: initiateCallRequest{}, response: callEnvelope{}, status: 202},
		{method: "POST", pattern: "/api/calls/webhook", handler: s.handleCallWebhook, maxBody: callbackMaxBytes, tag: "calls",
			summary: "Exotel's status callback (JSON, form-encoded or multipart), authenticated by the secret query parameter of the StatusCallback URL; 200 once stored",
			status:  200, query: []string{"secret"}},
		{method: "GET", pattern: "/api/calls/statistics", handler: s.handleCallStatistics, limited: true, perm: actors.PermStatsRead, tag: "calls",
			summary:  "Counts by status, answer rate, total, mean and p90 talk time, overall, per agent and per day (in tz)",
			response: callStatsResponse{}, status: 200, query: []string{"from", "to", "agentId", "groupBy", "tz"}},
		{method: "GET", pattern: "/api/calls/customer/{customerId}", handler: s.handleCustomerCalls, limited: true, perm: actors.PermCallsRead, tag: "calls",
			summary: "A customer's calls, newest first, cursor paged", response: callsPage{}, status: 200, query: []string{"cursor", "limit"}},
		{method: "GET", pattern: "/api/whatsapp/conversations/{id}/calls", handler: s.handleConversationCalls, limited: true, perm: actors.PermCallsRead, tag: "calls",
			summary:  "The calls started from a conversation (initiate with its conversationId), newest first, cursor paged; an agent sees only conversations assigned to it (404 otherwise)",
			response: callsPage{}, status: 200, query: []string{"cursor", "limit"}},
		{method: "GET", pattern: "/api/calls/{id}", handler: s.handleGetCall, limited: true, perm: actors.PermCallsRead, tag: "calls",
			summary: "Get a call", response: callEnvelope{}, status: 200},
	}
}

func (s *Server) callTimeout() time.Duration {
	if s.calls.CommandTimeout > 0 {
		return s.calls.CommandTimeout
	}
	return commandTimeout
}

// customerVisible returns the customer if user may see its calls and call
// it: supervisors and admins every customer, an agent the customers of
// conversations assigned to it (open or closed). Anything else is
// actors.ErrNotFound, like a customer that does not exist.
func (s *Server) customerVisible(ctx context.Context, user actors.User, customerID string) (actors.Customer, error) {
	c, err := s.customers.get(ctx, customerID)
	if err != nil {
		return actors.Customer{}, err
	}
	if user.Role != actors.RoleAgent {
		return c, nil
	}
	if s.engine == nil {
		return actors.Customer{}, fmt.Errorf("customer %s: no conversation engine: %w", customerID, actors.ErrUnavailable)
	}
	_, n, err := s.engine.Reads.ListConversations(ctx, actors.ConversationFilter{CustomerID: customerID, AssigneeID: user.ID, Page: 1, Limit: 1})
	if err != nil {
		return actors.Customer{}, err
	}
	if n == 0 {
		return actors.Customer{}, fmt.Errorf("customer %s: not visible to %s: %w", customerID, user.ID, actors.ErrNotFound)
	}
	return c, nil
}

// callVisible returns the call if user may see it: the agent who placed
// it, anyone who may see its customer.
func (s *Server) callVisible(ctx context.Context, user actors.User, id string) (actors.Call, error) {
	c, err := s.calls.Store.Call(ctx, id)
	if err != nil {
		return actors.Call{}, err
	}
	if user.Role != actors.RoleAgent || c.AgentID == user.ID {
		return c, nil
	}
	if _, err := s.customerVisible(ctx, user, c.CustomerID); err != nil {
		return actors.Call{}, err
	}
	return c, nil
}

func (s *Server) handleInitiateCall(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	var req initiateCallRequest
	if e := decodeJSON(r, &req); e != nil {
		s.audit(r, auditCallInitiate, "customer:"+req.CustomerID, actors.OutcomeFailure, e.Code)
		writeError(w, r, e)
		return
	}
	ve := &validationError{}
	if strings.TrimSpace(req.CustomerID) == "" {
		ve.add("customerId", "REQUIRED", "is required")
	} else if len(req.CustomerID) > 64 {
		ve.add("customerId", "INVALID", "is not a customer id")
	}
	agentPhone := ""
	if req.AgentPhone != nil {
		ph, ok := NormalizePhone(*req.AgentPhone, s.cfg.DefaultPhoneRegion)
		if !ok {
			ve.add("agentPhone", "INVALID_PHONE", "must be a valid phone number in international format, such as +919876543210")
		}
		agentPhone = ph
	}
	if req.ConversationID != nil && (*req.ConversationID == "" || len(*req.ConversationID) > 64) {
		ve.add("conversationId", "INVALID", "must be a conversation id")
	}
	if e := ve.err(); e != nil {
		s.audit(r, auditCallInitiate, "customer:"+req.CustomerID, actors.OutcomeFailure, e.Fields[0].Code)
		writeError(w, r, e)
		return
	}
	ctx := r.Context()
	resource := "customer:" + req.CustomerID
	cust, err := s.customerVisible(ctx, p.User, req.CustomerID)
	if errors.Is(err, actors.ErrNotFound) {
		s.audit(r, auditCallInitiate, resource, actors.OutcomeDenied, "customer not found or not visible")
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "customer not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	convID := ""
	if req.ConversationID != nil {
		conv, err := s.app.Visible(ctx, p.User, *req.ConversationID)
		if errors.Is(err, actors.ErrNotFound) {
			s.audit(r, auditCallInitiate, resource, actors.OutcomeDenied, "conversation not found or not visible")
			writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "conversation not found"))
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if conv.CustomerID != cust.ID {
			ve.add("conversationId", "CUSTOMER_MISMATCH", "is a conversation with another customer")
			writeError(w, r, ve.err())
			return
		}
		convID = conv.ID
	}
	if agentPhone == "" {
		u, err := s.users.get(ctx, p.User.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		agentPhone = u.Phone
	}
	if cust.Phone == "" {
		ve.add("customerId", "CUSTOMER_NO_PHONE", "the customer has no phone number to call")
	}
	if agentPhone == "" {
		ve.add("agentPhone", "AGENT_NO_PHONE", "is required: you have no phone in your profile (PATCH /api/auth/me {\"phone\"}) and none was given")
	}
	if agentPhone != "" && agentPhone == cust.Phone {
		ve.add("agentPhone", "SAME_AS_CUSTOMER", "must differ from the customer's phone")
	}
	if e := ve.err(); e != nil {
		s.audit(r, auditCallInitiate, resource, actors.OutcomeFailure, e.Fields[0].Code)
		writeError(w, r, e)
		return
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	c := actors.Call{ID: actors.NewID(), CustomerID: cust.ID, AgentID: p.User.ID, ConversationID: convID,
		From: agentPhone, To: cust.Phone, CallerID: s.calls.CallerID, Record: req.Record != nil && *req.Record,
		State: actors.StateNew, Status: actors.CallQueued, TimeLimit: s.calls.TimeLimit, TimeOut: s.calls.TimeOut,
		StartedAt: now, CreatedAt: now, UpdatedAt: now}
	res, err := call.Ask(s.calls.Directory, c.ID, call.Start{Call: c}, s.callTimeout())
	switch {
	case errors.Is(err, call.ErrAgentBusy):
		s.audit(r, auditCallInitiate, resource, actors.OutcomeFailure, "agent has a live call")
		writeError(w, r, errf(http.StatusConflict, CodeConflict, "you already have a live call; wait until it ends"))
		return
	case err != nil:
		s.audit(r, auditCallInitiate, resource, actors.OutcomeFailure, "not queued")
		s.fail(w, r, err)
		return
	}
	s.audit(r, auditCallInitiate, "call:"+res.Call.ID, actors.OutcomeSuccess, "customer "+cust.ID)
	writeData(w, http.StatusAccepted, callEnvelope{Call: res.Call.View()})
}

func (s *Server) handleGetCall(w http.ResponseWriter, r *http.Request) {
	p, _ := principalFrom(r.Context())
	c, err := s.callVisible(r.Context(), p.User, chi.URLParam(r, "id"))
	if errors.Is(err, actors.ErrNotFound) {
		writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "call not found"))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusOK, callEnvelope{Call: c.View()})
}

func (s *Server) handleCustomerCalls(w http.ResponseWriter, r *http.Request) {
	limit, afterAt, afterID, ok := readCallsPageQuery(w, r)
	if !ok {
		return
	}
	p, _ := principalFrom(r.Context())
	id := chi.URLParam(r, "customerId")
	if _, err := s.customerVisible(r.Context(), p.User, id); err != nil {
		if errors.Is(err, actors.ErrNotFound) {
			writeError(w, r, errf(http.StatusNotFound, CodeNotFound, "customer not found"))
			return
		}
		s.fail(w, r, err)
		return
	}
	cs, err := s.calls.Store.CallsOfCustomer(r.Context(), id, afterAt, afterID, limit+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusOK, newCallsPage(cs, limit))
}

// handleConversationCalls lists the calls started from a conversation the
// caller can see (s.visible: an agent only those assigned to it).
func (s *Server) handleConversationCalls(w http.ResponseWriter, r *http.Request) {
	limit, afterAt, afterID, ok := readCallsPageQuery(w, r)
	if !ok {
		return
	}
	c, ok := s.visible(w, r)
	if !ok {
		return
	}
	cs, err := s.calls.Store.CallsOfConversation(r.Context(), c.ID, afterAt, afterID, limit+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeData(w, http.StatusOK, newCallsPage(cs, limit))
}

// readCallsPageQuery reads the cursor and limit of a calls listing; ok is
// false when it answered a bad query itself.
func readCallsPageQuery(w http.ResponseWriter, r *http.Request) (limit int, afterAt time.Time, afterID string, ok bool) {
	q, ae := readQuery(r, "cursor", "limit")
	if ae != nil {
		writeError(w, r, ae)
		return 0, time.Time{}, "", false
	}
	ve := &validationError{}
	_, limit = q.paging(ve)
	afterAt, afterID, valid := decodeCallCursor(q.get("cursor"))
	if !valid {
		ve.add("cursor", "INVALID_CURSOR", "is not a cursor this server issued")
	}
	if e := ve.err(); e != nil {
		writeError(w, r, e)
		return 0, time.Time{}, "", false
	}
	return limit, afterAt, afterID, true
}

// newCallsPage is the page of the first limit calls of cs, fetched with
// limit+1: a call beyond limit means another page, whose cursor is the
// last call kept.
func newCallsPage(cs []actors.Call, limit int) callsPage {
	next := ""
	if len(cs) > limit {
		cs = cs[:limit]
		last := cs[len(cs)-1]
		next = encodeCallCursor(last.StartedAt, last.ID)
	}
	items := make([]actors.CallView, 0, len(cs))
	for _, c := range cs {
		items = append(items, c.View())
	}
	return callsPage{Items: items, NextCursor: next, Limit: limit}
}

// encodeCallCursor makes the opaque cursor after the call of (at, id).
func encodeCallCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "." + id))
}

// decodeCallCursor reads a cursor; "" is the first page.
func decodeCallCursor(v string) (time.Time, string, bool) {
	if v == "" {
		return time.Time{}, "", true
	}
	if len(v) > 200 {
		return time.Time{}, "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return time.Time{}, "", false
	}
	ns, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 64 {
		return time.Time{}, "", false
	}
	return time.Unix(0, n).UTC(), id, true
}

package gateway

import (
	"net/http"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/template"
)

// route is one endpoint: its place, who may call it, and what the OpenAPI
// document says of it. Permission checks live here, never in handlers.
type route struct {
	method  string
	pattern string
	handler http.HandlerFunc
	// perm, when set, requires an authenticated caller holding it.
	perm actors.Permission
	// authenticated requires a valid access token without a permission.
	authenticated bool
	// limited applies the per-IP API limit; authLimited adds the stricter
	// auth limit.
	limited     bool
	authLimited bool
	// maxBody is the largest body the route reads; 0 means the JSON API's
	// MaxBodyBytes.
	maxBody int64
	// bodyNote ends the message of a refused body (what maxBody is made of).
	bodyNote string
	// streamed routes read their body as a stream (multipart uploads):
	// the Idempotency-Key middleware, which buffers bodies, stays out; the
	// handler applies the key itself once the body is read (runIdempotent).
	streamed bool
	// upload names the multipart/form-data file field of an upload route
	// (for the schema); binary marks a response of raw bytes.
	upload string
	binary bool

	summary string
	tag     string
	// request is a zero value of the JSON body type, for the schema.
	request any
	// response is a zero value of the success data type, for the schema.
	response any
	status   int
	// query lists accepted query parameters.
	query []string
}

func (s *Server) routeTable() []route {
	rs := s.foundationRoutes()
	if s.engine != nil {
		rs = append(rs, s.engineRoutes()...)
	}
	if s.media != nil {
		rs = append(rs, s.mediaRoutes()...)
	}
	if s.calls != nil {
		rs = append(rs, s.callRoutes()...)
	}
	return rs
}

func (s *Server) engineRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/whatsapp/webhook", handler: s.handleWebhookVerify, tag: "whatsapp",
			summary: "Meta's webhook verification handshake (hub.mode, hub.verify_token, hub.challenge)", status: 200, query: []string{"hub.mode", "hub.verify_token", "hub.challenge"}},
		{method: "POST", pattern: "/api/whatsapp/webhook", handler: s.handleWebhook, tag: "whatsapp", maxBody: s.cfg.WebhookMaxBytes,
			summary: "Meta's signed webhook (X-Hub-Signature-256); 200 once durably accepted; exempt from rate limits", status: 200},
		{method: "GET", pattern: "/api/whatsapp/conversations", handler: s.handleListConversations, limited: true, perm: actors.PermConversationsRead, tag: "whatsapp",
			summary: "List conversations (agents: their own)", response: listPage[actors.ConversationView]{}, status: 200, query: []string{"status", "assignee", "customerId", "page", "limit"}},
		{method: "GET", pattern: "/api/whatsapp/conversations/{id}", handler: s.handleGetConversation, limited: true, perm: actors.PermConversationsRead, tag: "whatsapp",
			summary: "Get a conversation", response: conversationEnvelope{}, status: 200},
		{method: "GET", pattern: "/api/whatsapp/conversations/{id}/messages", handler: s.handleListMessages, limited: true, perm: actors.PermConversationsRead, tag: "whatsapp",
			summary: "A conversation's messages, newest first, cursor paged", response: messagesPage{}, status: 200, query: []string{"before", "limit"}},
		{method: "POST", pattern: "/api/whatsapp/conversations/{id}/assign", handler: s.handleAssignConversation, limited: true, perm: actors.PermConversationsAssign, tag: "whatsapp",
			summary: "Assign to an agent ({agentId}) or back to automatic assignment ({})", request: assignRequest{}, response: conversationEnvelope{}, status: 200},
		{method: "POST", pattern: "/api/whatsapp/conversations/{id}/close", handler: s.handleCloseConversation, limited: true, perm: actors.PermConversationsRead, tag: "whatsapp",
			summary: "Close a conversation", response: conversationEnvelope{}, status: 200},
		{method: "POST", pattern: "/api/whatsapp/messages", handler: s.handleSendMessage, limited: true, perm: actors.PermMessagesSend, tag: "whatsapp",
			summary: "Send a free-form message inside the service window (202 once queued); Idempotency-Key supported", request: sendRequest{}, response: messageEnvelope{}, status: 202},
		{method: "POST", pattern: "/api/whatsapp/messages/template", handler: s.handleSendTemplate, limited: true, perm: actors.PermMessagesSend, tag: "whatsapp",
			summary: "Send a template at any time; starts a conversation when none is open. 422 TEMPLATE_NOT_FOUND, TEMPLATE_NOT_APPROVED or TEMPLATE_PARAMETERS when it does not fit the registry", request: templateRequest{}, response: messageEnvelope{}, status: 202},
		{method: "GET", pattern: "/api/whatsapp/templates", handler: s.handleListTemplates, limited: true, perm: actors.PermMessagesSend, tag: "whatsapp",
			summary: "The business account's message templates as last synced from WhatsApp, by name then language", response: templatesPage{}, status: 200,
			query: []string{"status", "name", "language", "category", "page", "limit"}},
		{method: "POST", pattern: "/api/whatsapp/templates/sync", handler: s.handleSyncTemplates, limited: true, perm: actors.PermUsersManage, tag: "whatsapp",
			summary: "Sync the template registry from WhatsApp now (admin); 200 with the counts, 503 when WhatsApp did not answer", response: template.SyncResult{}, status: 200},
		{method: "GET", pattern: "/api/whatsapp/dead-letters", handler: s.handleListDeadLetters, limited: true, perm: actors.PermConversationsAssign, tag: "whatsapp",
			summary: "Sends that exhausted their attempts", response: deadLettersPage{}, status: 200, query: []string{"limit"}},
		{method: "POST", pattern: "/api/whatsapp/dead-letters/redrive", handler: s.handleRedrive, limited: true, perm: actors.PermConversationsAssign, tag: "whatsapp",
			summary: "Put dead letters back on the queue ({messageIds} or {} for all)", request: redriveRequest{}, status: 200},
		{method: "GET", pattern: "/api/whatsapp/pricing", handler: s.handlePricing, limited: true, perm: actors.PermStatsRead, tag: "whatsapp",
			summary: "Priced outbound messages by pricing category and billable (from status webhooks' pricing)", response: pricingReport{}, status: 200,
			query: []string{"from", "to", "phoneNumberId"}},
		{method: "GET", pattern: "/api/whatsapp/webhook-errors", handler: s.handleWebhookErrors, limited: true, perm: actors.PermStatsRead, tag: "whatsapp",
			summary: "Value-level errors WhatsApp reported in webhooks, newest first", response: webhookErrorsPage{}, status: 200,
			query: []string{"limit", "phoneNumberId"}},
		{method: "GET", pattern: "/api/agents", handler: s.handleListAgents, limited: true, perm: actors.PermConversationsAssign, tag: "agents",
			summary: "Users with presence and open-conversation counts", response: listPage[agentView]{}, status: 200},
		{method: "GET", pattern: "/api/notifications", handler: s.handleListNotifications, limited: true, authenticated: true, tag: "notifications",
			summary: "The caller's notifications, newest first", response: listPage[actors.NotificationView]{}, status: 200, query: []string{"unread", "page", "limit"}},
		{method: "POST", pattern: "/api/notifications/read", handler: s.handleMarkNotificationsRead, limited: true, authenticated: true, tag: "notifications",
			summary: "Mark the caller's notifications read (all when ids is absent)", request: markReadRequest{}, status: 200},
		{method: "GET", pattern: "/ws", handler: s.handleSocket, limited: true, tag: "agents",
			summary: "Agent WebSocket (Bearer or ?access_token=; ?cursor= resumes); frames {type,data,cursor?}", status: 101, query: []string{"access_token", "cursor"}},
	}
}

func (s *Server) foundationRoutes() []route {
	return []route{
		{method: "GET", pattern: "/healthz", handler: s.handleHealthz, tag: "operations", summary: "Process is up", status: 200},
		{method: "GET", pattern: "/readyz", handler: s.handleReadyz, tag: "operations", summary: "Dependencies are reachable (503 names the failing one); details only on METRICS_ADDR", status: 200},
		{method: "GET", pattern: "/metrics", handler: s.handleMetrics, perm: actors.PermUsersManage, tag: "operations", summary: "Prometheus metrics (text format); admins only here, open on METRICS_ADDR", status: 200},
		{method: "GET", pattern: "/api/openapi.json", handler: s.handleOpenAPI, limited: true, tag: "operations", summary: "This OpenAPI 3.1 document", status: 200},

		{method: "POST", pattern: "/api/auth/register", handler: s.handleRegister, limited: true, authLimited: true, tag: "auth",
			summary: "Create an agent account and log it in", request: registerRequest{}, response: sessionResponse{}, status: 201},
		{method: "POST", pattern: "/api/auth/login", handler: s.handleLogin, limited: true, authLimited: true, tag: "auth",
			summary: "Log in with email and password", request: loginRequest{}, response: sessionResponse{}, status: 200},
		{method: "POST", pattern: "/api/auth/refresh-token", handler: s.handleRefresh, limited: true, authLimited: true, tag: "auth",
			summary: "Rotate a refresh token into a new pair; reuse revokes the family", request: refreshRequest{}, response: sessionResponse{}, status: 200},
		{method: "POST", pattern: "/api/auth/logout", handler: s.handleLogout, limited: true, authLimited: true, authenticated: true, tag: "auth",
			summary: "Revoke the access token and its refresh family", request: logoutRequest{}, status: 200},
		{method: "GET", pattern: "/api/auth/me", handler: s.handleMe, limited: true, authenticated: true, tag: "auth",
			summary: "The caller with its permissions", response: meResponse{}, status: 200},
		{method: "PATCH", pattern: "/api/auth/me", handler: s.handleUpdateMe, limited: true, authenticated: true, tag: "auth",
			summary: "Change the caller's own phone (E.164, or null to clear)", request: userPatchRequest{}, response: meResponse{}, status: 200},
		{method: "POST", pattern: "/api/auth/password", handler: s.handleChangePassword, limited: true, authLimited: true, authenticated: true, tag: "auth",
			summary: "Change the caller's own password ({currentPassword,newPassword}); every older token, login and socket of the user ends; answers a fresh session",
			request: passwordChangeRequest{}, response: sessionResponse{}, status: 200},
		{method: "GET", pattern: "/api/users", handler: s.handleListUsers, limited: true, perm: actors.PermUsersManage, tag: "users",
			summary:  "List users, oldest first, with role and disabled (admin); search matches a substring of the name or email",
			response: listPage[userView]{}, status: 200, query: []string{"page", "limit", "search"}},
		{method: "PATCH", pattern: "/api/users/{id}", handler: s.handleUpdateUser, limited: true, perm: actors.PermUsersManage, tag: "users",
			summary: "Change a user's phone (E.164, or null to clear) and/or disable or enable it ({disabled}); disabling ends its tokens, logins and sockets at once",
			request: userAdminPatchRequest{}, response: userEnvelope{}, status: 200},
		{method: "PATCH", pattern: "/api/users/{id}/role", handler: s.handleSetRole, limited: true, perm: actors.PermUsersManage, tag: "users",
			summary: "Change a user's role; a change ends the user's older tokens, logins and sockets", request: roleRequest{}, response: userEnvelope{}, status: 200},

		{method: "POST", pattern: "/api/customers", handler: s.handleCreateCustomer, limited: true, perm: actors.PermCustomersWrite, tag: "customers",
			summary: "Create a customer", request: customerRequest{}, response: customerEnvelope{}, status: 201},
		{method: "GET", pattern: "/api/customers", handler: s.handleListCustomers, limited: true, perm: actors.PermCustomersRead, tag: "customers",
			summary: "List customers", response: listPage[customerView]{}, status: 200, query: []string{"page", "limit", "search", "tag"}},
		{method: "GET", pattern: "/api/customers/{id}", handler: s.handleGetCustomer, limited: true, perm: actors.PermCustomersRead, tag: "customers",
			summary: "Get a customer", response: customerEnvelope{}, status: 200},
		{method: "PUT", pattern: "/api/customers/{id}", handler: s.handleUpdateCustomer, limited: true, perm: actors.PermCustomersWrite, tag: "customers",
			summary: "Replace a customer's fields", request: customerRequest{}, response: customerEnvelope{}, status: 200},
		{method: "DELETE", pattern: "/api/customers/{id}", handler: s.handleDeleteCustomer, limited: true, perm: actors.PermCustomersDelete, tag: "customers",
			summary: "Delete a customer", status: 204},

		{method: "GET", pattern: "/api/audit", handler: s.handleListAudit, limited: true, perm: actors.PermAuditRead, tag: "audit",
			summary: "Audit log, newest first", response: listPage[auditView]{}, status: 200, query: []string{"actor", "action", "from", "to", "page", "limit"}},
	}
}

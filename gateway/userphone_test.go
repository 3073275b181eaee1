package gateway_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway"
)

// phoneOf is the phone of the user object in a 200 answer: nil when null.
func phoneOf(t *testing.T, r response) any {
	t.Helper()
	require.Equal(t, http.StatusOK, r.Status, r.String())
	u, ok := r.data()["user"].(map[string]any)
	require.True(t, ok, r.String())
	phone, present := u["phone"]
	require.True(t, present, "the user object always carries phone: %s", r.String())
	return phone
}

// storedPhone reads the user's phone straight from the store.
func (h *harness) storedPhone(id string) string {
	h.t.Helper()
	u, err := h.store.UserByID(context.Background(), id)
	require.NoError(h.t, err)
	return u.Phone
}

func TestUserPhoneSetByAdminAndByItsOwner(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "engine.db")
	h := newHarness(t, harnessOpts{dbPath: dbPath})
	admin := h.userWithRole(actors.RoleAdmin)
	agent := h.register()

	// Read once so the agent's user is in the read cache: every change below
	// must be seen at once through the same token.
	assert.Nil(t, phoneOf(t, h.call("GET", "/api/auth/me", agent.Access, nil)), "no phone yet: null")

	r := h.call("PATCH", "/api/users/"+agent.ID, admin.Access, map[string]any{"phone": " +91 98765-43210 "})
	assert.Equal(t, "+919876543210", phoneOf(t, r), "stored and answered as E.164")
	assert.Equal(t, agent.ID, r.data()["user"].(map[string]any)["id"])
	assert.Equal(t, "+919876543210", phoneOf(t, h.call("GET", "/api/auth/me", agent.Access, nil)), "the cached user was invalidated")
	assert.Equal(t, "+919876543210", h.storedPhone(agent.ID))

	r = h.call("PATCH", "/api/users/"+agent.ID, admin.Access, map[string]any{"phone": nil})
	assert.Nil(t, phoneOf(t, r), "null clears the phone")
	assert.Nil(t, phoneOf(t, h.call("GET", "/api/auth/me", agent.Access, nil)))
	assert.Equal(t, "", h.storedPhone(agent.ID))

	r = h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"phone": "+447911123456"})
	assert.Equal(t, "+447911123456", phoneOf(t, r))
	assert.Equal(t, "agent", r.data()["user"].(map[string]any)["role"])
	assert.Contains(t, r.data()["user"].(map[string]any)["permissions"], string(actors.PermCallsWrite), "PATCH /me answers as GET /me")
	assert.Equal(t, "+447911123456", phoneOf(t, h.call("GET", "/api/auth/me", agent.Access, nil)))

	// A second engine over the same database file reads it from disk.
	restarted := newHarness(t, harnessOpts{dbPath: dbPath})
	login := restarted.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"})
	assert.Equal(t, "+447911123456", phoneOf(t, login), "login answers the stored phone")
	again := sessionOf(t, login)
	assert.Equal(t, "+447911123456", phoneOf(t, restarted.call("GET", "/api/auth/me", again.Access, nil)))

	recs := h.auditRecords(actors.AuditFilter{Action: "users.phone_change"})
	require.Len(t, recs, 3, "every change is audited")
	byActor := map[string]int{}
	for _, a := range recs {
		assert.Equal(t, actors.OutcomeSuccess, a.Outcome)
		assert.Equal(t, "user:"+agent.ID, a.Resource)
		assert.NotContains(t, a.Detail, "98765", "the audit log masks the number")
		assert.NotContains(t, a.Detail, "7911123", "the audit log masks the number")
		byActor[a.ActorID]++
	}
	assert.Equal(t, map[string]int{admin.ID: 2, agent.ID: 1}, byActor)
}

func TestUserPhoneOnlyAdminsChangeOthers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	sup := h.userWithRole(actors.RoleSupervisor)
	agent := h.register()
	other := h.register()
	r := h.call("PATCH", "/api/users/"+other.ID, admin.Access, map[string]any{"phone": "+919876543210"})
	require.Equal(t, http.StatusOK, r.Status, r.String())

	body := map[string]any{"phone": "+447911123456"}
	requireError(t, h.call("PATCH", "/api/users/"+other.ID, agent.Access, body), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+agent.ID, agent.Access, body), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+other.ID, sup.Access, body), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+other.ID, "", body), 401, "UNAUTHORIZED")
	requireError(t, h.call("PATCH", "/api/auth/me", "", body), 401, "UNAUTHORIZED")
	requireError(t, h.call("PATCH", "/api/users/nobody", admin.Access, body), 404, "NOT_FOUND")
	assert.Equal(t, "+919876543210", h.storedPhone(other.ID), "refused changes change nothing")
	assert.Equal(t, "", h.storedPhone(agent.ID))

	// PATCH /api/auth/me takes the phone only: never the role or anything else.
	for _, field := range []string{"role", "email", "id", "name", "createdAt"} {
		r := h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"phone": "+447911123456", field: "admin"})
		requireError(t, r, 400, "VALIDATION_ERROR")
		errs := r.Env["errors"].([]any)
		require.Len(t, errs, 1, r.String())
		assert.Equal(t, field, errs[0].(map[string]any)["field"])
		assert.Equal(t, "UNKNOWN_FIELD", errs[0].(map[string]any)["code"])
	}
	u, err := h.store.UserByID(context.Background(), agent.ID)
	require.NoError(t, err)
	assert.Equal(t, actors.RoleAgent, u.Role)
	assert.Equal(t, "", u.Phone, "a body with a refused field changes nothing")
	me := h.call("GET", "/api/auth/me", agent.Access, nil)
	assert.Equal(t, "agent", me.data()["user"].(map[string]any)["role"])
}

func TestUserPhoneRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	agent := h.register()
	r := h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"phone": "+919876543210"})
	require.Equal(t, http.StatusOK, r.Status, r.String())

	tests := []struct {
		name     string
		body     any
		wantCode string
	}{
		{name: "letters", body: map[string]any{"phone": "call me maybe"}, wantCode: "INVALID_PHONE"},
		{name: "letters after a valid prefix", body: map[string]any{"phone": "+91abcdefghij"}, wantCode: "INVALID_PHONE"},
		{name: "too short", body: map[string]any{"phone": "+91123"}, wantCode: "INVALID_PHONE"},
		{name: "too long", body: map[string]any{"phone": "+9198765432109876"}, wantCode: "INVALID_PHONE"},
		{name: "no country code and no DEFAULT_PHONE_REGION", body: map[string]any{"phone": "9876543210"}, wantCode: "INVALID_PHONE"},
		{name: "unknown country code", body: map[string]any{"phone": "+999123456789"}, wantCode: "INVALID_PHONE"},
		{name: "empty string (null clears)", body: map[string]any{"phone": ""}, wantCode: "INVALID_PHONE"},
		{name: "number instead of string", body: map[string]any{"phone": 919876543210}, wantCode: "INVALID_TYPE"},
		{name: "object instead of string", body: map[string]any{"phone": map[string]any{"e164": "+919876543210"}}, wantCode: "INVALID_TYPE"},
		{name: "phone missing", body: map[string]any{}, wantCode: "REQUIRED"},
	}
	paths := map[string]string{"own": "/api/auth/me", "admin": "/api/users/" + agent.ID}
	tokens := map[string]string{"own": agent.Access, "admin": admin.Access}
	for _, tc := range tests {
		for who, path := range paths {
			t.Run(who+"/"+tc.name, func(t *testing.T) {
				r := h.call("PATCH", path, tokens[who], tc.body)
				requireError(t, r, 400, "VALIDATION_ERROR")
				errs, _ := r.Env["errors"].([]any)
				require.Len(t, errs, 1, r.String())
				e := errs[0].(map[string]any)
				assert.Equal(t, "phone", e["field"])
				assert.Equal(t, tc.wantCode, e["code"])
				assert.NotEmpty(t, e["message"])
				assert.Equal(t, "+919876543210", h.storedPhone(agent.ID), "a refused phone changes nothing")
			})
		}
	}
	assert.Equal(t, "+919876543210", phoneOf(t, h.call("GET", "/api/auth/me", agent.Access, nil)))

	recs := h.auditRecords(actors.AuditFilter{Action: "users.phone_change"})
	failures := 0
	for _, a := range recs {
		if a.Outcome == actors.OutcomeFailure {
			failures++
			assert.Equal(t, "user:"+agent.ID, a.Resource)
		}
	}
	assert.Equal(t, 2*len(tests), failures, "every refusal is audited")
}

func TestUserPhoneReadInDefaultRegion(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{config: func(o *gateway.Options) { o.DefaultPhoneRegion = "IN" }})
	agent := h.register()
	tests := []struct {
		name, phone, want string
	}{
		{name: "national number", phone: "98765 43210", want: "+919876543210"},
		{name: "national number with trunk 0", phone: "098765 43210", want: "+919876543210"},
		{name: "another country still needs its code", phone: "+447911123456", want: "+447911123456"},
	}
	for _, tc := range tests {
		r := h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"phone": tc.phone})
		assert.Equal(t, tc.want, phoneOf(t, r), tc.name)
	}
	r := h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"phone": "12345"})
	requireError(t, r, 400, "VALIDATION_ERROR")
	assert.True(t, strings.Contains(r.String(), "INVALID_PHONE"), r.String())
}

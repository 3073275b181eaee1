package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func TestDisableUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	sup := h.userWithRole(actors.RoleSupervisor)
	agent := h.register()
	other := h.register()
	path := "/api/users/" + agent.ID

	// Refusals change nothing.
	requireError(t, h.call("PATCH", path, sup.Access, map[string]any{"disabled": true}), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", path, agent.Access, map[string]any{"disabled": true}), 403, "FORBIDDEN")
	requireError(t, h.call("PATCH", "/api/users/"+admin.ID, admin.Access, map[string]any{"disabled": true}), 409, "CONFLICT")
	requireError(t, h.call("PATCH", "/api/users/nobody", admin.Access, map[string]any{"disabled": true}), 404, "NOT_FOUND")
	requireError(t, h.call("PATCH", "/api/auth/me", agent.Access, map[string]any{"disabled": false}), 400, "VALIDATION_ERROR")
	for name, body := range map[string]any{
		"string":             map[string]any{"disabled": "true"},
		"number":             map[string]any{"disabled": 1},
		"null":               map[string]any{"disabled": nil},
		"bad phone with it":  map[string]any{"disabled": true, "phone": "not a phone"},
		"unknown field":      map[string]any{"disabled": true, "role": "admin"},
		"neither field":      map[string]any{},
		"disabled as object": map[string]any{"disabled": map[string]any{}},
	} {
		r := h.call("PATCH", path, admin.Access, body)
		requireError(t, r, 400, "VALIDATION_ERROR")
		assert.NotEmpty(t, r.Env["errors"], name)
	}
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", agent.Access, nil).Status, "refusals disabled nothing")
	u, err := h.store.UserByID(context.Background(), agent.ID)
	require.NoError(t, err)
	require.False(t, u.Disabled)
	require.Zero(t, u.TokenVersion)

	// Disable: every token and refresh of the user is refused at once; it
	// cannot log in; the user JSON says so; others are untouched.
	r := h.call("PATCH", path, admin.Access, map[string]any{"disabled": true})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	assert.Equal(t, true, r.data()["user"].(map[string]any)["disabled"])
	requireError(t, h.call("GET", "/api/auth/me", agent.Access, nil), 401, "TOKEN_REVOKED")
	requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": agent.Refresh}), 401, "TOKEN_REVOKED")
	requireError(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"}), 401, "ACCOUNT_DISABLED")
	wrong := h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "wrong-pass-1"})
	requireError(t, wrong, 401, "UNAUTHORIZED")
	assert.NotContains(t, wrong.String(), "disabled", "a wrong password learns nothing of the account's state")
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", other.Access, nil).Status)

	// Enable: a new login works; the old tokens stay dead.
	r = h.call("PATCH", path, admin.Access, map[string]any{"disabled": false})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	assert.Equal(t, false, r.data()["user"].(map[string]any)["disabled"])
	requireError(t, h.call("GET", "/api/auth/me", agent.Access, nil), 401, "TOKEN_REVOKED")
	r = h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	fresh := sessionOf(t, r)
	me := h.call("GET", "/api/auth/me", fresh.Access, nil)
	require.Equal(t, http.StatusOK, me.Status)
	assert.Equal(t, false, me.data()["user"].(map[string]any)["disabled"])

	// Phone and disabled together.
	r = h.call("PATCH", path, admin.Access, map[string]any{"disabled": true, "phone": "+919876543210"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	assert.Equal(t, "+919876543210", r.data()["user"].(map[string]any)["phone"])
	requireError(t, h.call("GET", "/api/auth/me", fresh.Access, nil), 401, "TOKEN_REVOKED")

	actions := map[string]map[string]int{}
	for _, a := range h.auditRecords(actors.AuditFilter{ActorID: admin.ID}) {
		if actions[a.Action] == nil {
			actions[a.Action] = map[string]int{}
		}
		actions[a.Action][a.Outcome]++
	}
	assert.Equal(t, 2, actions["users.disable"][actors.OutcomeSuccess])
	assert.Equal(t, 1, actions["users.enable"][actors.OutcomeSuccess])
	assert.Positive(t, actions["users.disable"][actors.OutcomeFailure], "refused disables are audited")
}

func TestRegisterRefusesBreachedPasswords(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	for _, pw := range []string{"password1", "Password1", "iloveyou1", "12345678"} {
		r := h.call("POST", "/api/auth/register", "", map[string]string{"email": "breached@example.com", "password": pw, "name": "B"})
		requireError(t, r, 400, "VALIDATION_ERROR")
		errs := r.Env["errors"].([]any)
		require.Len(t, errs, 1, r.String())
		assert.Equal(t, "password", errs[0].(map[string]any)["field"])
		assert.Equal(t, "BREACHED_PASSWORD", errs[0].(map[string]any)["code"])
		assert.Contains(t, errs[0].(map[string]any)["message"], "breach")
	}
	requireError(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": "breached@example.com", "password": "password1"}), 401, "UNAUTHORIZED")
	r := h.call("POST", "/api/auth/register", "", map[string]string{"email": "breached@example.com", "password": "lumen-orbit-7", "name": "B"})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	other := h.register()
	second := sessionOf(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"}))

	tests := []struct {
		name      string
		body      any
		wantField string
		wantCode  string
	}{
		{name: "wrong current password", body: map[string]any{"currentPassword": "not-my-pass", "newPassword": "brand-new-pass-42"}, wantField: "currentPassword", wantCode: "INCORRECT"},
		{name: "current missing", body: map[string]any{"newPassword": "brand-new-pass-42"}, wantField: "currentPassword", wantCode: "REQUIRED"},
		{name: "new too short", body: map[string]any{"currentPassword": "s3cret-pass", "newPassword": "short"}, wantField: "newPassword", wantCode: "INVALID_LENGTH"},
		{name: "new is breached", body: map[string]any{"currentPassword": "s3cret-pass", "newPassword": "Qwertyuiop"}, wantField: "newPassword", wantCode: "BREACHED_PASSWORD"},
		{name: "new the same", body: map[string]any{"currentPassword": "s3cret-pass", "newPassword": "s3cret-pass"}, wantField: "newPassword", wantCode: "SAME_AS_CURRENT"},
	}
	for _, tc := range tests {
		r := h.call("POST", "/api/auth/password", agent.Access, tc.body)
		requireError(t, r, 400, "VALIDATION_ERROR")
		errs := r.Env["errors"].([]any)
		require.Len(t, errs, 1, "%s: %s", tc.name, r.String())
		assert.Equal(t, tc.wantField, errs[0].(map[string]any)["field"], tc.name)
		assert.Equal(t, tc.wantCode, errs[0].(map[string]any)["code"], tc.name)
	}
	requireError(t, h.call("POST", "/api/auth/password", "", map[string]any{"currentPassword": "s3cret-pass", "newPassword": "brand-new-pass-42"}), 401, "UNAUTHORIZED")
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", agent.Access, nil).Status, "refusals change nothing")

	r := h.call("POST", "/api/auth/password", agent.Access, map[string]any{"currentPassword": "s3cret-pass", "newPassword": "brand-new-pass-42"})
	require.Equal(t, http.StatusOK, r.Status, r.String())
	fresh := sessionOf(t, r)
	// Every older token and login of the user ends, the caller's included;
	// the fresh session answers.
	for _, tok := range []string{agent.Access, second.Access} {
		requireError(t, h.call("GET", "/api/auth/me", tok, nil), 401, "TOKEN_REVOKED")
	}
	for _, refresh := range []string{agent.Refresh, second.Refresh} {
		requireError(t, h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": refresh}), 401, "TOKEN_REVOKED")
	}
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", fresh.Access, nil).Status)
	r = h.call("POST", "/api/auth/refresh-token", "", map[string]string{"refreshToken": fresh.Refresh})
	require.Equal(t, http.StatusOK, r.Status, "the fresh login refreshes: %s", r.String())
	require.Equal(t, http.StatusOK, h.call("GET", "/api/auth/me", other.Access, nil).Status, "another user is untouched")

	requireError(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "s3cret-pass"}), 401, "UNAUTHORIZED")
	r = h.call("POST", "/api/auth/login", "", map[string]string{"email": agent.Email, "password": "brand-new-pass-42"})
	require.Equal(t, http.StatusOK, r.Status, r.String())

	outcomes := map[string]int{}
	for _, a := range h.auditRecords(actors.AuditFilter{Action: "auth.password_change"}) {
		outcomes[a.Outcome]++
	}
	assert.Equal(t, 1, outcomes[actors.OutcomeSuccess])
	assert.Equal(t, len(tests), outcomes[actors.OutcomeFailure])
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	admin := h.userWithRole(actors.RoleAdmin)
	sup := h.userWithRole(actors.RoleSupervisor)
	agent := h.register()
	h.register()
	off := h.register()
	require.Equal(t, http.StatusOK, h.call("PATCH", "/api/users/"+off.ID, admin.Access, map[string]any{"disabled": true}).Status)
	stored, err := h.store.ListUsers(context.Background(), "")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(stored), 5)

	// Only admins (users:manage) list users.
	requireError(t, h.call("GET", "/api/users", "", nil), 401, "UNAUTHORIZED")
	requireError(t, h.call("GET", "/api/users", sup.Access, nil), 403, "FORBIDDEN")
	requireError(t, h.call("GET", "/api/users", agent.Access, nil), 403, "FORBIDDEN")
	for _, q := range []string{"limit=0", "page=0", "page=x", "sort=name", "search=" + strings.Repeat("a", 101)} {
		requireError(t, h.call("GET", "/api/users?"+q, admin.Access, nil), 400, "VALIDATION_ERROR")
	}

	// Pages of two walk every user once, oldest first, as the store keeps
	// them; no password hash in any body.
	var ids []string
	for page := 1; ; page++ {
		r := h.call("GET", fmt.Sprintf("/api/users?page=%d&limit=2", page), admin.Access, nil)
		require.Equal(t, http.StatusOK, r.Status, r.String())
		assert.NotContains(t, string(r.Raw), "argon2", "page %d", page)
		assert.NotContains(t, strings.ToLower(string(r.Raw)), "password", "page %d", page)
		d := r.data()
		assert.Equal(t, float64(len(stored)), d["total"])
		assert.Equal(t, float64(page), d["page"])
		assert.Equal(t, float64(2), d["limit"])
		items := d["items"].([]any)
		if len(items) == 0 {
			break
		}
		require.LessOrEqual(t, len(items), 2)
		for _, it := range items {
			u := it.(map[string]any)
			ids = append(ids, u["id"].(string))
			assert.Contains(t, u, "disabled")
			assert.Contains(t, u, "role")
			assert.Contains(t, u, "email")
		}
	}
	want := make([]string, 0, len(stored))
	for _, u := range stored {
		want = append(want, u.ID)
	}
	assert.Equal(t, want, ids)

	// Search by part of the email, any case; the disabled user says so.
	r := h.call("GET", "/api/users?search="+url.QueryEscape(strings.ToUpper(strings.Split(off.Email, "@")[0])), admin.Access, nil)
	require.Equal(t, http.StatusOK, r.Status, r.String())
	items := r.data()["items"].([]any)
	require.Len(t, items, 1, r.String())
	u := items[0].(map[string]any)
	assert.Equal(t, off.ID, u["id"])
	assert.Equal(t, true, u["disabled"])
	assert.Equal(t, float64(1), r.data()["total"])

	// By name: the supervisor is named after its role.
	r = h.call("GET", "/api/users?search=SuperVisor", admin.Access, nil)
	require.Equal(t, http.StatusOK, r.Status, r.String())
	items = r.data()["items"].([]any)
	require.Len(t, items, 1, r.String())
	assert.Equal(t, sup.ID, items[0].(map[string]any)["id"])
	assert.Equal(t, false, items[0].(map[string]any)["disabled"])
}

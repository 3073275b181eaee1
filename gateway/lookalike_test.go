package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookalikeEmailsAreRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	first := h.call("POST", "/api/auth/register", "", map[string]string{"email": "agent@example.com", "password": "lumen-orbit-7", "name": "A"})
	require.Equal(t, http.StatusCreated, first.Status, first.String())

	cases := []struct {
		name  string
		email string
		// status and code of the answer; wantField names the field of a
		// validation error; wantMessage is part of the message.
		status      int
		code        string
		wantField   string
		wantMessage string
	}{
		{name: "fullwidth letters", email: "ａｇｅｎｔ@example.com", status: 409, code: "CONFLICT", wantMessage: "already registered"},
		{name: "mathematical letters", email: "𝐚𝐠𝐞𝐧𝐭@example.com", status: 409, code: "CONFLICT", wantMessage: "already registered"},
		{name: "one Cyrillic a", email: "\u0430gent@example.com", status: 409, code: "CONFLICT", wantMessage: "look-alike"},
		{name: "Cyrillic e and Greek alpha in the domain", email: "ag\u0435nt@ex\u03b1mple.com", status: 409, code: "CONFLICT", wantMessage: "look-alike"},
		{name: "mixed script without a twin", email: "p\u0430ypal@example.com", status: 400, code: "VALIDATION_ERROR", wantField: "email"},
		{name: "zero-width space", email: "age\u200bnt@example.com", status: 400, code: "VALIDATION_ERROR", wantField: "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("POST", "/api/auth/register", "", map[string]string{"email": tc.email, "password": "lumen-orbit-7", "name": "B"})
			requireError(t, r, tc.status, tc.code)
			if tc.wantField != "" {
				errs, _ := r.Env["errors"].([]any)
				require.NotEmpty(t, errs, r.String())
				assert.Equal(t, tc.wantField, errs[0].(map[string]any)["field"])
			}
			if tc.wantMessage != "" {
				assert.Contains(t, r.Env["message"], tc.wantMessage)
			}
		})
	}
	users, err := h.store.ListUsers(context.Background(), "")
	require.NoError(t, err)
	assert.Len(t, users, 1, "no look-alike was stored")

	// A Cyrillic address that looks like nobody's registers.
	r := h.call("POST", "/api/auth/register", "", map[string]string{"email": "\u0418\u0432\u0430\u043d@example.com", "password": "lumen-orbit-7", "name": "I"})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	assert.Equal(t, "\u0438\u0432\u0430\u043d@example.com", sessionOf(t, r).Email)

	// Login finds the user under any compatibility form of its address.
	login := h.call("POST", "/api/auth/login", "", map[string]string{"email": "ＡＧＥＮＴ@ＥＸＡＭＰＬＥ.ＣＯＭ", "password": "lumen-orbit-7"})
	require.Equal(t, http.StatusOK, login.Status, login.String())
	assert.Equal(t, sessionOf(t, first).ID, sessionOf(t, login).ID)
	requireError(t, h.call("POST", "/api/auth/login", "", map[string]string{"email": "\u0430gent@example.com", "password": "lumen-orbit-7"}), 401, "UNAUTHORIZED")
}

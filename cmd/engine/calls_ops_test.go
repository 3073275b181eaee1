package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/sandbox/exotel"
)

// TestCallStatisticsOverHTTP: the statistics route counts real calls (the
// store's own suite checks the arithmetic on hand-counted fixtures across
// days and zones) and refuses bad parameters.
func TestCallStatisticsOverHTTP(t *testing.T) {
	t.Parallel()
	l := startLive(t, callConfig(t))
	admin := l.admin()
	var agents []string
	for _, suffix := range []string{"0001", "0005", "0006"} {
		id, token := l.caller(actors.RoleSupervisor)
		agents = append(agents, id)
		c := l.initiate(token, map[string]any{"customerId": l.customerWithPhone(token, indianMobile(t, suffix))})
		want := map[string]string{"0001": actors.CallCompleted, "0005": actors.CallBusy, "0006": actors.CallNoAnswer}[suffix]
		l.callSettles(token, c["id"].(string), want, 15*time.Second)
	}
	st, body := l.api("GET", "/api/calls/statistics?tz=Asia/Kolkata", admin, nil)
	require.Equal(t, 200, st, body)
	data := body["data"].(map[string]any)
	totals := data["totals"].(map[string]any)
	assert.Equal(t, 3.0, totals["total"])
	assert.Equal(t, 1.0, totals["answered"])
	assert.InDelta(t, 1.0/3, totals["answerRate"], 1e-9)
	byStatus := totals["byStatus"].(map[string]any)
	assert.Equal(t, 1.0, byStatus["completed"])
	assert.Equal(t, 1.0, byStatus["busy"])
	assert.Equal(t, 1.0, byStatus["no-answer"])
	assert.Equal(t, 0.0, byStatus["failed"])
	assert.Len(t, data["byAgent"], 3)
	assert.Len(t, data["byDay"], 1, "today, in Kolkata")
	assert.Equal(t, "Asia/Kolkata", data["tz"])

	st, body = l.api("GET", "/api/calls/statistics?groupBy=agent&agentId="+agents[1], admin, nil)
	require.Equal(t, 200, st, body)
	data = body["data"].(map[string]any)
	assert.Equal(t, 1.0, data["totals"].(map[string]any)["total"])
	assert.Nil(t, data["byDay"])
	assert.Len(t, data["byAgent"], 1)

	for _, q := range []string{"tz=Mars/Olympus", "groupBy=week", "from=yesterday", "from=2026-12-05&to=2026-12-01", "from=2020-01-01&to=2026-01-01", "x=1"} {
		st, body = l.api("GET", "/api/calls/statistics?"+q, admin, nil)
		assert.Equal(t, 400, st, "%s: %v", q, body)
		assert.Equal(t, "VALIDATION_ERROR", body["code"], q)
	}
	_, agent := l.user(actors.RoleAgent)
	st, _ = l.api("GET", "/api/calls/statistics", agent, nil)
	assert.Equal(t, 403, st, "agents have no stats:read")
}

// TestDeadLetteredCallRedriven: a call whose connect exhausts its attempts
// is closed failed and listed with the dead letters; a re-drive re-opens it
// and it is placed once.
func TestDeadLetteredCallRedriven(t *testing.T) {
	t.Parallel()
	cfg := callConfig(t)
	cfg.SendMaxAttempts = 2
	l := startLive(t, cfg)
	admin := l.admin()
	_, sup := l.caller(actors.RoleSupervisor)
	phone := indianMobile(t, "0001")
	sb := l.exotel()
	sb.ArmFault(exotel.FaultUnavailable, 2)
	c := l.initiate(sup, map[string]any{"customerId": l.customerWithPhone(sup, phone)})
	id := c["id"].(string)
	failed := l.callSettles(sup, id, actors.CallFailed, 15*time.Second)
	assert.Contains(t, failed["reason"], "dead-lettered")
	assert.Empty(t, sb.CallsTo(phone))

	var listed bool
	require.Eventually(t, func() bool {
		st, body := l.api("GET", "/api/whatsapp/dead-letters", admin, nil)
		if st != 200 {
			return false
		}
		for _, it := range body["data"].(map[string]any)["items"].([]any) {
			job := it.(map[string]any)["job"].(map[string]any)
			if job["callId"] == id && job["kind"] == actors.JobCallConnect {
				listed = true
			}
		}
		return listed
	}, 5*time.Second, 50*time.Millisecond, "the call's job is a dead letter")

	st, body := l.api("POST", "/api/whatsapp/dead-letters/redrive", admin, map[string]any{"messageIds": []string{id}})
	require.Equal(t, 200, st, body)
	assert.Equal(t, 1.0, body["data"].(map[string]any)["redriven"])
	l.callSettles(sup, id, actors.CallCompleted, 15*time.Second)
	assert.Len(t, sb.CallsTo(phone), 1, "placed once after the re-drive")
}

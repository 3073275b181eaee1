package gateway_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media/samples"
)

func TestMediaVisibility(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	a, b := h.register(), h.register()
	sup := h.userWithRole(actors.RoleSupervisor)
	adm := h.userWithRole(actors.RoleAdmin)
	r := h.upload(a.Access, upFile{"a.png", "", samples.PNG()})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	id := mediaOf(t, r)["id"].(string)

	// Another agent sees nothing of it, exactly as of a medium that does
	// not exist; supervisors and admins see it.
	for _, path := range []string{"/api/media/" + id, "/api/media/" + id + "/content"} {
		requireError(t, h.call("GET", path, b.Access, nil), 404, "NOT_FOUND")
		assert.Equal(t, http.StatusOK, h.call("GET", path, sup.Access, nil).Status)
		assert.Equal(t, http.StatusOK, h.call("GET", path, adm.Access, nil).Status)
	}
	requireError(t, h.call("DELETE", "/api/media/"+id, b.Access, nil), 404, "NOT_FOUND")
	requireError(t, h.call("GET", "/api/media/no-such-id", adm.Access, nil), 404, "NOT_FOUND")

	// Linked to a conversation assigned to b, b sees it too, with the link.
	convID, msgID := h.linkMedia(id, b.ID)
	got := h.call("GET", "/api/media/"+id, b.Access, nil)
	require.Equal(t, http.StatusOK, got.Status, got.String())
	assert.Equal(t, convID, mediaOf(t, got)["conversationId"])
	assert.Equal(t, msgID, mediaOf(t, got)["messageId"])
	assert.Equal(t, http.StatusOK, h.call("GET", "/api/media/"+id+"/content", b.Access, nil).Status)
}

// linkMedia links medium id to a new message of a new conversation
// assigned to assignee, through the store (as a send or an inbound message
// does), and returns the conversation and message ids.
func (h *harness) linkMedia(id, assignee string) (string, string) {
	h.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := actors.Conversation{ID: actors.NewID(), PhoneNumberID: "100000000000001", WaID: fmt.Sprintf("9198%08d", userSeq.Add(1)),
		State: actors.StateActive, AssigneeID: assignee, Version: 1, CreatedAt: now, UpdatedAt: now}
	require.NoError(h.t, h.store.CreateConversation(ctx, c))
	m, err := h.store.Media(ctx, id)
	require.NoError(h.t, err)
	msg := actors.Message{ID: actors.NewID(), ConversationID: c.ID, Direction: "outbound", Type: "image", Status: "sent",
		Media: ptr(m.Summary()), CreatedAt: now, UpdatedAt: now}
	require.NoError(h.t, h.store.AppendMessage(ctx, msg))
	m.ConversationID, m.MessageID, m.UpdatedAt = c.ID, msg.ID, now
	require.NoError(h.t, h.store.SaveMedia(ctx, m))
	return c.ID, msg.ID
}

func ptr[T any](v T) *T { return &v }

func TestMediaDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	a, b := h.register(), h.register()
	sup := h.userWithRole(actors.RoleSupervisor)
	png := samples.PNGOfSize(2000)

	// Two uploads of the same bytes share them: deleting one keeps them.
	first := mediaOf(t, h.upload(a.Access, upFile{"a.png", "", png}))["id"].(string)
	second := mediaOf(t, h.upload(a.Access, upFile{"b.png", "", png}))["id"].(string)
	require.Equal(t, http.StatusNoContent, h.call("DELETE", "/api/media/"+first, a.Access, nil).Status)
	requireError(t, h.call("GET", "/api/media/"+first, a.Access, nil), 404, "NOT_FOUND")
	c := h.call("GET", "/api/media/"+second+"/content", a.Access, nil)
	require.Equal(t, http.StatusOK, c.Status)
	assert.Equal(t, png, c.Raw)
	require.Equal(t, http.StatusNoContent, h.call("DELETE", "/api/media/"+second, a.Access, nil).Status)
	h.requireNothingKept(png)
	requireError(t, h.call("DELETE", "/api/media/"+second, a.Access, nil), 404, "NOT_FOUND")

	// A medium a message carries stays readable in its conversation's
	// history: the uploader's delete detaches it from the uploader.
	pdf := samples.PDF()
	sent := mediaOf(t, h.upload(a.Access, upFile{"invoice.pdf", "", pdf}))["id"].(string)
	_, msgID := h.linkMedia(sent, b.ID)
	require.Equal(t, http.StatusNoContent, h.call("DELETE", "/api/media/"+sent, a.Access, nil).Status)
	kept, err := h.store.Media(ctx, sent)
	require.NoError(t, err)
	assert.Empty(t, kept.UploaderID, "detached from its uploader")
	assert.Equal(t, msgID, kept.MessageID)
	requireError(t, h.call("GET", "/api/media/"+sent, a.Access, nil), 404, "NOT_FOUND")
	for _, s := range []session{b, sup} {
		c := h.call("GET", "/api/media/"+sent+"/content", s.Access, nil)
		require.Equal(t, http.StatusOK, c.Status, "readable by %s", s.Role)
		assert.Equal(t, pdf, c.Raw)
	}
	msg, err := h.store.Message(ctx, msgID)
	require.NoError(t, err)
	require.NotNil(t, msg.Media)
	assert.Equal(t, sent, msg.Media.ID)
	// Even a supervisor's delete keeps it while the message is there.
	require.Equal(t, http.StatusNoContent, h.call("DELETE", "/api/media/"+sent, sup.Access, nil).Status)
	assert.Equal(t, http.StatusOK, h.call("GET", "/api/media/"+sent+"/content", b.Access, nil).Status)

	// Every delete is audited, with what happened.
	var details []string
	for _, rec := range h.auditRecords(actors.AuditFilter{Action: "media.delete"}) {
		assert.Equal(t, actors.OutcomeSuccess, rec.Outcome)
		details = append(details, rec.Resource+" "+rec.Detail)
	}
	assert.ElementsMatch(t, []string{
		"media:" + first + " removed", "media:" + second + " removed",
		"media:" + sent + " kept for message " + msgID + "; detached from its uploader",
		"media:" + sent + " kept for message " + msgID + "; detached from its uploader",
	}, details)
}

func TestMediaContentOfPendingInbound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	adm := h.userWithRole(actors.RoleAdmin)
	now := time.Now().UTC().Truncate(time.Millisecond)
	m := actors.Media{ID: actors.NewID(), Filename: "voice.ogg", MimeType: "audio/ogg", Status: actors.MediaPending, WaMediaID: "wa-123",
		CreatedAt: now, UpdatedAt: now}
	require.NoError(t, h.store.CreateMedia(context.Background(), m))
	got := h.call("GET", "/api/media/"+m.ID, adm.Access, nil)
	require.Equal(t, http.StatusOK, got.Status)
	assert.Equal(t, "wa-123", mediaOf(t, got)["waMediaId"])
	assert.Equal(t, "", mediaOf(t, got)["sha256"])
	r := h.call("GET", "/api/media/"+m.ID+"/content", adm.Access, nil)
	requireError(t, r, 409, "CONFLICT")
	assert.Contains(t, r.Env["message"], "pending")
}

// TestMediaUploadCutOffLeavesNothing: a client that goes away in the middle
// of a file leaves no record, no bytes and no spool file.
func TestMediaUploadCutOffLeavesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	img := samples.PNGOfSize(4 << 20)
	body, ct := multipartBody(t, "file", upFile{"big.png", "image/png", img})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "POST /api/media/upload HTTP/1.1\r\nHost: engine\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		agent.Access, ct, len(body))
	require.NoError(t, err)
	_, err = conn.Write(body[:len(body)/2])
	require.NoError(t, err)
	// The server is spooling the file when the client goes away.
	require.Eventually(t, func() bool {
		left, err := os.ReadDir(h.spool)
		return err == nil && len(left) == 1
	}, 5*time.Second, 5*time.Millisecond, "the upload is being spooled")
	require.NoError(t, conn.Close())

	require.Eventually(t, func() bool {
		for _, rec := range h.auditRecords(actors.AuditFilter{ActorID: agent.ID, Action: "media.upload"}) {
			if rec.Outcome == actors.OutcomeFailure && strings.Contains(rec.Detail, "cut off") {
				return true
			}
		}
		return false
	}, 5*time.Second, 20*time.Millisecond, "the broken upload is audited")
	h.requireNothingKept(img)
}

func TestMediaActionsAudited(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	agent := h.register()
	r := h.bulkUpload(agent.Access, upFile{"a.png", "", samples.PNG()}, upFile{"x.png", "", samples.HTML()})
	require.Equal(t, http.StatusCreated, r.Status, r.String())
	id := r.data()["items"].([]any)[0].(map[string]any)["media"].(map[string]any)["id"].(string)
	require.Equal(t, http.StatusOK, h.call("GET", "/api/media/"+id+"/content", agent.Access, nil).Status)
	require.Equal(t, http.StatusNoContent, h.call("DELETE", "/api/media/"+id, agent.Access, nil).Status)

	got := map[string]string{}
	for _, rec := range h.auditRecords(actors.AuditFilter{ActorID: agent.ID}) {
		if strings.HasPrefix(rec.Action, "media.") {
			got[rec.Action+" "+rec.Outcome] = rec.Resource + " " + rec.Detail
		}
	}
	assert.Equal(t, "media:"+id+" image/png "+fmt.Sprint(len(samples.PNG()))+" bytes sha256="+sha(samples.PNG()), got["media.upload success"])
	assert.Contains(t, got["media.upload failure"], `UNSUPPORTED_MEDIA_TYPE "x.png": detected text/html`)
	assert.Equal(t, "media:"+id+" image/png", got["media.download success"])
	assert.Equal(t, "media:"+id+" removed", got["media.delete success"])
	// The audit log says so through the API too.
	adm := h.userWithRole(actors.RoleAdmin)
	list := h.call("GET", "/api/audit?action=media.upload&actor="+agent.ID, adm.Access, nil)
	require.Equal(t, http.StatusOK, list.Status)
	assert.EqualValues(t, 2, list.data()["total"])
}

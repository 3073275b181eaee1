package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/webhook"
)

// inboundTypes are the message types (and interactive reply kinds, and
// features) the real fixtures must cover between them.
var inboundTypes = []string{"text", "image", "audio", "voice", "video", "document", "sticker", "location", "contacts",
	"button_reply", "list_reply", "nfm_reply", "button", "reaction", "reaction removed", "order", "system", "unsupported",
	"context", "referral"}

// TestEveryInboundTypeReachesAgents posts every real webhook body (and a
// synthetic flow reply, nfm_reply, of Meta's documented shape), signed,
// each from its own customer to a business number with one online agent,
// and checks end to end: each message is stored with its type, its
// content kept whole and a readable text; GET .../messages shows it; and
// the agent's socket gets the new conversation's conversation.assigned
// frame carrying that first message.
func TestEveryInboundTypeReachesAgents(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AgentMaxOpen = 1000
	l := startLive(t, cfg)
	agentID, agent := l.user(actors.RoleAgent)
	ws := l.socket(agent)
	require.Eventually(t, func() bool { return ws.has("hello", agentID) }, 5*time.Second, 10*time.Millisecond)

	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	files = append(files, "../../gateway/webhook/testdata/synthetic/interactive-nfm-reply.json")
	timestamp := regexp.MustCompile(`"timestamp": "\d+"`)
	covered := map[string]bool{}
	const number = "100000000000555"
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		batch, err := webhook.Parse(raw)
		require.NoError(t, err)
		if len(batch.Messages) != 1 || batch.Messages[0].WaID == "" {
			continue // statuses, and bodies with no phone number to route by
		}
		m := batch.Messages[0]
		n++
		wa := "91982" + strconv.Itoa(1000000+n)
		wamid := m.WaMessageID + "." + strings.TrimSuffix(filepath.Base(f), ".json")
		body := string(raw)
		body = strings.ReplaceAll(body, `"`+m.WaMessageID+`"`, `"`+wamid+`"`)
		body = strings.ReplaceAll(body, `"`+m.WaID+`"`, `"`+wa+`"`)
		body = strings.ReplaceAll(body, `"`+m.PhoneNumberID+`"`, `"`+number+`"`)
		body = timestamp.ReplaceAllString(body, `"timestamp": "`+strconv.FormatInt(time.Now().Unix(), 10)+`"`)
		require.Equal(t, 200, l.webhook([]byte(body), ""), f)
		sent, err := webhook.Parse([]byte(body))
		require.NoError(t, err)
		m = sent.Messages[0] // as posted: the customer's ids replaced
		name := filepath.Base(f)

		{
			c := l.conversationOf(number, wa)
			require.Eventually(t, func() bool { return ws.has("conversation.assigned", jsonText(wamid)) }, 5*time.Second, 10*time.Millisecond,
				"%s: the new conversation's frame carries its first message", name)
			require.Eventually(t, func() bool { return ws.has("conversation.assigned", jsonText(m.Text)) }, time.Second, 10*time.Millisecond, name)
			stored, err := l.e.store.MessageByWaID(context.Background(), wamid)
			require.NoError(t, err)
			assert.Equal(t, m.Type, stored.Type, "%s: the type is kept", name)
			assert.NotEmpty(t, stored.Text, "%s: a readable text for agents", name)
			assert.Equal(t, m.Text, stored.Text, name)
			assert.NotEmpty(t, stored.Raw, "%s: the message is kept whole", name)
			if m.Content != nil {
				assert.JSONEq(t, string(m.Content), string(stored.Content), "%s: the content is kept", name)
			}
			v := l.messageView(agent, c.ID, stored.ID)
			assert.Equal(t, m.Type, v["type"], name)
			assert.Equal(t, m.Text, v["text"], name)
		}

		covered[m.Type] = true
		var probe struct {
			Type  string  `json:"type"`
			Voice bool    `json:"voice"`
			Emoji *string `json:"emoji"`
		}
		_ = jsonUnmarshal(m.Content, &probe)
		switch {
		case m.Type == "interactive":
			covered[probe.Type] = true
		case m.Type == "audio" && probe.Voice:
			covered["voice"] = true
		case m.Type == "reaction" && probe.Emoji != nil && *probe.Emoji == "":
			covered["reaction removed"] = true
		}
		if m.Context != nil && m.Context.ID != "" {
			covered["context"] = true
		}
		if m.Referral != nil {
			covered["referral"] = true
		}
	}
	for _, typ := range inboundTypes {
		assert.True(t, covered[typ], "a fixture covers %s", typ)
	}
}

// jsonText is s as it appears inside a JSON string (escaped).
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}

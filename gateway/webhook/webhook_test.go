package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

const (
	fixtureDir      = "testdata/fixtures"
	sharedFixtures  = "../../../shared/fixtures/whatsapp-webhooks"
	syntheticBatch  = "testdata/synthetic/batch.json"
	fixturePhoneID  = "1122334455667"
	fixtureDisplay  = "972123456789"
	fixtureCustomer = "972987654321"
)

// who is the customer identity a message is expected to resolve to.
type who struct {
	waID, profileName, userID, parentUserID string
}

// testName is the contacts[] entry most pywa fixtures carry.
var testName = who{
	waID:         fixtureCustomer,
	profileName:  "Test Name",
	userID:       "US.13491208655302741918",
	parentUserID: "US.ENT.11815799212886844830",
}

type wantMessage struct {
	typ, id       string
	from          who
	phoneNumberID string
	displayPhone  string
	unix          int64 // Timestamp in unix seconds; 0 means the zero time
	text          string
	context       *actors.MessageContext
	errors        []actors.WhatsAppError
	// noContent: the message has no object under its type's key, so
	// Content must be nil.
	noContent bool
}

type wantStatus struct {
	id, status, recipientID, bizOpaque string
	unix                               int64
	errors                             []actors.WhatsAppError
	pricing                            *actors.Pricing
}

// fixtureCase is what one real webhook body must parse to. Each fixture
// carries exactly one message or one status.
type fixtureCase struct {
	file        string
	message     *wantMessage
	status      *wantStatus
	valueErrors []actors.WebhookError
}

func fixtureCases() []fixtureCase {
	std := func(typ, id string, unix int64, text string) *wantMessage {
		return &wantMessage{typ: typ, id: id, from: testName, phoneNumberID: fixturePhoneID,
			displayPhone: fixtureDisplay, unix: unix, text: text}
	}
	forwarded := &actors.MessageContext{Forwarded: true}
	with := func(m *wantMessage, edit func(*wantMessage)) *wantMessage { edit(m); return m }
	sentStatus := func(status string, unix int64) *wantStatus {
		return &wantStatus{id: "wamid.xyzxyz", status: status, recipientID: fixtureCustomer, unix: unix, pricing: cbpService}
	}

	return []fixtureCase{
		{file: "text-message.json", message: std("text", "wamid.xyzxyz", 1697043223, "Body Text")},
		{file: "image-message.json", message: std("image", "wamid.xyzxyz", 1697043379, "[image]")},
		{file: "video-message-forwarded.json", message: with(std("video", "wamid.xyzxyz", 1697044362, "caption"),
			func(m *wantMessage) { m.context = forwarded })},
		{file: "document-message.json", message: with(std("document", "wamid.xyzxyz", 1697043666, "caption"),
			func(m *wantMessage) { m.context = forwarded })},
		{file: "audio-message.json", message: with(std("audio", "wamid.xyzxyz", 1697043509, "[audio]"),
			func(m *wantMessage) { m.context = forwarded })},
		{file: "voice-message.json", message: std("audio", "wamid.xyzxyz", 1697043473, "[voice message]")},
		{file: "sticker-static.json", message: std("sticker", "wamid.xyzxyz", 1697043760, "[sticker]")},
		{file: "sticker-animated.json", message: std("sticker", "wamid.xyzxyz", 1697043785, "[sticker]")},
		{file: "reaction.json", message: std("reaction", "wamid.xyzxyz", 1697044456, "\U0001F62E")},
		{file: "reaction-removed-empty-emoji.json", message: std("reaction", "wamid.xyzxyz", 1697044456, "[reaction removed]")},
		{file: "location-current.json", message: with(std("location", "wamid.xyzxyz", 1697044557, "12.25089,43.90539"),
			func(m *wantMessage) { m.context = forwarded })},
		{file: "location-named.json", message: with(std("location", "wamid.xyzxyz", 1697044557,
			"Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025"),
			func(m *wantMessage) { m.context = forwarded })},
		{file: "contacts.json", message: std("contacts", "wamid.xyzxyz", 1697044621, "Chandler Bing")},
		{file: "order.json", message: std("order", "wamid.xyzxyz", 1697044668, "order (3 items)")},
		{file: "unsupported.json", message: with(std("unsupported", "wamid.xyzxyz", 1697044706, "[unsupported message]"),
			func(m *wantMessage) {
				m.noContent = true
				m.errors = []actors.WhatsAppError{{Code: 131051, Title: "Message type unknown",
					Message: "Message type unknown", Details: "Message type is currently not supported."}}
			})},
		{file: "reply-context-text.json", message: with(std("text", "wamid.xyzxyz", 1697044746, "replied text"),
			func(m *wantMessage) { m.context = &actors.MessageContext{From: "972123456789", ID: "wamid.xyzxyz=="} })},
		{file: "forwarded-many-times.json", message: with(std("text", "wamid.xyzxyz", 1697044968, "text forwarded many times"),
			func(m *wantMessage) { m.context = &actors.MessageContext{FrequentlyForwarded: true} })},
		{
			file: "interactive-with-value-errors.json",
			message: with(std("interactive", "wamid.wegrchytvwcggt=", 1700505494, "[interactive reply]"), func(m *wantMessage) {
				m.noContent = true
				m.context = &actors.MessageContext{From: "972123456789", ID: "wamid.gvwegfretge=="}
			}),
			valueErrors: []actors.WebhookError{{PhoneNumberID: fixturePhoneID, WhatsAppError: actors.WhatsAppError{
				Code: 131000, Title: "Something went wrong", Message: "Something went wrong",
				Details: "Unsupported webhook payload"}}},
		},
		{file: "referral-ctwa-ad.json", message: std("text", "wamid.ID", 1697045000, "BODY")},
		{file: "interactive-button-reply.json", message: with(std("interactive", "wamid.xyzxyz", 1698266730, "title"),
			func(m *wantMessage) { m.context = &actors.MessageContext{From: "1122334455667", ID: "wamid.xyzxyz"} })},
		{file: "interactive-list-reply.json", message: with(std("interactive", "wamid.zyzxyz", 1698266905, "title"),
			func(m *wantMessage) { m.context = &actors.MessageContext{From: "1122334455667", ID: "wamid.xyzxyz"} })},
		{file: "template-quick-reply-button.json", message: with(std("button", "wamid.xsidjw", 1698269027, "title"),
			func(m *wantMessage) { m.context = &actors.MessageContext{From: "972123456789", ID: "wamid.xyzxyz=="} })},
		{file: "system-phone-number-change.json", message: with(std("system", "wamid.xyzxyz==", 1753851315,
			"User A changed from 972987654321 to 972912345678"),
			// System webhooks carry no contacts[]: the sender is from alone.
			func(m *wantMessage) { m.from = who{waID: fixtureCustomer} })},
		{file: "system-identity-change.json", message: with(std("system", "wamid.xyzxyz", 1697044706, "User identity changed"),
			func(m *wantMessage) { m.from = who{waID: fixtureCustomer, profileName: "User A"} })},
		{file: "message-revoked.json", message: with(std("revoke", "<WHATSAPP_MESSAGE_ID>", 1697043223, "[message deleted]"),
			func(m *wantMessage) {
				// from is a placeholder, not digits: WaID comes from the only contact.
				m.phoneNumberID = "<BUSINESS_PHONE_NUMBER_ID>"
				m.displayPhone = "<BUSINESS_DISPLAY_PHONE_NUMBER>"
			})},
		{file: "message-edited-image.json", message: with(std("edit",
			"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", 1749854575, "Updated image caption"),
			func(m *wantMessage) {
				// Meta's sample sends from 16505551234 beside a contact for
				// 972987654321: the lone contact is someone else, so it is
				// not attached.
				m.from = who{waID: "16505551234"}
				m.phoneNumberID = "106540352242922"
				m.displayPhone = "15550783881"
			})},
		{file: "status-sent.json", status: sentStatus(actors.StatusSent, 1698266945)},
		{file: "status-delivered.json", status: sentStatus(actors.StatusDelivered, 1698266945)},
		{file: "status-read.json", status: sentStatus(actors.StatusRead, 1689380458)},
		{file: "status-sent-biz-opaque-callback-data.json", status: with2(sentStatus(actors.StatusSent, 1698266945),
			func(s *wantStatus) { s.bizOpaque = "some data" })},
		{file: "status-failed.json", status: with2(sentStatus(actors.StatusFailed, 1689380458), func(s *wantStatus) {
			s.pricing = nil
			s.errors = []actors.WhatsAppError{{
				Code:    130472,
				Title:   "User's number is part of an experiment",
				Message: "User's number is part of an experiment",
				Details: "Failed to send message because this user's phone number is part of an experiment",
				Href:    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
			}}
		})},
	}
}

// cbpService is the pricing object of the real status fixtures: an old
// conversation-based (CBP) body, which still parses.
var cbpService = &actors.Pricing{Billable: true, Model: actors.PricingConversation, Category: "service"}

func with2(s *wantStatus, edit func(*wantStatus)) *wantStatus { edit(s); return s }

func unixUTC(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// oracleChange is an independent, generic view of one change: what the
// parsed values must match byte for byte.
type oracleChange struct {
	Field string
	Value struct {
		Messages []map[string]json.RawMessage
		RawMsgs  []json.RawMessage
		Statuses []json.RawMessage
	}
	Raw json.RawMessage
}

func oracle(t testing.TB, body []byte) []oracleChange {
	t.Helper()
	var doc struct {
		Entry []struct {
			Changes []json.RawMessage `json:"changes"`
		} `json:"entry"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	var out []oracleChange
	for _, e := range doc.Entry {
		for _, raw := range e.Changes {
			var ch struct {
				Field string `json:"field"`
				Value struct {
					Messages []json.RawMessage `json:"messages"`
					Statuses []json.RawMessage `json:"statuses"`
				} `json:"value"`
			}
			require.NoError(t, json.Unmarshal(raw, &ch))
			oc := oracleChange{Field: ch.Field, Raw: raw}
			oc.Value.RawMsgs = ch.Value.Messages
			oc.Value.Statuses = ch.Value.Statuses
			for _, m := range ch.Value.Messages {
				var fields map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(m, &fields))
				oc.Value.Messages = append(oc.Value.Messages, fields)
			}
			out = append(out, oc)
		}
	}
	return out
}

// typeOf reads messages[].type from a generic decode.
func typeOf(t testing.TB, fields map[string]json.RawMessage) string {
	t.Helper()
	var typ string
	if raw, ok := fields["type"]; ok {
		require.NoError(t, json.Unmarshal(raw, &typ))
	}
	return typ
}

// requireRawMatchesOracle checks Raw, Content and Referral of every parsed
// message, and Raw of every status, against the generic decode of body.
func requireRawMatchesOracle(t *testing.T, body []byte, batch actors.WebhookBatch) {
	t.Helper()
	var msgs []map[string]json.RawMessage
	var rawMsgs, statuses []json.RawMessage
	for _, ch := range oracle(t, body) {
		if ch.Field != "messages" {
			continue
		}
		msgs = append(msgs, ch.Value.Messages...)
		rawMsgs = append(rawMsgs, ch.Value.RawMsgs...)
		statuses = append(statuses, ch.Value.Statuses...)
	}
	require.Len(t, batch.Messages, len(msgs))
	for i, m := range batch.Messages {
		assert.Equal(t, string(rawMsgs[i]), string(m.Raw), "message %d Raw", i)
		typ := typeOf(t, msgs[i])
		assert.Equal(t, typ, m.Type, "message %d Type", i)
		if want, ok := msgs[i][typ]; ok && string(want) != "null" {
			assert.Equal(t, string(want), string(m.Content), "message %d Content is msg[%q]", i, typ)
		} else {
			assert.Nil(t, m.Content, "message %d has no %q object", i, typ)
		}
		if want, ok := msgs[i]["referral"]; ok {
			assert.Equal(t, string(want), string(m.Referral), "message %d Referral", i)
		} else {
			assert.Nil(t, m.Referral, "message %d Referral", i)
		}
	}
	require.Len(t, batch.Statuses, len(statuses))
	for i, s := range batch.Statuses {
		assert.Equal(t, string(statuses[i]), string(s.Raw), "status %d Raw", i)
	}
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range fixtureCases() {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			body := readFile(t, filepath.Join(fixtureDir, tc.file))
			batch, err := Parse(body)
			require.NoError(t, err)

			requireRawMatchesOracle(t, body, batch)
			assert.Empty(t, batch.Other, "every fixture change is a messages change")
			assert.Equal(t, tc.valueErrors, batch.Errors)

			if w := tc.message; w != nil {
				require.Len(t, batch.Messages, 1)
				got := batch.Messages[0]
				if w.noContent {
					assert.Nil(t, got.Content)
				} else {
					assert.NotEmpty(t, got.Content)
				}
				got.Raw, got.Content, got.Referral = nil, nil, nil // checked against the oracle above
				want := actors.InboundMessage{
					PhoneNumberID: w.phoneNumberID,
					DisplayPhone:  w.displayPhone,
					WaID:          w.from.waID,
					ProfileName:   w.from.profileName,
					UserID:        w.from.userID,
					ParentUserID:  w.from.parentUserID,
					WaMessageID:   w.id,
					Type:          w.typ,
					Timestamp:     unixUTC(w.unix),
					Text:          w.text,
					Context:       w.context,
					Errors:        w.errors,
				}
				assert.Equal(t, want, got)
			} else {
				assert.Empty(t, batch.Messages)
			}

			if w := tc.status; w != nil {
				require.Len(t, batch.Statuses, 1)
				got := batch.Statuses[0]
				got.Raw = nil // checked against the oracle above
				want := actors.StatusUpdate{
					PhoneNumberID:         fixturePhoneID,
					WaMessageID:           w.id,
					RecipientID:           w.recipientID,
					Status:                w.status,
					Timestamp:             unixUTC(w.unix),
					Errors:                w.errors,
					BizOpaqueCallbackData: w.bizOpaque,
					Pricing:               w.pricing,
				}
				assert.Equal(t, want, got)
			} else {
				assert.Empty(t, batch.Statuses)
			}
		})
	}
}

// TestFixtureTableCoversEveryFile fails when a fixture is added without
// expectations, or an expectation names a missing file.
func TestFixtureTableCoversEveryFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var onDisk, inTable []string
	for _, f := range files {
		onDisk = append(onDisk, filepath.Base(f))
	}
	for _, tc := range fixtureCases() {
		inTable = append(inTable, tc.file)
	}
	slices.Sort(onDisk)
	slices.Sort(inTable)
	assert.Equal(t, onDisk, inTable)
}

// TestFixturesMatchShared checks the copies in testdata against the shared
// originals when the shared folder sits beside the repository.
func TestFixturesMatchShared(t *testing.T) {
	shared, err := filepath.Glob(filepath.Join(sharedFixtures, "*.json"))
	require.NoError(t, err)
	if len(shared) == 0 {
		t.Skipf("no shared fixtures at %s; testdata copies are used as they are", sharedFixtures)
	}
	for _, src := range shared {
		name := filepath.Base(src)
		assert.Equal(t, string(readFile(t, src)), string(readFile(t, filepath.Join(fixtureDir, name))),
			"testdata/fixtures/%s differs from the shared fixture; copy it again", name)
	}
	local, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	assert.Len(t, local, len(shared), "testdata/fixtures and the shared fixtures hold different files")
}

func TestParseSyntheticBatch(t *testing.T) {
	body := readFile(t, syntheticBatch)
	batch, err := Parse(body)
	require.NoError(t, err)
	requireRawMatchesOracle(t, body, batch)

	const (
		pn1, pn2, pn3, pn4 = "100000000000001", "100000000000002", "100000000000003", "100000000000004"
	)
	type msg struct {
		id, typ, pn, display string
		from                 who
		unix                 int64
		text                 string
		context              *actors.MessageContext
	}
	wantMsgs := []msg{
		{"wamid.m1", "text", pn1, "15550001001", who{"15551230001", "Alice", "US.100001", ""}, 1700000001, "hello 1", nil},
		{"wamid.m2", "image", pn1, "15550001001", who{"15551230002", "Bob", "US.100002", ""}, 1700000002, "photo 2", nil},
		{"wamid.m3", "interactive", pn2, "15550001002", who{"15551230003", "Carol", "", ""}, 1700000003, "Yes 3",
			&actors.MessageContext{From: "15550001002", ID: "wamid.out3"}},
		{"wamid.m4", "reaction", pn2, "15550001002", who{"15551230003", "Carol", "", ""}, 1700000004, "\U0001F44D", nil},
		{"wamid.m5", "text", pn3, "15550001003", who{"15551230004", "Dave", "US.100004", ""}, 1700000005, "hello 5", nil},
		// Business-scoped user id only: no phone number, so no WaID.
		{"wamid.m6", "text", pn3, "15550001003", who{"", "Erin", "US.100005", "US.ENT.200005"}, 1700000006, "hello 6", nil},
		{"wamid.m7", "location", pn4, "15550001004", who{"15551230006", "Frank", "", ""}, 1700000007, "-33.8688,151.2093", nil},
		{"wamid.m8", "button", pn4, "15550001004", who{"15551230006", "Frank", "", ""}, 1700000008, "Stop promotions",
			&actors.MessageContext{From: "15550001004", ID: "wamid.tpl8"}},
	}
	require.Len(t, batch.Messages, len(wantMsgs))
	for i, w := range wantMsgs {
		got := batch.Messages[i]
		got.Raw, got.Content, got.Referral = nil, nil, nil // checked against the oracle above
		assert.Equal(t, actors.InboundMessage{
			PhoneNumberID: w.pn, DisplayPhone: w.display,
			WaID: w.from.waID, ProfileName: w.from.profileName, UserID: w.from.userID, ParentUserID: w.from.parentUserID,
			WaMessageID: w.id, Type: w.typ, Timestamp: unixUTC(w.unix), Text: w.text, Context: w.context,
		}, got, "message %d", i)
	}

	failed := []actors.WhatsAppError{{
		Code: 131047, Title: "Re-engagement message", Message: "Re-engagement message",
		Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
		Href:    "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
	}}
	wantStatuses := []actors.StatusUpdate{
		{PhoneNumberID: pn1, WaMessageID: "wamid.s1", RecipientID: "15551230001", Status: "sent", Timestamp: unixUTC(1700000011)},
		{PhoneNumberID: pn1, WaMessageID: "wamid.s2", RecipientID: "15551230002", Status: "delivered", Timestamp: unixUTC(1700000012)},
		{PhoneNumberID: pn2, WaMessageID: "wamid.s3", RecipientID: "15551230003", Status: "read", Timestamp: unixUTC(1700000013)},
		{PhoneNumberID: pn2, WaMessageID: "wamid.s4", RecipientID: "15551230003", Status: "failed", Timestamp: unixUTC(1700000014), Errors: failed},
		{PhoneNumberID: pn3, WaMessageID: "wamid.s5", RecipientID: "15551230004", Status: "sent", Timestamp: unixUTC(1700000015), BizOpaqueCallbackData: "tracker-5"},
		{PhoneNumberID: pn3, WaMessageID: "wamid.s6", RecipientID: "15551230004", Status: "future_status", Timestamp: unixUTC(1700000016)},
		{PhoneNumberID: pn4, WaMessageID: "wamid.s7", RecipientID: "15551230006", Status: "delivered", Timestamp: unixUTC(1700000017)},
		{PhoneNumberID: pn4, WaMessageID: "wamid.s8", RecipientID: "15551230006", Status: "read", Timestamp: unixUTC(1700000018)},
	}
	require.Len(t, batch.Statuses, len(wantStatuses))
	for i := range batch.Statuses {
		batch.Statuses[i].Raw = nil // checked against the oracle above
	}
	assert.Equal(t, wantStatuses, batch.Statuses)

	assert.Equal(t, []actors.WebhookError{
		{PhoneNumberID: pn3, WhatsAppError: actors.WhatsAppError{Code: 131000, Title: "Something went wrong",
			Message: "Something went wrong", Details: "synthetic value error one"}},
		{PhoneNumberID: pn4, WhatsAppError: actors.WhatsAppError{Code: 131026, Title: "Message undeliverable",
			Message: "Message undeliverable", Details: "synthetic value error two",
			Href: "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}},
	}, batch.Errors)

	require.Len(t, batch.Other, 1)
	assert.JSONEq(t, `{"value": {"phone_number": "15550001003", "event": "VERIFIED_ACCOUNT"}, "field": "account_update"}`,
		string(batch.Other[0]))
}

func TestParseUnknownMessageType(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"metadata":{"display_phone_number":"15550001001","phone_number_id":"100"},
		"contacts":[{"profile":{"name":"Zoe"},"wa_id":"15551239999"}],
		"messages":[{"from":"15551239999","id":"wamid.future","timestamp":"1700000100","type":"future_type",
			"future_type":{"shape":["new",1,{"deep":true}],"body":"not rendered"},"brand_new_field":42}]}}]}]}`)
	batch, err := Parse(body)
	require.NoError(t, err)
	requireRawMatchesOracle(t, body, batch)
	require.Len(t, batch.Messages, 1)
	m := batch.Messages[0]
	assert.Equal(t, "future_type", m.Type)
	assert.Equal(t, "wamid.future", m.WaMessageID)
	assert.Equal(t, "15551239999", m.WaID)
	assert.Equal(t, "Zoe", m.ProfileName)
	assert.Equal(t, "100", m.PhoneNumberID)
	assert.Equal(t, unixUTC(1700000100), m.Timestamp)
	assert.JSONEq(t, `{"shape":["new",1,{"deep":true}],"body":"not rendered"}`, string(m.Content))
	assert.Equal(t, "[future_type message]", m.Text, "an unknown type reads as such; its content is kept whole")
	assert.Contains(t, string(m.Raw), `"brand_new_field":42`)
}

func TestParseSender(t *testing.T) {
	tests := []struct {
		name     string
		contacts string // the value's contacts[] JSON
		message  string // the message's identity fields, spliced before id
		want     who
	}{
		{
			name:     "from picks its contact among several",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111","user_id":"US.1"},{"profile":{"name":"B"},"wa_id":"222","user_id":"US.2","parent_user_id":"US.ENT.2"}]`,
			message:  `"from":"222",`,
			want:     who{"222", "B", "US.2", "US.ENT.2"},
		},
		{
			name:     "from absent takes wa_id of the only contact",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111","user_id":"US.1"}]`,
			message:  ``,
			want:     who{"111", "A", "US.1", ""},
		},
		{
			name:     "from not digits takes wa_id of the only contact",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111"}]`,
			message:  `"from":"+111",`,
			want:     who{"111", "A", "", ""},
		},
		{
			name:     "business-scoped id only leaves WaID empty",
			contacts: `[{"profile":{"name":"U"},"user_id":"US.9","parent_user_id":"US.ENT.9"}]`,
			message:  `"from_user_id":"US.9",`,
			want:     who{"", "U", "US.9", "US.ENT.9"},
		},
		{
			name:     "from_user_id picks its contact among several",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111","user_id":"US.1"},{"profile":{"name":"B"},"user_id":"US.2"}]`,
			message:  `"from_user_id":"US.2",`,
			want:     who{"", "B", "US.2", ""},
		},
		{
			name:     "business-scoped id sent in from matches the contact's user_id",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111","user_id":"US.1"},{"profile":{"name":"B"},"wa_id":"222","user_id":"US.2"}]`,
			message:  `"from":"US.2",`,
			want:     who{"222", "B", "US.2", ""},
		},
		{
			name:     "message ids win over the contact's",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111","user_id":"US.old","parent_user_id":"US.ENT.old"}]`,
			message:  `"from":"111","from_user_id":"US.new","from_parent_user_id":"US.ENT.new",`,
			want:     who{"111", "A", "US.new", "US.ENT.new"},
		},
		{
			name:     "the only contact is not attached when its wa_id differs",
			contacts: `[{"profile":{"name":"Other"},"wa_id":"999","user_id":"US.999"}]`,
			message:  `"from":"111",`,
			want:     who{"111", "", "", ""},
		},
		{
			name:     "the only contact is not attached when its user_id differs",
			contacts: `[{"profile":{"name":"Other"},"user_id":"US.999"}]`,
			message:  `"from_user_id":"US.1",`,
			want:     who{"", "", "US.1", ""},
		},
		{
			name:     "several contacts and no match attach none",
			contacts: `[{"profile":{"name":"A"},"wa_id":"111"},{"profile":{"name":"B"},"wa_id":"222"}]`,
			message:  ``,
			want:     who{},
		},
		{
			name:     "no contacts",
			contacts: `[]`,
			message:  `"from":"333",`,
			want:     who{waID: "333"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{` +
				`"metadata":{"phone_number_id":"100"},"contacts":` + tt.contacts +
				`,"messages":[{` + tt.message + `"id":"wamid.1","type":"text","text":{"body":"hi"}}]}}]}]}`
			batch, err := Parse([]byte(body))
			require.NoError(t, err)
			require.Len(t, batch.Messages, 1)
			m := batch.Messages[0]
			assert.Equal(t, tt.want, who{m.WaID, m.ProfileName, m.UserID, m.ParentUserID})
		})
	}
}

func TestParseText(t *testing.T) {
	long := strings.Repeat("é", MaxTextBytes) // 2 bytes each: far over the limit
	tests := []struct {
		name    string
		typ     string
		content string // the object under the type's key; "" for none
		want    string
	}{
		{name: "document without caption shows the filename", typ: "document",
			content: `{"filename":"invoice.pdf","mime_type":"application/pdf","id":"1"}`, want: "invoice.pdf"},
		{name: "image caption", typ: "image", content: `{"caption":"look","id":"1"}`, want: "look"},
		{name: "location name only", typ: "location", content: `{"latitude":1.5,"longitude":2.5,"name":"Shop"}`, want: "Shop"},
		{name: "location address only", typ: "location", content: `{"latitude":1.5,"longitude":2.5,"address":"1 Main St"}`, want: "1 Main St"},
		{name: "location numbers kept as sent", typ: "location", content: `{"latitude":-0.000001,"longitude":1e2}`, want: "-0.000001,1e2"},
		{name: "flow reply body", typ: "interactive",
			content: `{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{}"}}`, want: "Sent"},
		{name: "order of one line", typ: "order", content: `{"catalog_id":"1","product_items":[{"product_retailer_id":"A","quantity":5}]}`, want: "order (1 item)"},
		{name: "order with no lines", typ: "order", content: `{"catalog_id":"1"}`, want: "order (0 items)"},
		{name: "contacts skip an unnamed card", typ: "contacts",
			content: `[{"phones":[{"phone":"1"}]},{"name":{"formatted_name":"Second"}}]`, want: "Second"},
		{name: "edit renders the new text", typ: "edit",
			content: `{"original_message_id":"wamid.o","message":{"type":"text","text":{"body":"fixed typo"}}}`, want: "fixed typo"},
		{name: "edit inside an edit is not rendered", typ: "edit",
			content: `{"message":{"type":"edit","edit":{"message":{"type":"text","text":{"body":"deep"}}}}}`, want: "[message edited]"},
		{name: "revoke reads as deleted", typ: "revoke", content: `{"original_message_id":"wamid.o"}`, want: "[message deleted]"},
		{name: "text of the wrong JSON type is a placeholder", typ: "text", content: `{"body":12}`, want: "[text message]"},
		{name: "text body is cut to MaxTextBytes on a rune boundary", typ: "text",
			content: `{"body":"` + long + `"}`, want: long[:MaxTextBytes]},
		{name: "odd limit cut backs off a split rune", typ: "text",
			content: `{"body":"a` + long + `"}`, want: "a" + long[:MaxTextBytes-2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := ""
			if tt.content != "" {
				content = `,"` + tt.typ + `":` + tt.content
			}
			body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{` +
				`"messages":[{"from":"1","id":"wamid.1","type":"` + tt.typ + `"` + content + `}]}}]}]}`
			batch, err := Parse([]byte(body))
			require.NoError(t, err)
			require.Len(t, batch.Messages, 1)
			got := batch.Messages[0].Text
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), MaxTextBytes)
			assert.True(t, strings.ToValidUTF8(got, "") == got, "Text is valid UTF-8")
		})
	}
}

// TestParseTolerates covers bodies that are odd but still a WhatsApp
// webhook: Parse must accept them and keep what it can.
func TestParseTolerates(t *testing.T) {
	wrap := func(value string) string {
		return `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":` + value + `}]}]}`
	}
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, b actors.WebhookBatch)
	}{
		{
			name: "numeric timestamp",
			body: wrap(`{"messages":[{"from":"1","id":"m","timestamp":1700000000,"type":"text","text":{"body":"x"}}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 1)
				assert.Equal(t, unixUTC(1700000000), b.Messages[0].Timestamp)
			},
		},
		{
			name: "invalid, negative and absent timestamps are zero",
			body: wrap(`{"messages":[{"id":"a","timestamp":"soon","type":"text"},{"id":"b","timestamp":"-5","type":"text"},{"id":"c","type":"text"}],` +
				`"statuses":[{"id":"s","status":"sent","timestamp":"99999999999999"}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 3)
				for _, m := range b.Messages {
					assert.True(t, m.Timestamp.IsZero(), "message %s", m.WaMessageID)
				}
				require.Len(t, b.Statuses, 1)
				assert.True(t, b.Statuses[0].Timestamp.IsZero())
			},
		},
		{
			name: "fields of the wrong JSON type stay zero and the rest is kept",
			body: wrap(`{"metadata":{"phone_number_id":100},"contacts":"nope","messages":[{"from":15551230001,"id":"m","type":"text","text":{"body":"kept"},"context":"x","errors":{"code":1}}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 1)
				m := b.Messages[0]
				assert.Equal(t, "m", m.WaMessageID)
				assert.Equal(t, "kept", m.Text)
				assert.Empty(t, m.WaID)
				assert.Empty(t, m.PhoneNumberID)
				assert.Nil(t, m.Context)
				assert.Nil(t, m.Errors)
			},
		},
		{
			name: "non-object messages and statuses are skipped",
			body: wrap(`{"messages":[1,null,"x",{"id":"m","type":"text"},[]],"statuses":[null,{"id":"s","status":"read"}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 1)
				assert.Equal(t, "m", b.Messages[0].WaMessageID)
				require.Len(t, b.Statuses, 1)
				assert.Equal(t, "s", b.Statuses[0].WaMessageID)
			},
		},
		{
			name: "messages that is not an array yields nothing",
			body: wrap(`{"messages":{"id":"m"},"statuses":"no"}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				assert.Empty(t, b.Messages)
				assert.Empty(t, b.Statuses)
			},
		},
		{
			name: "null content, referral and context are absent",
			body: wrap(`{"messages":[{"id":"m","type":"image","image":null,"referral":null,"context":null}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 1)
				assert.Nil(t, b.Messages[0].Content)
				assert.Nil(t, b.Messages[0].Referral)
				assert.Nil(t, b.Messages[0].Context)
			},
		},
		{
			name: "empty entry list",
			body: `{"object":"whatsapp_business_account","entry":[]}`,
			check: func(t *testing.T, b actors.WebhookBatch) {
				assert.Equal(t, actors.WebhookBatch{}, b)
			},
		},
		{
			name: "entry that is not an array",
			body: `{"object":"whatsapp_business_account","entry":{"id":"1"}}`,
			check: func(t *testing.T, b actors.WebhookBatch) {
				assert.Equal(t, actors.WebhookBatch{}, b)
			},
		},
		{
			name: "change without a field is kept in Other",
			body: `{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"id":"m"}]}},` +
				`{"field":"messages","value":{"messages":[{"id":"kept","type":"text"}]}}]}]}`,
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Messages, 1)
				assert.Equal(t, "kept", b.Messages[0].WaMessageID)
				require.Len(t, b.Other, 1)
				assert.JSONEq(t, `{"value":{"messages":[{"id":"m"}]}}`, string(b.Other[0]))
			},
		},
		{
			name: "Others keep body order across entries",
			body: `{"object":"whatsapp_business_account","entry":[` +
				`{"changes":[{"field":"a","value":{"n":1}},{"field":"messages","value":{}}]},` +
				`{"changes":[{"field":"b","value":{"n":2}},{"field":"c","value":[3]}]}]}`,
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Other, 3)
				assert.JSONEq(t, `{"field":"a","value":{"n":1}}`, string(b.Other[0]))
				assert.JSONEq(t, `{"field":"b","value":{"n":2}}`, string(b.Other[1]))
				assert.JSONEq(t, `{"field":"c","value":[3]}`, string(b.Other[2]))
			},
		},
		{
			name: "unknown status values are kept as sent",
			body: wrap(`{"metadata":{"phone_number_id":"7"},"statuses":[{"id":"s","status":"deleted","recipient_id":"1"}]}`),
			check: func(t *testing.T, b actors.WebhookBatch) {
				require.Len(t, b.Statuses, 1)
				assert.Equal(t, "deleted", b.Statuses[0].Status)
				assert.Equal(t, "7", b.Statuses[0].PhoneNumberID)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse([]byte(tt.body))
			require.NoError(t, err)
			tt.check(t, b)
		})
	}
}

func TestParseRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty body", ``},
		{"whitespace", "  \n"},
		{"not JSON", `object=whatsapp_business_account`},
		{"truncated", `{"object":"whatsapp_business_account","entry":[`},
		{"trailing data", `{"object":"whatsapp_business_account"} {}`},
		{"array", `[{"object":"whatsapp_business_account"}]`},
		{"string", `"whatsapp_business_account"`},
		{"null", `null`},
		{"missing object", `{"entry":[]}`},
		{"other object", `{"object":"page","entry":[]}`},
		{"object of the wrong case", `{"object":"WhatsApp_Business_Account"}`},
		{"object not a string", `{"object":7,"entry":[]}`},
		{"invalid escape inside", `{"object":"whatsapp_business_account","entry":["\x"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse([]byte(tt.body))
			require.ErrorIs(t, err, ErrMalformed)
			assert.Equal(t, actors.WebhookBatch{}, b)
		})
	}
}

// TestParseDoesNotAliasBody guards the promise that the caller may reuse
// the body buffer once Parse returns.
func TestParseDoesNotAliasBody(t *testing.T) {
	body := readFile(t, syntheticBatch)
	batch, err := Parse(body)
	require.NoError(t, err)
	var kept []string
	for _, m := range batch.Messages {
		kept = append(kept, string(m.Raw), string(m.Content))
	}
	for _, s := range batch.Statuses {
		kept = append(kept, string(s.Raw))
	}
	for _, o := range batch.Other {
		kept = append(kept, string(o))
	}
	copy(body, bytes.Repeat([]byte{'#'}, len(body)))

	var after []string
	for _, m := range batch.Messages {
		after = append(after, string(m.Raw), string(m.Content))
	}
	for _, s := range batch.Statuses {
		after = append(after, string(s.Raw))
	}
	for _, o := range batch.Other {
		after = append(after, string(o))
	}
	assert.Equal(t, kept, after)
	assert.NotContains(t, strings.Join(after, ""), "#")
}

func TestSignKnownVector(t *testing.T) {
	// RFC 4231 test case 2: HMAC-SHA256, key "Jefe".
	assert.Equal(t, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		Sign([]byte("what do ya want for nothing?"), "Jefe"))
}

func TestVerifySignature(t *testing.T) {
	const secret = "app-secret"
	body := readFile(t, filepath.Join(fixtureDir, "text-message.json"))
	valid := Sign(body, secret)
	tampered := bytes.Replace(body, []byte("Body Text"), []byte("Body Texx"), 1)
	require.NotEqual(t, body, tampered)

	tests := []struct {
		name   string
		body   []byte
		header string
		secret string
		want   bool
	}{
		{"valid", body, valid, secret, true},
		{"valid with uppercase hex", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), secret, true},
		{"valid empty body", nil, Sign(nil, secret), secret, true},
		{"wrong secret", body, valid, "other-secret", false},
		{"tampered body", tampered, valid, secret, false},
		{"missing prefix", body, strings.TrimPrefix(valid, "sha256="), secret, false},
		{"sha1 prefix", body, "sha1=" + strings.TrimPrefix(valid, "sha256="), secret, false},
		{"bad hex", body, "sha256=" + strings.Repeat("zz", 32), secret, false},
		{"short digest", body, valid[:len(valid)-2], secret, false},
		{"long digest", body, valid + "00", secret, false},
		{"empty header", body, "", secret, false},
		{"prefix only", body, "sha256=", secret, false},
		{"empty secret", body, Sign(body, ""), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, VerifySignature(tt.body, tt.header, tt.secret))
		})
	}
}

// TestVerifySignatureEveryFixture signs each real body the way Meta does and
// checks that one flipped byte breaks it.
func TestVerifySignatureEveryFixture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	require.NoError(t, err)
	for _, f := range files {
		body := readFile(t, f)
		sig := Sign(body, "s3cret")
		assert.True(t, VerifySignature(body, sig, "s3cret"), filepath.Base(f))
		flipped := slices.Clone(body)
		flipped[len(flipped)/2] ^= 0x01
		assert.False(t, VerifySignature(flipped, sig, "s3cret"), filepath.Base(f))
	}
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	files = append(files, syntheticBatch, syntheticTemplates)
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		batch, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for i, m := range batch.Messages {
			if len(m.Raw) == 0 {
				t.Fatalf("message %d has no Raw", i)
			}
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("message %d does not re-marshal: %v", i, err)
			}
			if len(m.Text) > MaxTextBytes {
				t.Fatalf("message %d Text is %d bytes", i, len(m.Text))
			}
		}
		for i, s := range batch.Statuses {
			if len(s.Raw) == 0 {
				t.Fatalf("status %d has no Raw", i)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("status %d does not re-marshal: %v", i, err)
			}
		}
		if _, err := json.Marshal(batch); err != nil {
			t.Fatalf("batch does not re-marshal: %v", err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		path string
	}{
		{"text-fixture", filepath.Join(fixtureDir, "text-message.json")},
		{"synthetic-batch", syntheticBatch},
	}
	for _, bc := range cases {
		body := readFile(b, bc.path)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
		// What the webhook handler used to add before the dispatcher's
		// parse: a json.Valid scan of the body (Parse's decode checks the
		// syntax itself).
		b.Run(bc.name+"/valid", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !json.Valid(body) {
					b.Fatal("not valid")
				}
			}
		})
	}
}

// TestPricingPerMessage parses per-message pricing (PMP) status bodies, in
// force since 2025-07-01: billable, pricing_model, category and type, with
// a conversation object only for a free entry point. Synthetic: shaped
// after Meta's status webhook reference, as no public sample carries PMP.
func TestPricingPerMessage(t *testing.T) {
	batch, err := Parse(readFile(t, filepath.Join("testdata", "synthetic", "status-pmp.json")))
	require.NoError(t, err)
	require.Len(t, batch.Statuses, 3)
	want := []actors.Pricing{
		{Billable: true, Model: actors.PricingPerMessage, Category: "marketing", Type: "regular"},
		{Billable: false, Model: actors.PricingPerMessage, Category: "service", Type: "free_customer_service"},
		{Billable: false, Model: actors.PricingPerMessage, Category: "referral_conversion", Type: "free_entry_point"},
	}
	for i, w := range want {
		require.NotNil(t, batch.Statuses[i].Pricing, "status %d", i)
		assert.Equal(t, w, *batch.Statuses[i].Pricing, "status %d", i)
	}
	noPricing, err := Parse([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"w","status":"sent","pricing":null}]}}]}]}`))
	require.NoError(t, err)
	assert.Nil(t, noPricing.Statuses[0].Pricing, "null pricing is none")
}

package webhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

// syntheticTemplates is a synthetic body (built from the shapes in Meta's
// webhook reference, not captured) of every template change field, mixed
// with a messages change and an account update.
const syntheticTemplates = "testdata/synthetic/template-events.json"

func TestParseTemplateEvents(t *testing.T) {
	batch, err := Parse(readFile(t, syntheticTemplates))
	require.NoError(t, err)

	const waba = "102290129340398"
	first, second := unixUTC(1751247548), unixUTC(1751247600)
	assert.Equal(t, []actors.TemplateEvent{
		{BusinessAccountID: waba, Field: actors.FieldTemplateStatus, TemplateID: "1689556908129832", Name: "order_update", Language: "en_US",
			Event: "PAUSED", Reason: "FIRST_PAUSE", Category: "UTILITY", Timestamp: first},
		{BusinessAccountID: waba, Field: actors.FieldTemplateQuality, TemplateID: "806312974732579", Name: "welcome", Language: "en_US",
			Quality: "YELLOW", Timestamp: first},
		{BusinessAccountID: waba, Field: actors.FieldTemplateStatus, TemplateID: "1689556908129835", Name: "abandoned_cart", Language: "pt_BR",
			Event: "REJECTED", Reason: "INVALID_FORMAT", Category: "MARKETING", Timestamp: second},
		{BusinessAccountID: waba, Field: actors.FieldTemplateCategory, TemplateID: "1234", Name: "welcome", Language: "en",
			Category: "MARKETING", Timestamp: second},
		{BusinessAccountID: waba, Field: actors.FieldTemplateComponents, TemplateID: "5678", Name: "welcome", Language: "en", Timestamp: second},
	}, batch.Templates, "a change naming no template, or whose value is not an object, is skipped")

	// Nothing is dropped: every non-messages change stays in Other too.
	assert.Len(t, batch.Other, 8)
	require.Len(t, batch.Statuses, 1)
	assert.Equal(t, "wamid.t1", batch.Statuses[0].WaMessageID)
}

func TestParseWithoutTemplateEvents(t *testing.T) {
	batch, err := Parse(readFile(t, syntheticBatch))
	require.NoError(t, err)
	assert.Empty(t, batch.Templates, "an account update is no template event")
	batch, err = Parse([]byte(`{"object":"whatsapp_business_account","entry":[{"id":7,"changes":[{"field":"message_template_status_update",
		"value":{"event":"approved","message_template_name":"x","message_template_language":"en","message_template_id":null}}]}]}`))
	require.NoError(t, err)
	require.Len(t, batch.Templates, 1)
	assert.Equal(t, actors.TemplateEvent{BusinessAccountID: "7", Field: actors.FieldTemplateStatus, Name: "x", Language: "en", Event: "APPROVED"},
		batch.Templates[0], "ids as numbers, null ids, lower-case events")
}

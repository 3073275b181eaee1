package mongostore

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/persistence/servicetest"
	"github.com/wacc/engine/persistence/storetest"
)

func TestTemplatesContractFerretSQLite(t *testing.T) {
	storetest.RunTemplates(t, func(t *testing.T) actors.TemplateStore { return openStore(t, handlerSQLite) })
}

func TestTemplatesContractFerretPostgres(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.RunTemplates(t, func(t *testing.T) actors.TemplateStore { return openStore(t, handlerPostgres) })
}

// TestTemplateReadsStartOverAfterTwoSyncs: a generation is deleted by the
// second sync after the one that replaced it, so a read during which one
// sync ran saw a whole generation and stands, and a read during which two
// ran starts over on the newest one.
func TestTemplateReadsStartOverAfterTwoSyncs(t *testing.T) {
	s := openStore(t, handlerSQLite)
	ctx := t.Context()
	const waba = "1"
	set := func(name string) []actors.Template {
		return []actors.Template{{BusinessAccountID: waba, Name: name, Language: "en", Status: actors.TemplateApproved}}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, s.ReplaceTemplates(ctx, waba, set("first"), at))

	tests := []struct {
		name string
		// syncs is how many syncs run during the first read.
		syncs     int
		wantReads int
	}{
		{name: "one sync during the read: the read stands", syncs: 1, wantReads: 1},
		{name: "two syncs during the read: it starts over", syncs: 2, wantReads: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reads := 0
			var seen []string
			err := s.consistent(ctx, waba, func(gen string) error {
				reads++
				if reads == 1 {
					for i := range tt.syncs {
						require.NoError(t, s.ReplaceTemplates(ctx, waba, set(fmt.Sprintf("%s-%d", tt.name[:3], i)), at))
					}
				}
				docs, err := findAll[templateDoc](ctx, s.templates(), bson.D{{Key: "wabaId", Value: waba}, {Key: "gen", Value: gen}}, nil)
				seen = seen[:0]
				for _, d := range docs {
					seen = append(seen, d.Name)
				}
				return err
			})
			require.NoError(t, err)
			assert.Equal(t, tt.wantReads, reads)
			require.Len(t, seen, 1, "a whole generation: the one read first, or the newest")
		})
	}
}

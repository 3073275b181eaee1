package mongostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

var _ actors.TemplateStore = (*Store)(nil)

// The template registry is two collections. templates holds one document
// per (account, name, language) and generation; template_syncs holds one
// document per account naming its current generation, the one before it,
// and how many syncs there were (seq). A sync writes a new generation beside
// the current one, points template_syncs at it (seq+1), then deletes every
// generation but these two. A reader reads the pointer, then the documents
// of its generation, then the pointer again: a generation is deleted only
// by the second sync after the one that replaced it, so when seq moved by
// at most one the reader saw one whole generation; otherwise it starts
// over. So a reader sees one whole generation, never a mix, although there
// are no multi-document transactions. Writes to an account's registry (a
// sync, an update, a delete) are serialized by the write claim
// "templates/<account>", since FerretDB runs an update as a read followed
// by a write.
const (
	templatesColl     = "templates"
	templateSyncsColl = "template_syncs"
)

func init() {
	indexes = append(indexes,
		// Template, ListTemplates (by name then language), UpdateTemplate;
		// uniqueness of a generation's keys.
		index{coll: templatesColl, name: "wabaId_gen_name_language", unique: true,
			keys: bson.D{{Key: "wabaId", Value: 1}, {Key: "gen", Value: 1}, {Key: "name", Value: 1}, {Key: "language", Value: 1}}},
	)
}

// readAttempts bounds how often a reader starts over because a sync moved
// the generation under it.
const readAttempts = 5

// templateDoc is a document of the templates collection. components is the
// definition's JSON (Meta's format) as a string.
type templateDoc struct {
	ID              string    `bson:"_id"`
	WabaID          string    `bson:"wabaId"`
	Gen             string    `bson:"gen"`
	Name            string    `bson:"name"`
	Language        string    `bson:"language"`
	TemplateID      string    `bson:"templateId"`
	Status          string    `bson:"status"`
	Category        string    `bson:"category"`
	Quality         string    `bson:"quality"`
	ParameterFormat string    `bson:"parameterFormat"`
	Components      string    `bson:"components"`
	Reason          string    `bson:"reason"`
	FailedCode      int64     `bson:"failedCode"`
	UpdatedAt       time.Time `bson:"updatedAt"`
}

// templateSyncDoc is a document of template_syncs: the account's current
// and previous generation, the number of syncs, and the sync record.
type templateSyncDoc struct {
	WabaID   string    `bson:"_id"`
	Gen      string    `bson:"gen"`
	PrevGen  string    `bson:"prevGen"`
	Seq      int64     `bson:"seq"`
	SyncedAt time.Time `bson:"syncedAt"`
	Count    int64     `bson:"count"`
}

func (s *Store) templates() *mongo.Collection {
	return s.messages.Database().Collection(templatesColl)
}

func (s *Store) templateSyncs() *mongo.Collection {
	return s.messages.Database().Collection(templateSyncsColl)
}

func templatesClaimKey(wabaID string) string { return "templates/" + wabaID }

func (d templateDoc) template() (actors.Template, error) {
	t := actors.Template{BusinessAccountID: d.WabaID, ID: d.TemplateID, Name: d.Name, Language: d.Language, Status: d.Status,
		Category: d.Category, Quality: d.Quality, ParameterFormat: d.ParameterFormat, Reason: d.Reason, FailedCode: int(d.FailedCode),
		UpdatedAt: utc(d.UpdatedAt)}
	if err := json.Unmarshal([]byte(d.Components), &t.Components); err != nil {
		return actors.Template{}, fmt.Errorf("decode components of template %s/%s: %w", d.Name, d.Language, err)
	}
	return t, nil
}

// generation returns wabaID's current generation, "" when never synced.
func (s *Store) generation(ctx context.Context, wabaID string) (templateSyncDoc, error) {
	d, err := findOne[templateSyncDoc](ctx, s.templateSyncs(), bson.D{{Key: "_id", Value: wabaID}}, nil)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return templateSyncDoc{}, nil
	}
	return d, err
}

// consistent runs read against wabaID's current generation until at most
// one sync happened during it (the generation read is then whole: only the
// second sync after it deletes it), at most readAttempts times.
func (s *Store) consistent(ctx context.Context, wabaID string, read func(gen string) error) error {
	for range readAttempts {
		before, err := s.generation(ctx, wabaID)
		if err != nil {
			return err
		}
		if err := read(before.Gen); err != nil {
			return err
		}
		after, err := s.generation(ctx, wabaID)
		if err != nil {
			return err
		}
		if after.Seq <= before.Seq+1 {
			return nil
		}
	}
	return fmt.Errorf("templates kept changing while read: %w", actors.ErrConflict)
}

// ReplaceTemplates writes ts as a new generation, points the account at it,
// and deletes the older ones, under the account's write claim.
func (s *Store) ReplaceTemplates(ctx context.Context, wabaID string, ts []actors.Template, at time.Time) error {
	op := "replace templates of " + wabaID
	gen := actors.NewID()
	docs := make([]templateDoc, 0, len(ts))
	for _, t := range ts {
		comps, err := json.Marshal(nonNilComponents(t.Components))
		if err != nil {
			return fmt.Errorf("%s: template %s/%s: %w", op, t.Name, t.Language, err)
		}
		docs = append(docs, templateDoc{ID: gen + "/" + t.Name + "/" + t.Language, WabaID: wabaID, Gen: gen, Name: t.Name, Language: t.Language,
			TemplateID: t.ID, Status: t.Status, Category: t.Category, Quality: t.Quality, ParameterFormat: t.ParameterFormat,
			Components: string(comps), Reason: t.Reason, FailedCode: int64(t.FailedCode), UpdatedAt: at.UTC()})
	}
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, templatesClaimKey(wabaID))
		if err != nil {
			return err
		}
		defer release()
		if len(docs) > 0 {
			if _, err := s.templates().InsertMany(ctx, docs, options.InsertMany().SetOrdered(false)); err != nil {
				// Nothing points at this generation: remove what landed.
				_, _ = s.templates().DeleteMany(context.WithoutCancel(ctx), bson.D{{Key: "wabaId", Value: wabaID}, {Key: "gen", Value: gen}})
				return err
			}
		}
		cur, err := s.generation(ctx, wabaID)
		if err != nil {
			return err
		}
		_, err = s.templateSyncs().UpdateOne(ctx, bson.D{{Key: "_id", Value: wabaID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "gen", Value: gen}, {Key: "prevGen", Value: cur.Gen}, {Key: "seq", Value: cur.Seq + 1},
				{Key: "syncedAt", Value: at.UTC()}, {Key: "count", Value: int64(len(docs))}}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil {
			return err
		}
		// Every generation but the new one and the one it replaced (which
		// readers that started before this sync may still be reading),
		// also those of a sync that failed half-way.
		_, err = s.templates().DeleteMany(ctx, bson.D{{Key: "wabaId", Value: wabaID},
			{Key: "gen", Value: bson.D{{Key: "$nin", Value: bson.A{gen, cur.Gen}}}}})
		return err
	})
	if err != nil {
		return classify(op, err)
	}
	return nil
}

func nonNilComponents(cs []actors.TemplateComponent) []actors.TemplateComponent {
	if cs == nil {
		return []actors.TemplateComponent{}
	}
	return cs
}

func templateKey(wabaID, gen, name, language string) bson.D {
	return bson.D{{Key: "wabaId", Value: wabaID}, {Key: "gen", Value: gen}, {Key: "name", Value: name}, {Key: "language", Value: language}}
}

// Template returns one template of the current generation, or ErrNotFound.
func (s *Store) Template(ctx context.Context, wabaID, name, language string) (actors.Template, error) {
	op := fmt.Sprintf("template %s/%s of %s", name, language, wabaID)
	var doc templateDoc
	err := s.consistent(ctx, wabaID, func(gen string) error {
		var err error
		doc, err = findOne[templateDoc](ctx, s.templates(), templateKey(wabaID, gen, name, language), nil)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil // checked again once the generation is known stable
		}
		return err
	})
	if err == nil && doc.ID == "" {
		err = mongo.ErrNoDocuments
	}
	if err != nil {
		return actors.Template{}, classify(op, err)
	}
	t, err := doc.template()
	if err != nil {
		return actors.Template{}, fmt.Errorf("%s: %w", op, err)
	}
	return t, nil
}

// ListTemplates returns one page of f's templates, by name then language,
// and the total, both from one generation.
func (s *Store) ListTemplates(ctx context.Context, f actors.TemplateFilter) ([]actors.Template, int, error) {
	op := fmt.Sprintf("list templates of %s (page %d, limit %d)", f.BusinessAccountID, f.Page, f.Limit)
	var docs []templateDoc
	var total int64
	err := s.consistent(ctx, f.BusinessAccountID, func(gen string) error {
		filter := bson.D{{Key: "wabaId", Value: f.BusinessAccountID}, {Key: "gen", Value: gen}}
		for _, c := range []struct{ key, val string }{{"status", f.Status}, {"name", f.Name}, {"language", f.Language}, {"category", f.Category}} {
			if c.val != "" {
				filter = append(filter, bson.E{Key: c.key, Value: c.val})
			}
		}
		lim, skip := pageWindow(f.Page, f.Limit)
		var err error
		docs, err = findAll[templateDoc](ctx, s.templates(), filter,
			options.Find().SetSort(bson.D{{Key: "name", Value: 1}, {Key: "language", Value: 1}}).SetSkip(skip).SetLimit(lim))
		if err != nil {
			return err
		}
		total, err = s.templates().CountDocuments(ctx, filter)
		return err
	})
	if err != nil {
		return nil, 0, classify(op, err)
	}
	out := make([]actors.Template, 0, len(docs))
	for _, d := range docs {
		t, err := d.template()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, t)
	}
	return out, int(total), nil
}

// UpdateTemplate applies u to one template of the current generation,
// under the account's write claim.
func (s *Store) UpdateTemplate(ctx context.Context, wabaID, name, language string, u actors.TemplateUpdate) error {
	op := fmt.Sprintf("update template %s/%s of %s", name, language, wabaID)
	set := bson.D{{Key: "updatedAt", Value: u.At.UTC()}}
	if u.Status != "" || u.FailedCode != 0 {
		set = append(set, bson.E{Key: "reason", Value: u.Reason}, bson.E{Key: "failedCode", Value: int64(u.FailedCode)})
	}
	if u.Status != "" {
		set = append(set, bson.E{Key: "status", Value: u.Status})
	}
	if u.Quality != "" {
		set = append(set, bson.E{Key: "quality", Value: u.Quality})
	}
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, templatesClaimKey(wabaID))
		if err != nil {
			return err
		}
		defer release()
		cur, err := s.generation(ctx, wabaID)
		if err != nil {
			return err
		}
		res, err := s.templates().UpdateOne(ctx, templateKey(wabaID, cur.Gen, name, language), bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return mongo.ErrNoDocuments
		}
		return nil
	})
	if err != nil {
		return classify(op, err)
	}
	return nil
}

// DeleteTemplate removes one template of the current generation, under the
// account's write claim.
func (s *Store) DeleteTemplate(ctx context.Context, wabaID, name, language string) error {
	op := fmt.Sprintf("delete template %s/%s of %s", name, language, wabaID)
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, templatesClaimKey(wabaID))
		if err != nil {
			return err
		}
		defer release()
		cur, err := s.generation(ctx, wabaID)
		if err != nil {
			return err
		}
		_, err = s.templates().DeleteOne(ctx, templateKey(wabaID, cur.Gen, name, language))
		return err
	})
	if err != nil {
		return classify(op, err)
	}
	return nil
}

// TemplateSync returns the record of wabaID's last sync, or ErrNotFound.
func (s *Store) TemplateSync(ctx context.Context, wabaID string) (actors.TemplateSync, error) {
	d, err := findOne[templateSyncDoc](ctx, s.templateSyncs(), bson.D{{Key: "_id", Value: wabaID}}, nil)
	if err != nil {
		return actors.TemplateSync{}, classify("template sync of "+wabaID, err)
	}
	return actors.TemplateSync{BusinessAccountID: d.WabaID, SyncedAt: utc(d.SyncedAt), Count: int(d.Count)}, nil
}

package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

var _ actors.MediaStore = (*Store)(nil)

// mediaColl holds one document per medium (its bytes are in GridFS, see
// blobs.go, or on a node's filesystem).
const mediaColl = "media"

func init() {
	indexes = append(indexes,
		// CountMediaBySHA256: are these bytes still referenced?
		index{coll: mediaColl, name: "sha256", keys: bson.D{{Key: "sha256", Value: 1}}},
		// MediaByStatus: oldest first within a status.
		index{coll: mediaColl, name: "status_updatedAt_id",
			keys: bson.D{{Key: "status", Value: 1}, {Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}},
	)
}

// mediaDoc is a document of the media collection. waUploadedAt is absent
// while zero.
type mediaDoc struct {
	ID              string     `bson:"_id"`
	Filename        string     `bson:"filename"`
	MimeType        string     `bson:"mimeType"`
	Size            int64      `bson:"size"`
	SHA256          string     `bson:"sha256"`
	Status          string     `bson:"status"`
	Error           string     `bson:"error"`
	WaMediaID       string     `bson:"waMediaId"`
	WaPhoneNumberID string     `bson:"waPhoneNumberId"`
	WaUploadedAt    *time.Time `bson:"waUploadedAt,omitempty"`
	UploaderID      string     `bson:"uploaderId"`
	ConversationID  string     `bson:"conversationId"`
	MessageID       string     `bson:"messageId"`
	Attempts        int64      `bson:"attempts"`
	CreatedAt       time.Time  `bson:"createdAt"`
	UpdatedAt       time.Time  `bson:"updatedAt"`
}

func toMediaDoc(m actors.Media) mediaDoc {
	return mediaDoc{
		ID: m.ID, Filename: m.Filename, MimeType: m.MimeType, Size: m.Size, SHA256: m.SHA256, Status: m.Status,
		Error: m.Error, WaMediaID: m.WaMediaID, WaPhoneNumberID: m.WaPhoneNumberID, WaUploadedAt: optTime(m.WaUploadedAt),
		UploaderID: m.UploaderID, ConversationID: m.ConversationID, MessageID: m.MessageID, Attempts: int64(m.Attempts),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

func (d mediaDoc) media() actors.Media {
	return actors.Media{
		ID: d.ID, Filename: d.Filename, MimeType: d.MimeType, Size: d.Size, SHA256: d.SHA256, Status: d.Status,
		Error: d.Error, WaMediaID: d.WaMediaID, WaPhoneNumberID: d.WaPhoneNumberID, WaUploadedAt: fromOpt(d.WaUploadedAt),
		UploaderID: d.UploaderID, ConversationID: d.ConversationID, MessageID: d.MessageID, Attempts: int(d.Attempts),
		CreatedAt: utc(d.CreatedAt), UpdatedAt: utc(d.UpdatedAt),
	}
}

// messageMediaDoc is a message's medium (actors.MessageMedia).
type messageMediaDoc struct {
	ID       string `bson:"id"`
	Status   string `bson:"status"`
	MimeType string `bson:"mimeType,omitempty"`
	Size     int64  `bson:"size,omitempty"`
	Filename string `bson:"filename,omitempty"`
	Error    string `bson:"error,omitempty"`
}

func toMessageMediaDoc(mm *actors.MessageMedia) *messageMediaDoc {
	if mm == nil {
		return nil
	}
	return &messageMediaDoc{ID: mm.ID, Status: mm.Status, MimeType: mm.MimeType, Size: mm.Size, Filename: mm.Filename, Error: mm.Error}
}

func (d *messageMediaDoc) messageMedia() *actors.MessageMedia {
	if d == nil {
		return nil
	}
	return &actors.MessageMedia{ID: d.ID, Status: d.Status, MimeType: d.MimeType, Size: d.Size, Filename: d.Filename, Error: d.Error}
}

// CreateMedia inserts m; actors.ErrDuplicate when its id is taken.
func (s *Store) CreateMedia(ctx context.Context, m actors.Media) error {
	if _, err := s.media.InsertOne(ctx, toMediaDoc(m)); err != nil {
		return classify("create media "+m.ID, err)
	}
	return nil
}

// Media returns the medium or actors.ErrNotFound.
func (s *Store) Media(ctx context.Context, id string) (actors.Media, error) {
	d, err := findOne[mediaDoc](ctx, s.media, bson.D{{Key: "_id", Value: id}}, nil)
	if err != nil {
		return actors.Media{}, classify("media "+id, err)
	}
	return d.media(), nil
}

// SaveMedia replaces the stored medium m.ID (one replaceOne);
// actors.ErrNotFound when absent. Concurrent saves of one medium: the last
// one wins whole.
func (s *Store) SaveMedia(ctx context.Context, m actors.Media) error {
	op := "save media " + m.ID
	res, err := s.media.ReplaceOne(ctx, bson.D{{Key: "_id", Value: m.ID}}, toMediaDoc(m))
	if err != nil {
		return classify(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return nil
}

// DeleteMedia removes the record; actors.ErrNotFound when absent.
func (s *Store) DeleteMedia(ctx context.Context, id string) error {
	op := "delete media " + id
	res, err := s.media.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return classify(op, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	return nil
}

// CountMediaBySHA256 counts the records whose bytes are sha.
func (s *Store) CountMediaBySHA256(ctx context.Context, sha string) (int, error) {
	n, err := s.media.CountDocuments(ctx, bson.D{{Key: "sha256", Value: sha}})
	if err != nil {
		return 0, classify("count media by sha256 "+sha, err)
	}
	return int(n), nil
}

// MediaByStatus returns up to limit media in status, oldest UpdatedAt
// first, then by id.
func (s *Store) MediaByStatus(ctx context.Context, status string, limit int) ([]actors.Media, error) {
	if limit < 1 {
		return []actors.Media{}, nil
	}
	docs, err := findAll[mediaDoc](ctx, s.media, bson.D{{Key: "status", Value: status}},
		options.Find().SetSort(bson.D{{Key: "updatedAt", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, classify("media in status "+status, err)
	}
	out := make([]actors.Media, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.media())
	}
	return out, nil
}

// SetMessageMedia replaces the medium of message messageID and sets its
// UpdatedAt to at; actors.ErrNotFound when there is no such message. The
// update is taken under the message's write claim for its current status
// rank, the one UpdateMessageStatus takes: FerretDB runs an update as a read
// followed by a whole-document write, so without it a status update and
// this one could each write back the other's old fields.
func (s *Store) SetMessageMedia(ctx context.Context, messageID string, mm actors.MessageMedia, at time.Time) error {
	op := "set media of message " + messageID
	err := retryClaimed(ctx, func() error {
		st, err := s.messageState(ctx, messageID)
		if err != nil {
			return err
		}
		release, err := s.claim(ctx, messageClaimKey(messageID, st.StatusRank))
		if err != nil {
			return err
		}
		defer release()
		set := bson.D{{Key: "media", Value: toMessageMediaDoc(&mm)}, {Key: "updatedAt", Value: optTime(at)}}
		res, err := s.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: messageID}, {Key: "statusRank", Value: st.StatusRank}},
			bson.D{{Key: "$set", Value: set}})
		if err == nil && res.MatchedCount == 0 {
			return errClaimed // its status moved since read: read again
		}
		return err
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	if err != nil {
		return classify(op, err)
	}
	return nil
}

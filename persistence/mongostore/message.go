package mongostore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/wacc/engine/actors"
)

// messageDoc is a document of the messages collection. statusRank is
// actors.StatusRank(status), kept so a status update can filter on it.
// Content and raw are the JSON bytes as BSON binary; waMessageId is absent
// while empty. createdAt is always stored: it orders the listing.
type messageDoc struct {
	ID             string          `bson:"_id"`
	ConversationID string          `bson:"conversationId"`
	Direction      string          `bson:"direction"`
	Type           string          `bson:"type"`
	Text           string          `bson:"text"`
	Content        []byte          `bson:"content,omitempty"`
	Status         string          `bson:"status"`
	StatusRank     int32           `bson:"statusRank"`
	WaMessageID    string          `bson:"waMessageId,omitempty"`
	Seq            int64           `bson:"seq"`
	Error          *whatsAppErrDoc `bson:"error,omitempty"`
	Raw            []byte          `bson:"raw,omitempty"`
	CreatedAt      time.Time       `bson:"createdAt"`
	UpdatedAt      *time.Time      `bson:"updatedAt,omitempty"`
	// Pricing is absent until a status carried it (see pricing.go).
	Pricing *pricingDoc `bson:"pricing,omitempty"`
	// Media is absent for a message without one (see media.go).
	Media *messageMediaDoc `bson:"media,omitempty"`
}

// whatsAppErrDoc is an actors.WhatsAppError.
type whatsAppErrDoc struct {
	Code    int32  `bson:"code"`
	Title   string `bson:"title"`
	Message string `bson:"message"`
	Details string `bson:"details"`
	Href    string `bson:"href"`
	Kind    string `bson:"kind,omitempty"`
	Reason  string `bson:"reason,omitempty"`
}

var messageProjection = bson.D{
	{Key: "_id", Value: 1}, {Key: "conversationId", Value: 1}, {Key: "direction", Value: 1},
	{Key: "type", Value: 1}, {Key: "text", Value: 1}, {Key: "content", Value: 1},
	{Key: "status", Value: 1}, {Key: "statusRank", Value: 1}, {Key: "waMessageId", Value: 1},
	{Key: "seq", Value: 1}, {Key: "error", Value: 1}, {Key: "raw", Value: 1},
	{Key: "createdAt", Value: 1}, {Key: "updatedAt", Value: 1}, {Key: "pricing", Value: 1},
	{Key: "media", Value: 1},
}

// messageState is the part of a message a status update checks.
type messageState struct {
	StatusRank  int32  `bson:"statusRank"`
	WaMessageID string `bson:"waMessageId"`
}

// messageSort is the listing order: newest first, then id descending.
var messageSort = bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}

func messageClaimKey(id string, rank int32) string {
	return fmt.Sprintf("message/%s/%d", id, rank)
}

func toErrDoc(e *actors.WhatsAppError) *whatsAppErrDoc {
	if e == nil {
		return nil
	}
	return &whatsAppErrDoc{Code: int32(e.Code), Title: e.Title, Message: e.Message, Details: e.Details, Href: e.Href, Kind: e.Kind, Reason: e.Reason}
}

func (d *whatsAppErrDoc) whatsAppError() actors.WhatsAppError {
	return actors.WhatsAppError{Code: int(d.Code), Title: d.Title, Message: d.Message, Details: d.Details, Href: d.Href, Kind: d.Kind, Reason: d.Reason}
}

// rawJSON returns b as JSON, nil when empty.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}

func toMessageDoc(m actors.Message) messageDoc {
	return messageDoc{
		ID:             m.ID,
		ConversationID: m.ConversationID,
		Direction:      m.Direction,
		Type:           m.Type,
		Text:           m.Text,
		Content:        []byte(m.Content),
		Status:         m.Status,
		StatusRank:     int32(actors.StatusRank(m.Status)),
		WaMessageID:    m.WaMessageID,
		Seq:            m.Seq,
		Error:          toErrDoc(m.Error),
		Raw:            []byte(m.Raw),
		CreatedAt:      m.CreatedAt,
		UpdatedAt:      optTime(m.UpdatedAt),
		Media:          toMessageMediaDoc(m.Media),
	}
}

func (d messageDoc) message() actors.Message {
	m := actors.Message{
		ID:             d.ID,
		ConversationID: d.ConversationID,
		Direction:      d.Direction,
		Type:           d.Type,
		Text:           d.Text,
		Content:        rawJSON(d.Content),
		Status:         d.Status,
		WaMessageID:    d.WaMessageID,
		Seq:            d.Seq,
		Raw:            rawJSON(d.Raw),
		CreatedAt:      utc(d.CreatedAt),
		UpdatedAt:      fromOpt(d.UpdatedAt),
		Media:          d.Media.messageMedia(),
	}
	if d.Error != nil {
		e := d.Error.whatsAppError()
		m.Error = &e
	}
	if d.Pricing != nil {
		m.Pricing = &actors.Pricing{Billable: d.Pricing.Billable, Model: d.Pricing.Model, Category: d.Pricing.Category, Type: d.Pricing.Type}
	}
	return m
}

// AppendMessage inserts m; actors.ErrDuplicate when its id or WaMessageID
// is already stored. A message with a wamid first takes the message_wamids
// guard of it (see guard.go) and gives it back when the insert fails.
func (s *Store) AppendMessage(ctx context.Context, m actors.Message) error {
	op := "append message " + m.ID
	var at time.Time
	if m.WaMessageID != "" {
		var err error
		at, err = s.take(ctx, s.wamidGuard(), m.WaMessageID, m.ID, false)
		if errors.Is(err, errTaken) {
			return fmt.Errorf("%s: wamid already stored: %w", op, actors.ErrDuplicate)
		}
		if err != nil {
			return classify(op+": take wamid guard", err)
		}
	}
	if _, err := s.messages.InsertOne(ctx, s.sealMessageDoc(toMessageDoc(m))); err != nil {
		if m.WaMessageID != "" {
			s.drop(ctx, s.wamidGuard(), m.WaMessageID, m.ID, at)
		}
		return classify(op, err)
	}
	return nil
}

// AppendMessageAndSave stores m and saves c. FerretDB has no transactions,
// so this is a read and three writes, ordered so that a refused save leaves
// nothing behind: a look-up of m's id (stored: actors.ErrDuplicate), m's
// wamid guard (a taken one is actors.ErrDuplicate, with
// nothing written), then the conversation save (one replace filtered on
// the version and, with c.Epoch set, the epoch: see fence.go), and only
// once the save is accepted the message insert. A save refused (a stale
// or fenced activation) gives the guard back and stores no message, so no
// stale activation's message lands beside a newer activation's at the same
// Seq. A crash between the save and the insert leaves the conversation one
// Seq ahead of its messages and a guard no stored message carries (stale,
// replaced at its next take once its grace is over): the webhook, not
// acknowledged, is delivered again and its message stored at the next Seq.
// Nothing is lost; Seq has a gap, and unread counts that message twice.
func (s *Store) AppendMessageAndSave(ctx context.Context, m actors.Message, c actors.Conversation) error {
	op := "append message " + m.ID
	// The id is checked before the save, as the wamid is by its guard: a
	// message already stored changes nothing.
	n, err := s.messages.CountDocuments(ctx, bson.D{{Key: "_id", Value: m.ID}}, options.Count().SetLimit(1))
	if err != nil {
		return classify(op+": look up its id", err)
	}
	if n > 0 {
		return fmt.Errorf("%s: id already stored: %w", op, actors.ErrDuplicate)
	}
	var at time.Time
	if m.WaMessageID != "" {
		at, err = s.take(ctx, s.wamidGuard(), m.WaMessageID, m.ID, false)
		if errors.Is(err, errTaken) {
			return fmt.Errorf("%s: wamid already stored: %w", op, actors.ErrDuplicate)
		}
		if err != nil {
			return classify(op+": take wamid guard", err)
		}
	}
	giveBack := func() {
		if m.WaMessageID != "" {
			s.drop(ctx, s.wamidGuard(), m.WaMessageID, m.ID, at)
		}
	}
	if s.beforeFencedSave != nil && c.Epoch != 0 {
		s.beforeFencedSave()
	}
	if err := s.SaveConversation(ctx, c); err != nil {
		giveBack()
		return err
	}
	if _, err := s.messages.InsertOne(ctx, s.sealMessageDoc(toMessageDoc(m))); err != nil {
		giveBack()
		return classify(op, err)
	}
	return nil
}

// MessageByWaID returns the message with that wamid, or actors.ErrNotFound
// (also for an empty wamid). The wamid is WhatsApp's, not a secret, but is
// kept out of errors like every other lookup key.
func (s *Store) MessageByWaID(ctx context.Context, waMessageID string) (actors.Message, error) {
	const op = "message by wamid"
	if waMessageID == "" {
		return actors.Message{}, fmt.Errorf("%s: empty wamid: %w", op, actors.ErrNotFound)
	}
	d, err := findOne[messageDoc](ctx, s.messages, bson.D{{Key: "waMessageId", Value: waMessageID}},
		options.Find().SetProjection(messageProjection))
	if err != nil {
		return actors.Message{}, classify(op, err)
	}
	m, err := s.openMessageDoc(d)
	if err != nil {
		return actors.Message{}, fmt.Errorf("%s: %w", op, err)
	}
	return m, nil
}

// messageState reads the fields a status update checks.
func (s *Store) messageState(ctx context.Context, id string) (messageState, error) {
	return findOne[messageState](ctx, s.messages, bson.D{{Key: "_id", Value: id}},
		options.Find().SetProjection(bson.D{{Key: "statusRank", Value: 1}, {Key: "waMessageId", Value: 1}}))
}

// UpdateMessageStatus moves message id to status, werr (nil clears the
// error) and UpdatedAt at, and to waMessageID when that is not empty, only
// if actors.StatusRank(status) is greater than the stored rank. It reports
// whether it changed anything; actors.ErrNotFound when absent,
// actors.ErrDuplicate when waMessageID belongs to another message.
//
// The write is one update filtered on {_id, statusRank: r}, r being the rank
// just read, taken under the message's write claim for r (see claim.go):
// every write from rank r holds that claim, so no two can interleave on
// FerretDB, and a writer whose rank was overtaken in the meantime re-reads
// and gives up. A writer that finds the claim held waits and tries again
// (its status may still be further forward than the winner's), so statuses
// never move backwards whatever the order of concurrent updates.
func (s *Store) UpdateMessageStatus(ctx context.Context, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	op := fmt.Sprintf("update status of message %s to %s", id, status)
	rank := int32(actors.StatusRank(status))
	changed := false
	err := retryClaimed(ctx, func() error {
		st, err := s.messageState(ctx, id)
		if err != nil {
			return err
		}
		if rank <= st.StatusRank {
			return nil
		}
		release, err := s.claim(ctx, messageClaimKey(id, st.StatusRank))
		if err != nil {
			return err
		}
		defer release()
		changed, err = s.applyStatus(ctx, id, st, status, rank, waMessageID, werr, at)
		return err
	})
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, fmt.Errorf("%s: %w", op, actors.ErrNotFound)
	}
	if err != nil {
		return false, classify(op, err)
	}
	return changed, nil
}

// UpdateMessageStatuses applies changes in order, each as
// UpdateMessageStatus does without a wamid, and reports for each whether it
// changed its message. Each is its own update under its message's write
// claim (a bulk write would bypass the claims that keep concurrent writers
// of one message in order on FerretDB), so the first that fails (such as
// actors.ErrNotFound) stops the rest, the ones before it applied.
func (s *Store) UpdateMessageStatuses(ctx context.Context, changes []actors.StatusChange) ([]bool, error) {
	changed := make([]bool, len(changes))
	for i, c := range changes {
		var err error
		if changed[i], err = s.UpdateMessageStatus(ctx, c.MessageID, c.Status, "", c.Error, c.At); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// applyStatus writes a status update under the claim for st's rank. A
// message that changed since st was read is errClaimed, so the caller reads
// it again.
func (s *Store) applyStatus(ctx context.Context, id string, st messageState, status string, rank int32, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	g := s.wamidGuard()
	newWamid := waMessageID != "" && waMessageID != st.WaMessageID
	var takenAt time.Time
	if newWamid {
		var err error
		takenAt, err = s.take(ctx, g, waMessageID, id, true)
		if errors.Is(err, errTaken) {
			return false, fmt.Errorf("wamid already stored: %w", actors.ErrDuplicate)
		}
		if err != nil {
			return false, err
		}
	}
	set := bson.D{
		{Key: "status", Value: status},
		{Key: "statusRank", Value: rank},
		{Key: "error", Value: toErrDoc(werr)},
		{Key: "updatedAt", Value: optTime(at)},
	}
	if waMessageID != "" {
		set = append(set, bson.E{Key: "waMessageId", Value: waMessageID})
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "statusRank", Value: st.StatusRank}}
	// A status that moves ends the message's send claim (sendclaim.go).
	res, err := s.messages.UpdateOne(ctx, filter, bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: unsetSendClaim}})
	if err == nil && res.MatchedCount == 0 {
		err = errClaimed // changed since read: read again
	}
	if err != nil {
		if newWamid {
			s.drop(ctx, g, waMessageID, id, takenAt)
		}
		return false, err
	}
	if newWamid && st.WaMessageID != "" {
		s.drop(ctx, g, st.WaMessageID, id, time.Time{})
	}
	return true, nil
}

// ListMessages returns up to limit (clamped to [1, maxLimit], defaultLimit
// when below 1) messages of a conversation, newest first (then id
// descending), older than the cursor before ("" starts from the newest),
// and the cursor of the next page ("" when there is none).
func (s *Store) ListMessages(ctx context.Context, conversationID, before string, limit int) ([]actors.Message, string, error) {
	op := "list messages of conversation " + conversationID
	lim, _ := pageWindow(1, limit)
	filter := bson.D{{Key: "conversationId", Value: conversationID}}
	if before != "" {
		at, id, err := decodeMessageCursor(before)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "createdAt", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: id}}}},
		}})
	}
	opts := options.Find().
		SetProjection(messageProjection).
		SetSort(messageSort).
		SetLimit(lim + 1)
	docs, err := findAll[messageDoc](ctx, s.messages, filter, opts)
	if err != nil {
		return nil, "", classify(op, err)
	}
	next := ""
	if int64(len(docs)) > lim {
		docs = docs[:lim]
		last := docs[len(docs)-1]
		next = encodeMessageCursor(last.CreatedAt, last.ID)
	}
	out := make([]actors.Message, 0, len(docs))
	for _, d := range docs {
		m, err := s.openMessageDoc(d)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, m)
	}
	return out, next, nil
}

// errBadCursor means a ListMessages cursor was not made by ListMessages.
var errBadCursor = fmt.Errorf("malformed message cursor: %w", actors.ErrBadCursor)

// encodeMessageCursor makes the opaque cursor "<createdAt ms>:<id>",
// base64url without padding.
func encodeMessageCursor(createdAt time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(createdAt.UnixMilli(), 10) + ":" + id))
}

func decodeMessageCursor(cursor string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	ms, id, ok := strings.Cut(string(b), ":")
	if !ok || id == "" {
		return time.Time{}, "", errBadCursor
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, "", errBadCursor
	}
	return time.UnixMilli(n).UTC(), id, nil
}

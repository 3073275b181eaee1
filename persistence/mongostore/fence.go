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

var _ actors.EpochStore = (*Store)(nil)

// Fencing of conversation activations without transactions.
//
// The epoch of a key lives in two places: its conversation_epochs document
// ({_id: "<phoneNumberId>/<waId>", epoch}), which AcquireEpoch increments
// with one atomic $inc, and the epoch field of the key's open conversation,
// which AcquireEpoch then raises to the new epoch before it returns (each
// under a write claim, see AcquireEpoch and raiseEpoch: FerretDB v1 runs an
// update as a read and a write).
// A fenced conversation save is one replace filtered on {_id, version,
// epoch <= the writer's}, so the check and the write are one single-document
// write: once AcquireEpoch returned epoch N, every save with an older epoch
// is refused (actors.ErrFenced), whether or not the holder of N has written.
// The save stamps the writer's epoch on the document.
//
// Writes that do not touch the conversation document check the key's
// conversation_epochs document just before they write; what is guaranteed
// for each:
//   - CreateConversation: refused unless the writer's epoch is current
//     before the insert; after the insert it reads the key's epoch again
//     and, should an acquisition have come between, raises the new
//     document's epoch to it. Such a create is kept (it happened before the
//     newer activation read the store, which finds it), and every later
//     write of the stale activation is refused.
//   - AppendMessageAndSave: the conversation save comes before the
//     message insert (after the wamid guard), and the insert is made only
//     once the fenced save was accepted: a stale activation's append is
//     refused with nothing stored, even when an acquisition races it. (The
//     multi-node freeze test found the opposite order leaving a stale
//     activation's message stored at a Seq the newer activation then gave
//     to another message.) A crash between the save and the insert leaves
//     a gap in Seq, and the redelivered webhook stores the message at the
//     next one (see AppendMessageAndSave).
//   - UpdateMessageStatusFenced(es): refused unless the epoch is current
//     before the writes; a status racing an acquisition may land. Statuses
//     move only forward and apply once, so such a write is what the newer
//     activation would have written.
type epochDoc struct {
	Key   string `bson:"_id"`
	Epoch int64  `bson:"epoch"`
}

// epochsColl is the collection of the keys' epochs.
const epochsColl = "conversation_epochs"

// AcquireEpoch increments the key's epoch (1 for a new key), raises the
// epoch of the key's open conversation to it, and returns it. FerretDB v1
// runs an update as a read and a write, so a bare $inc loses increments
// under concurrency; the increment is a $set from the epoch read, filtered
// on it and taken under the write claim "epoch/<key>/<epoch>" (claim.go):
// of concurrent acquirers from one epoch exactly one wins, the others read
// again.
func (s *Store) AcquireEpoch(ctx context.Context, phoneNumberID, waID string) (int64, error) {
	op := "acquire conversation epoch on " + phoneNumberID
	key := openKey(phoneNumberID, waID)
	var epoch int64
	err := retryClaimed(ctx, func() error {
		cur, err := s.currentEpoch(ctx, phoneNumberID, waID)
		if err != nil {
			return err
		}
		release, err := s.claim(ctx, fmt.Sprintf("epoch/%s/%d", key, cur))
		if err != nil {
			return err
		}
		defer release()
		if cur == 0 {
			_, err := s.epochs.InsertOne(ctx, epochDoc{Key: key, Epoch: 1})
			if mongo.IsDuplicateKeyError(err) {
				return errClaimed
			}
			epoch = 1
			return err
		}
		res, err := s.epochs.UpdateOne(ctx, bson.D{{Key: "_id", Value: key}, {Key: "epoch", Value: cur}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "epoch", Value: cur + 1}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return errClaimed
		}
		epoch = cur + 1
		return nil
	})
	if err != nil {
		return 0, classify(op, err)
	}
	filter := bson.D{{Key: "phoneNumberId", Value: phoneNumberID}, {Key: "waId", Value: waID}, {Key: "state", Value: notClosed}}
	if err := s.raiseEpoch(ctx, filter, epoch); err != nil {
		return 0, classify(op+": raise the open conversation's epoch", err)
	}
	return epoch, nil
}

// raiseEpoch raises the epoch of the conversation filter selects (if any)
// to epoch. The write is filtered on the version read and taken under the
// conversation's save claim for it ("conversation/<id>/<version>"), so it
// never overwrites a save nor is overwritten by one (FerretDB writes an
// updated document back whole).
func (s *Store) raiseEpoch(ctx context.Context, filter bson.D, epoch int64) error {
	return retryClaimed(ctx, func() error {
		cur, err := findOne[struct {
			ID      string `bson:"_id"`
			Version int64  `bson:"version"`
			Epoch   int64  `bson:"epoch"`
		}](ctx, s.conversations, filter, options.Find().SetProjection(bson.D{
			{Key: "_id", Value: 1}, {Key: "version", Value: 1}, {Key: "epoch", Value: 1},
		}))
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil
		}
		if err != nil || cur.Epoch >= epoch {
			return err
		}
		release, err := s.claim(ctx, conversationClaimKey(cur.ID, cur.Version))
		if err != nil {
			return err
		}
		defer release()
		res, err := s.conversations.UpdateOne(ctx, bson.D{{Key: "_id", Value: cur.ID}, {Key: "version", Value: cur.Version}},
			bson.D{{Key: "$max", Value: bson.D{{Key: "epoch", Value: epoch}}}})
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return errClaimed // saved meanwhile: read again
		}
		return nil
	})
}

// currentEpoch is the key's epoch, 0 for a key never acquired.
func (s *Store) currentEpoch(ctx context.Context, phoneNumberID, waID string) (int64, error) {
	d, err := findOne[epochDoc](ctx, s.epochs, bson.D{{Key: "_id", Value: openKey(phoneNumberID, waID)}}, nil)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	return d.Epoch, err
}

// checkEpoch refuses a write fenced with epoch (ErrFenced) unless it is the
// key's current epoch; epoch 0 is an unfenced write.
func (s *Store) checkEpoch(ctx context.Context, op, phoneNumberID, waID string, epoch int64) error {
	if epoch == 0 {
		return nil
	}
	cur, err := s.currentEpoch(ctx, phoneNumberID, waID)
	if err != nil {
		return classify(op+": read epoch", err)
	}
	if cur != epoch {
		return fmt.Errorf("%s: epoch %d is not the current %d: %w", op, epoch, cur, actors.ErrFenced)
	}
	return nil
}

// fenceCreated raises the epoch of conversation c, just inserted fenced,
// when a newer epoch of its key was acquired before the insert ended (see
// above).
func (s *Store) fenceCreated(ctx context.Context, c actors.Conversation) error {
	cur, err := s.currentEpoch(ctx, c.PhoneNumberID, c.WaID)
	if err != nil || cur <= c.Epoch {
		return err
	}
	return s.raiseEpoch(ctx, bson.D{{Key: "_id", Value: c.ID}}, cur)
}

// epochFilter is the save's condition on the stored epoch: not above the
// writer's (a document created unfenced has none).
func epochFilter(epoch int64) bson.E {
	return bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: "epoch", Value: bson.D{{Key: "$lte", Value: epoch}}}},
		bson.D{{Key: "epoch", Value: bson.D{{Key: "$exists", Value: false}}}},
	}}
}

// UpdateMessageStatusFenced is UpdateMessageStatus after a check of f's
// epoch (see above for what that guarantees).
func (s *Store) UpdateMessageStatusFenced(ctx context.Context, f actors.Fence, id, status, waMessageID string, werr *actors.WhatsAppError, at time.Time) (bool, error) {
	if err := s.checkEpoch(ctx, "update status of message "+id, f.PhoneNumberID, f.WaID, f.Epoch); err != nil {
		return false, err
	}
	return s.UpdateMessageStatus(ctx, id, status, waMessageID, werr, at)
}

// UpdateMessageStatusesFenced is UpdateMessageStatuses after a check of f's
// epoch (see above for what that guarantees).
func (s *Store) UpdateMessageStatusesFenced(ctx context.Context, f actors.Fence, changes []actors.StatusChange) ([]bool, error) {
	if err := s.checkEpoch(ctx, fmt.Sprintf("update %d message statuses", len(changes)), f.PhoneNumberID, f.WaID, f.Epoch); err != nil {
		return nil, err
	}
	return s.UpdateMessageStatuses(ctx, changes)
}

// saveMissed tells why a conditional replace of c matched nothing: a newer
// epoch (ErrFenced) or a newer version (ErrConflict).
func (s *Store) saveMissed(ctx context.Context, c actors.Conversation) error {
	if c.Epoch != 0 {
		cur, err := findOne[conversationState](ctx, s.conversations, bson.D{{Key: "_id", Value: c.ID}},
			options.Find().SetProjection(conversationStateProjection))
		if err == nil && cur.Epoch > c.Epoch {
			return fmt.Errorf("epoch %d is older than the stored %d: %w", c.Epoch, cur.Epoch, actors.ErrFenced)
		}
	}
	return fmt.Errorf("changed concurrently: %w", actors.ErrConflict)
}

package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Send claims: the claim a send holds on its message while its call to the
// Cloud API is in flight (actors.OutboundStore.ClaimSend) is three fields
// of the message document, absent while no send holds it. A status that
// moves (applyStatus) and a re-drive (RequeueFailed) unset them.
const (
	fSendOwner      = "sendOwner"
	fSendClaimedAt  = "sendClaimedAt"
	fSendLeaseUntil = "sendLeaseUntil"
)

// sendClaimDoc is the claim part of a message document.
type sendClaimDoc struct {
	StatusRank int32     `bson:"statusRank"`
	Owner      string    `bson:"sendOwner,omitempty"`
	ClaimedAt  time.Time `bson:"sendClaimedAt,omitempty"`
}

var (
	sendClaimProjection = bson.D{{Key: "statusRank", Value: 1}, {Key: fSendOwner, Value: 1}, {Key: fSendClaimedAt, Value: 1}}
	// unsetSendClaim is the $unset that ends a message's send claim.
	unsetSendClaim = bson.D{{Key: fSendOwner, Value: ""}, {Key: fSendClaimedAt, Value: ""}, {Key: fSendLeaseUntil, Value: ""}}
	queuedRank     = int32(actors.StatusRank(actors.StatusQueued))
)

// ClaimSend claims the send of message id for owner until leaseUntil. The
// conditional update runs under the message's write claim for the queued
// rank, the one UpdateMessageStatus takes to move a queued message on (see
// claim.go: on FerretDB an update is a read and a whole-document write),
// and returns the claim it replaced: no owner, claimed now; an owner whose
// lease ran out, taken over (SendOutcomeUnknown, its first claim time put
// back). No match is told apart by a read: absent, not queued, or held.
func (s *Store) ClaimSend(ctx context.Context, id, owner string, now, leaseUntil time.Time) (actors.SendClaim, error) {
	op := "claim the send of message " + id
	now, leaseUntil = now.UTC(), leaseUntil.UTC()
	var out actors.SendClaim
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, messageClaimKey(id, queuedRank))
		if err != nil {
			return err
		}
		defer release()
		filter := bson.D{{Key: "_id", Value: id}, {Key: "statusRank", Value: queuedRank}, {Key: "$or", Value: bson.A{
			bson.D{{Key: fSendOwner, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: fSendLeaseUntil, Value: bson.D{{Key: "$lt", Value: now}}}},
		}}}
		update := bson.D{{Key: "$set", Value: bson.D{{Key: fSendOwner, Value: owner}, {Key: fSendClaimedAt, Value: now},
			{Key: fSendLeaseUntil, Value: leaseUntil}}}}
		// No projection: FerretDB v1 does not take one on findAndModify.
		var before sendClaimDoc
		err = s.messages.FindOneAndUpdate(ctx, filter, update,
			options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			cur, err := findOne[sendClaimDoc](ctx, s.messages, bson.D{{Key: "_id", Value: id}}, options.Find().SetProjection(sendClaimProjection))
			if err != nil {
				return err
			}
			out = actors.SendClaim{State: actors.SendInFlight}
			if cur.StatusRank != queuedRank {
				out.State = actors.SendNotQueued
			}
			return nil
		case err != nil:
			return err
		case before.Owner == "":
			out = actors.SendClaim{State: actors.SendClaimed, ClaimedAt: now}
			return nil
		}
		// Taken over: the claim keeps the time its first holder made it.
		out = actors.SendClaim{State: actors.SendOutcomeUnknown, ClaimedAt: before.ClaimedAt.UTC()}
		_, err = s.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: fSendOwner, Value: owner}},
			bson.D{{Key: "$set", Value: bson.D{{Key: fSendClaimedAt, Value: out.ClaimedAt}}}})
		return err
	})
	if err != nil {
		return actors.SendClaim{}, classify(op, err)
	}
	return out, nil
}

// ReleaseSend clears owner's claim of message id's send, under the same
// write claim as ClaimSend.
func (s *Store) ReleaseSend(ctx context.Context, id, owner string) error {
	err := retryClaimed(ctx, func() error {
		release, err := s.claim(ctx, messageClaimKey(id, queuedRank))
		if err != nil {
			return err
		}
		defer release()
		_, err = s.messages.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "statusRank", Value: queuedRank}, {Key: fSendOwner, Value: owner}},
			bson.D{{Key: "$unset", Value: unsetSendClaim}})
		return err
	})
	if err != nil {
		return classify(fmt.Sprintf("release the send of message %s", id), err)
	}
	return nil
}

// SettleSendClaims ends the lease of every claim of a queued message (the
// index status_direction_createdAt finds them).
func (s *Store) SettleSendClaims(ctx context.Context) (int, error) {
	res, err := s.messages.UpdateMany(ctx,
		bson.D{{Key: "status", Value: actors.StatusQueued}, {Key: "direction", Value: actors.DirectionOutbound},
			{Key: fSendOwner, Value: bson.D{{Key: "$exists", Value: true}}},
			{Key: fSendLeaseUntil, Value: bson.D{{Key: "$gt", Value: time.Unix(0, 0).UTC()}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: fSendLeaseUntil, Value: time.Unix(0, 0).UTC()}}}})
	if err != nil {
		return 0, classify("settle send claims", err)
	}
	return int(res.ModifiedCount), nil
}

// oldSendClaimPrefix keyed the send claims of earlier versions, kept as
// idempotency records "whatsapp.send:<message id>".
const oldSendClaimPrefix = "whatsapp.send:"

// carrySendClaims moves the send claims an earlier version left as
// idempotency records onto their queued messages (owner, first claim time
// and lease kept; an unanswered record's missing lease is out), so a send
// that was in flight when that version stopped is still not made twice,
// and deletes the records. Open runs it; with none left it is one empty
// range read of idempotency_keys by _id.
func (s *Store) carrySendClaims(ctx context.Context) error {
	old, err := findAll[idempotencyDoc](ctx, s.idempotency(), bson.D{{Key: "_id", Value: bson.D{
		{Key: "$gte", Value: oldSendClaimPrefix}, {Key: "$lt", Value: "whatsapp.send;"}}}}, nil)
	if err != nil {
		return classify("find send claims of an earlier version", err)
	}
	for _, d := range old {
		id := d.Key[len(oldSendClaimPrefix):]
		owner := d.Owner
		if owner == "" {
			owner = "migrated"
		}
		lease := d.LeaseUntil.UTC()
		if d.LeaseUntil.IsZero() {
			lease = time.Unix(0, 0).UTC()
		}
		err := retryClaimed(ctx, func() error {
			release, err := s.claim(ctx, messageClaimKey(id, queuedRank))
			if err != nil {
				return err
			}
			defer release()
			_, err = s.messages.UpdateOne(ctx,
				bson.D{{Key: "_id", Value: id}, {Key: "statusRank", Value: queuedRank}, {Key: fSendOwner, Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: fSendOwner, Value: owner}, {Key: fSendClaimedAt, Value: d.CreatedAt.UTC()},
					{Key: fSendLeaseUntil, Value: lease}}}})
			return err
		})
		if err != nil {
			return classify("carry the send claim of message "+id, err)
		}
		if _, err := s.idempotency().DeleteOne(ctx, bson.D{{Key: "_id", Value: d.Key}}); err != nil {
			return classify("delete the send claim record of message "+id, err)
		}
	}
	if len(old) > 0 {
		s.log.Info("send claims of an earlier version moved onto their messages", zap.Int("claims", len(old)))
	}
	return nil
}

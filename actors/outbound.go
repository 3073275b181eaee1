package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors of a Delivery, the same for every queue.
var (
	// ErrSettled means Ack, Retry, Hold or DeadLetter already succeeded on
	// the delivery.
	ErrSettled = errors.New("delivery already settled")
	// ErrDeliveryLost means the delivery's consumer or channel is gone
	// before it was settled: the job went back to the queue and will be
	// delivered again.
	ErrDeliveryLost = errors.New("delivery lost: job will be redelivered")
)

// Send priorities: agent replies go ahead of bulk templates.
const (
	PriorityBulk  uint8 = 1
	PriorityReply uint8 = 5
)

// Outbound job kinds (see also JobCallConnect).
const (
	// JobSend sends the message MessageID (the zero Kind).
	JobSend = ""
	// JobMediaUpload uploads the medium MediaID to the Cloud API's media
	// endpoint of PhoneNumberID, for the send of MessageID waiting on it.
	JobMediaUpload = "media.upload"
)

// OutboundJob is one message waiting for the WhatsApp sender. MessageID is
// the engine's message id: the sender never sends a message twice once its
// outcome is recorded, however often the job is delivered.
type OutboundJob struct {
	// Kind is JobSend or JobMediaUpload.
	Kind           string `json:"kind,omitempty"`
	MessageID      string `json:"messageId"`
	ConversationID string `json:"conversationId"`
	PhoneNumberID  string `json:"phoneNumberId"`
	// To is the recipient's wa_id.
	To string `json:"to"`
	// Priority is 0-9; higher is delivered first.
	Priority uint8 `json:"priority"`
	// Body is the Cloud API request body, ready to POST (a send whose
	// medium is ours names it by MediaID, replaced at send time by the
	// medium's WaMediaID).
	Body json.RawMessage `json:"body"`
	// MediaID is our medium a send carries, or the one an upload job
	// uploads; empty otherwise.
	MediaID string `json:"mediaId,omitempty"`
	// CallID is the call a JobCallConnect places (on the exotel.outbound
	// queue). Such a job's MessageID is the call id too, so the queues,
	// their dead letters and re-drive key every job the same way.
	CallID string `json:"callId,omitempty"`
	// Attempt is 1 on the first delivery and grows with every retry.
	Attempt int `json:"attempt"`
	// LastError is the reason of the last retry or of the dead letter.
	LastError  string    `json:"lastError,omitempty"`
	EnqueuedAt time.Time `json:"enqueuedAt"`
}

// ErrPublishUnknown means a publish may have queued its job or not: it
// reached the broker, whose confirm never came (the connection died or
// the wait for the confirm ran out). It wraps ErrUnavailable. The job may
// be delivered, so the caller must not report the send as failed; it
// keeps the message queued and has the job published again until a
// publish is confirmed (a second job for one message is harmless: the
// sender sends a message only while it is queued).
var ErrPublishUnknown = fmt.Errorf("publish outcome unknown, the job may be queued: %w", ErrUnavailable)

// OutboundPublisher puts jobs on the outbound queue. Publish returns nil
// only once the job is durably queued (publisher confirm for RabbitMQ). An
// error wrapping ErrPublishUnknown means the job may be queued; any other
// error means it surely was not (never sent to the broker, refused or
// returned unroutable), and the caller must not acknowledge the send.
type OutboundPublisher interface {
	Publish(ctx context.Context, job OutboundJob) error
}

// Delivery is one job handed to a consumer. Exactly one of Ack, Retry or
// DeadLetter must be called, after the outcome is persisted.
type Delivery interface {
	Job() OutboundJob
	// Ack removes the job: it is done.
	Ack() error
	// Retry requeues the job after delay with Attempt+1 and reason as
	// LastError; once Attempt reaches the queue's maximum it dead-letters
	// instead and reports deadLettered.
	Retry(delay time.Duration, reason string) (deadLettered bool, err error)
	// Hold requeues the job untried after delay, with the same Attempt and
	// reason as LastError: the job did not fail (its number or recipient
	// is paused), so it uses no attempt and is never dead-lettered.
	Hold(delay time.Duration, reason string) error
	// DeadLetter moves the job to the dead-letter queue with reason.
	DeadLetter(reason string) error
}

// OutboundConsumer delivers jobs to handle, at most prefetch at a time,
// highest priority first, until ctx ends. Unacknowledged jobs come back
// after a crash or a lost connection.
type OutboundConsumer interface {
	Consume(ctx context.Context, handle func(Delivery)) error
}

// DeadLetter is a job that exhausted its attempts or failed for good.
type DeadLetter struct {
	Job    OutboundJob `json:"job"`
	Reason string      `json:"reason"`
	At     time.Time   `json:"at"`
}

// DeadLetters lists and re-drives dead letters.
type DeadLetters interface {
	// ListDeadLetters returns up to limit dead letters, oldest first.
	ListDeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)
	// Redrive puts the dead letters of the given message ids (all when
	// empty) back on the outbound queue with Attempt reset to 1, and
	// returns how many it moved.
	Redrive(ctx context.Context, messageIDs []string) (int, error)
}

// IdempotencyRecord remembers the answer to a request sent with an
// Idempotency-Key. Status 0 means the request that claimed it has not
// answered: it is still running while LeaseUntil is ahead, and its process
// died if the lease ran out (a repeat then takes the claim over).
type IdempotencyRecord struct {
	Key         string
	RequestHash string
	Status      int
	Body        []byte
	// CreatedAt is when the key was first claimed; a take-over keeps it,
	// so it identifies the request across the crash of its process.
	CreatedAt time.Time
	ExpiresAt time.Time
	// Owner is the claim's holder (unique per claiming request); only it
	// may complete or release the claim.
	Owner string
	// LeaseUntil is when an unanswered claim may be taken over.
	LeaseUntil time.Time
}

// OutboundStore is what the send path keeps beyond messages: lookups by
// message id, recovery of queued sends, idempotency keys, and the claim a
// send holds on its message while its Cloud API call is in flight.
type OutboundStore interface {
	// Message returns the message with that id, or ErrNotFound.
	Message(ctx context.Context, id string) (Message, error)
	// QueuedOutbound returns up to limit outbound messages whose status is
	// still queued, oldest first.
	QueuedOutbound(ctx context.Context, limit int) ([]Message, error)
	// ClaimIdempotency claims rec.Key for rec.Owner until rec.LeaseUntil,
	// rec.CreatedAt being now, and returns the claimed record. A new key
	// is stored as rec (Status 0). An existing key is taken over, in one
	// atomic conditional write, when it is unanswered with the same
	// RequestHash and its lease ended before now (its claimant died; the
	// record keeps its CreatedAt and ExpiresAt), or when it expired before
	// now (it is replaced by rec). Otherwise ErrDuplicate: the caller reads
	// the record to replay, refuse or wait.
	ClaimIdempotency(ctx context.Context, rec IdempotencyRecord) (IdempotencyRecord, error)
	// IdempotencyRecord returns the record of key or ErrNotFound.
	IdempotencyRecord(ctx context.Context, key string) (IdempotencyRecord, error)
	// CompleteIdempotency stores the answer of the unanswered claim of key
	// held by owner; ErrNotFound when owner no longer holds one (it was
	// taken over).
	CompleteIdempotency(ctx context.Context, key, owner string, status int, body []byte) error
	// ReleaseIdempotency deletes the unanswered claim of key held by owner
	// (its request had no effect); a no-op otherwise.
	ReleaseIdempotency(ctx context.Context, key, owner string) error
	// SettleIdempotencyClaims ends the lease of every unanswered claim, so
	// each one's next repeat takes it over at once, and returns how many.
	// Only a process that knows no other is running requests on this store
	// may call it (a SQLite engine holding its DATA_DIR lock, at start-up).
	SettleIdempotencyClaims(ctx context.Context) (int, error)
	// DeleteExpiredIdempotency removes records expired before before.
	DeleteExpiredIdempotency(ctx context.Context, before time.Time) (int, error)
	// RequeueFailed moves a failed outbound message back to queued (its
	// error and any send claim cleared) for a re-drive of its dead letter;
	// it reports whether the message was failed. Statuses otherwise never
	// move backwards.
	RequeueFailed(ctx context.Context, id string, at time.Time) (bool, error)

	// ClaimSend claims the send of message id for owner, in one
	// conditional write on the message that also stands for reading it:
	// a queued message with no claim, or one whose claim's lease ended
	// before now, is claimed (owner, lease until leaseUntil) and the answer
	// is SendClaimed, or SendOutcomeUnknown when a lapsed claim was taken
	// over (it keeps its first ClaimedAt). A message that is not queued is
	// SendNotQueued, one claimed under a live lease SendInFlight, both left
	// as they were; an absent one ErrNotFound. Concurrent callers: one
	// claims, the others see SendInFlight. Moving the message's status
	// (UpdateMessageStatus: the send's outcome) clears its claim in the
	// same write.
	ClaimSend(ctx context.Context, id, owner string, now, leaseUntil time.Time) (SendClaim, error)
	// ReleaseSend clears owner's claim of message id's send without
	// changing the message (its call had no effect); a no-op when owner
	// does not hold it.
	ReleaseSend(ctx context.Context, id, owner string) error
	// SettleSendClaims ends the lease of every claim of a queued message,
	// so the next claim of each takes it over at once (SendOutcomeUnknown),
	// and returns how many. As SettleIdempotencyClaims: only a process that
	// knows no other is sending from this store may call it.
	SettleSendClaims(ctx context.Context) (int, error)
}

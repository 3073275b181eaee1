package rabbitqueue

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Defaults New uses for the zero values of Options.
const (
	DefaultName           = "whatsapp.outbound"
	DefaultExchange       = "engine.direct"
	DefaultPrefetch       = 64
	DefaultMaxAttempts    = 8
	DefaultMaxPriority    = 9
	DefaultPublishTimeout = 5 * time.Second
	DefaultReconnectMin   = 100 * time.Millisecond
	DefaultReconnectMax   = 10 * time.Second
	DefaultDialTimeout    = 5 * time.Second
)

// DefaultDelayTiers are the retry delays New declares a delay queue for. A
// Retry delay is rounded up to the next tier; a delay longer than the last
// tier waits the last tier.
var DefaultDelayTiers = []time.Duration{
	time.Second,
	5 * time.Second,
	15 * time.Second,
	time.Minute,
	5 * time.Minute,
	15 * time.Minute,
	time.Hour,
}

// Options configure a Queue. Zero values take the defaults above.
type Options struct {
	// Name is the main queue's name and the prefix of its companions
	// (Name+".dead", Name+".retry.<ms>"). Tests use unique names.
	Name string
	// Exchange is the durable direct exchange every queue of this Queue is
	// bound to, with its own name as the routing key. Several Queues (and
	// other components) may share it.
	Exchange string
	// Prefetch bounds the unacknowledged deliveries of one Consume call.
	Prefetch int
	// MaxAttempts is the number of deliveries a job gets: Retry on a job
	// whose Attempt is MaxAttempts dead-letters it instead.
	MaxAttempts int
	// MaxPriority is the main queue's x-max-priority; job priorities above it
	// are delivered as MaxPriority. Changing it for an existing queue makes
	// New fail (RabbitMQ refuses to redeclare a queue with other arguments).
	MaxPriority uint8
	// PublishTimeout bounds one publish, including waiting for a reconnect
	// and for the broker's confirm.
	PublishTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the doubling backoff between
	// reconnect attempts (and between attempts to resume consuming).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// DialTimeout bounds one TCP connect plus AMQP handshake.
	DialTimeout time.Duration
	// DelayTiers are the retry delays, each a whole number of milliseconds,
	// ascending; nil means DefaultDelayTiers. Tiers no longer listed keep
	// their queues on the broker, which still drain back into the main queue.
	DelayTiers []time.Duration
}

func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Exchange == "" {
		o.Exchange = DefaultExchange
	}
	if o.Prefetch == 0 {
		o.Prefetch = DefaultPrefetch
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.MaxPriority == 0 {
		o.MaxPriority = DefaultMaxPriority
	}
	if o.PublishTimeout == 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.ReconnectMin == 0 {
		o.ReconnectMin = DefaultReconnectMin
	}
	if o.ReconnectMax == 0 {
		o.ReconnectMax = DefaultReconnectMax
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.DelayTiers == nil {
		o.DelayTiers = DefaultDelayTiers
	}
	o.DelayTiers = slices.Clone(o.DelayTiers)

	var errs []error
	if o.Prefetch < 0 || o.Prefetch > 65535 {
		errs = append(errs, fmt.Errorf("prefetch %d not in 1..65535", o.Prefetch))
	}
	if o.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max attempts %d below 1", o.MaxAttempts))
	}
	if o.PublishTimeout < 0 || o.DialTimeout < 0 {
		errs = append(errs, errors.New("negative timeout"))
	}
	if o.ReconnectMin < 0 || o.ReconnectMax < o.ReconnectMin {
		errs = append(errs, fmt.Errorf("reconnect backoff %s..%s is not a range", o.ReconnectMin, o.ReconnectMax))
	}
	if len(o.DelayTiers) == 0 {
		errs = append(errs, errors.New("no delay tiers"))
	}
	for i, d := range o.DelayTiers {
		if d < time.Millisecond || d%time.Millisecond != 0 || d.Milliseconds() > 1<<31-1 {
			errs = append(errs, fmt.Errorf("delay tier %s is not a positive whole number of milliseconds", d))
		}
		if i > 0 && d <= o.DelayTiers[i-1] {
			errs = append(errs, fmt.Errorf("delay tier %s not above %s", d, o.DelayTiers[i-1]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("rabbitqueue options: %w", err)
	}
	return o, nil
}

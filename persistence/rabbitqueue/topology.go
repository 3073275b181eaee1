package rabbitqueue

import (
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// topology names the exchange and queues of one Queue.
type topology struct {
	exchange    string
	main        string
	dead        string
	maxPriority uint8
	tiers       []time.Duration
}

func newTopology(o Options) topology {
	return topology{
		exchange:    o.Exchange,
		main:        o.Name,
		dead:        o.Name + ".dead",
		maxPriority: o.MaxPriority,
		tiers:       o.DelayTiers,
	}
}

// retryQueue names the delay queue of tier.
func (t topology) retryQueue(tier time.Duration) string {
	return fmt.Sprintf("%s.retry.%d", t.main, tier.Milliseconds())
}

// tierFor rounds delay up to a tier; clamped reports that delay is longer
// than the last tier, which is returned.
func (t topology) tierFor(delay time.Duration) (tier time.Duration, clamped bool) {
	for _, tier := range t.tiers {
		if delay <= tier {
			return tier, false
		}
	}
	return t.tiers[len(t.tiers)-1], true
}

// queues lists every queue of the topology, main first.
func (t topology) queues() []string {
	names := []string{t.main, t.dead}
	for _, tier := range t.tiers {
		names = append(names, t.retryQueue(tier))
	}
	return names
}

// declare creates (or confirms) the exchange, the queues and their bindings
// on ch. Every queue is bound with its own name as routing key.
//
//	main          x-max-priority; rejected messages dead-letter to dead
//	dead          plain durable queue, read by ListDeadLetters and Redrive
//	retry.<ms>    x-message-ttl <ms>; expired messages dead-letter to main
func (t topology) declare(ch *amqp.Channel) error {
	if err := ch.ExchangeDeclare(t.exchange, amqp.ExchangeDirect, true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", t.exchange, err)
	}
	decl := func(name string, args amqp.Table) error {
		if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare queue %s: %w", name, err)
		}
		if err := ch.QueueBind(name, name, t.exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %s to %s: %w", name, t.exchange, err)
		}
		return nil
	}
	if err := decl(t.main, amqp.Table{
		"x-max-priority":            int32(t.maxPriority),
		"x-dead-letter-exchange":    t.exchange,
		"x-dead-letter-routing-key": t.dead,
	}); err != nil {
		return err
	}
	if err := decl(t.dead, nil); err != nil {
		return err
	}
	for _, tier := range t.tiers {
		if err := decl(t.retryQueue(tier), amqp.Table{
			"x-message-ttl":             int64(tier.Milliseconds()),
			"x-dead-letter-exchange":    t.exchange,
			"x-dead-letter-routing-key": t.main,
		}); err != nil {
			return err
		}
	}
	return nil
}

// QueueNames lists every queue a Queue with options o declares (its main
// queue first, then its dead-letter and delay queues), so an operator's
// script or a test can remove them; nil DelayTiers means the defaults.
func QueueNames(o Options) []string {
	if o.DelayTiers == nil {
		o.DelayTiers = DefaultDelayTiers
	}
	return newTopology(o).queues()
}

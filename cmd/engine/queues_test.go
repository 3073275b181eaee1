package main

import (
	"errors"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/rabbitqueue"
	"github.com/wacc/engine/persistence/servicetest"
)

// deleteQueues removes a test's queues (its send and call queues, each
// with its dead-letter and delay queues) from the broker over AMQP.
// rabbitmqctl would do it too, but each of its runs boots an Erlang VM
// (seconds of CPU on this machine, many per test).
func deleteQueues(t *testing.T, cfg configs.Config) {
	conn, err := amqp.Dial(servicetest.RabbitURL(t))
	if err != nil {
		t.Logf("delete the test's queues: %v", err)
		return
	}
	defer conn.Close()
	var names []string
	for _, base := range []string{cfg.RabbitMQQueue, cfg.RabbitMQCallQueue} {
		names = append(names, rabbitqueue.QueueNames(rabbitqueue.Options{Name: base})...)
	}
	for _, q := range names {
		ch, err := conn.Channel() // a failed delete closes its channel
		if err != nil {
			t.Logf("delete the test's queues: %v", err)
			return
		}
		_, err = ch.QueueDelete(q, false, false, false)
		_ = ch.Close()
		var ae *amqp.Error
		if err != nil && !(errors.As(err, &ae) && ae.Code == amqp.NotFound) {
			t.Logf("delete queue %s: %v", q, err)
		}
	}
}

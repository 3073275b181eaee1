package cluster

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wacc/engine/actors/conversation"
)

// Bounds of the fire-and-forget queues.
const (
	// sendQueueMax is how many commands one key may have waiting; beyond
	// it a command is refused (an ERROR log and
	// engine_cluster_sends_lost_total).
	sendQueueMax = 1024
	// sendRetryFor is how long a command is retried before it is given up
	// the same way.
	sendRetryFor = 2 * time.Minute
)

// sendQueues hold the fire-and-forget commands (Directory.Send) of keys
// owned by other nodes, one ordered queue per key with one worker that
// delivers them one at a time, each with its message id until the owner
// answers, so a node dying loses none and they keep their order. A key with
// nothing queued and a local owner goes straight to the local host.
type sendQueues struct {
	n  *Node
	mu sync.Mutex
	q  map[conversation.Key][]queuedSend
	wg sync.WaitGroup
}

type queuedSend struct {
	cmd conversation.Command
	env *Envelope
}

func newSendQueues(n *Node) *sendQueues {
	return &sendQueues{n: n, q: map[conversation.Key][]queuedSend{}}
}

func (s *sendQueues) push(key conversation.Key, cmd conversation.Command) {
	n := s.n
	s.mu.Lock()
	defer s.mu.Unlock()
	q, busy := s.q[key]
	if !busy && n.owner(key) == n.cfg.Bind {
		n.local.Send(key, cmd)
		return
	}
	if len(q) >= sendQueueMax {
		n.metrics.sendsLost.Inc()
		n.log.Error("fire-and-forget command refused: its conversation's queue is full", zap.String("actor", key.Name()))
		return
	}
	env := &Envelope{MessageId: n.nextID(), PhoneNumberId: key.PhoneNumberID, WaId: key.WaID}
	if err := setCommand(env, cmd); err != nil {
		n.metrics.sendsLost.Inc()
		n.log.Error("fire-and-forget command cannot cross a wire", zap.String("actor", key.Name()), zap.Error(err))
		return
	}
	s.q[key] = append(q, queuedSend{cmd: cmd, env: env})
	n.metrics.sendsQueued.Inc()
	if !busy {
		s.wg.Add(1)
		go s.work(key)
	}
}

// work delivers key's queue until it is empty.
func (s *sendQueues) work(key conversation.Key) {
	defer s.wg.Done()
	n := s.n
	for {
		s.mu.Lock()
		q := s.q[key]
		if len(q) == 0 {
			delete(s.q, key)
			s.mu.Unlock()
			return
		}
		next := q[0]
		s.mu.Unlock()

		owner := n.owner(key)
		if owner == n.cfg.Bind {
			n.local.Send(key, next.cmd)
		} else {
			deadline := time.Now().Add(sendRetryFor)
			_, attempts, err := n.deliver(key, next.cmd, next.env, deadline, owner, n.attempt(owner, next.env, deadline))
			if err != nil {
				n.metrics.sendsLost.Inc()
				n.log.Error("fire-and-forget command given up", zap.String("actor", key.Name()), zap.Int("attempt", attempts), zap.Error(err))
			}
		}
		s.mu.Lock()
		s.q[key] = s.q[key][1:]
		s.mu.Unlock()
		n.metrics.sendsQueued.Dec()
	}
}

// drain waits for the queues to empty, or ctx to end.
func (s *sendQueues) drain(ctx context.Context) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		left := 0
		for _, q := range s.q {
			left += len(q)
		}
		s.mu.Unlock()
		s.n.log.Warn("cluster stopping with fire-and-forget commands undelivered", zap.Int("queued", left))
	}
}

package supervisors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/wacc/engine/actors/conversation"
)

// children are a shard's conversation actors by their name (Key.Name). A
// stored name is the tail of its actor's PID id, which protoactor keeps
// anyway, so the shard holds no copy of a key: an entry is a string header
// and a pointer. Lookups build the name in a stack buffer and allocate
// nothing.
type children map[string]*actor.PID

// nameBuf fits the names of WhatsApp's keys (digits) without allocating.
type nameBuf [80]byte

func (m children) get(key conversation.Key) (*actor.PID, bool) {
	var buf nameBuf
	pid, ok := m[string(key.AppendName(buf[:0]))]
	return pid, ok
}

func (m children) has(key conversation.Key) bool {
	_, ok := m.get(key)
	return ok
}

func (m children) remove(key conversation.Key) {
	var buf nameBuf
	delete(m, string(key.AppendName(buf[:0])))
}

// put records pid as key's actor, named by key (SpawnNamed(props,
// key.Name())).
func (m children) put(key conversation.Key, pid *actor.PID) {
	var buf nameBuf
	name := key.AppendName(buf[:0])
	if id := pid.GetId(); len(id) >= len(name) && id[len(id)-len(name):] == string(name) {
		m[id[len(id)-len(name):]] = pid
		return
	}
	m[string(name)] = pid
}

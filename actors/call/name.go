package call

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// namePrefix starts every call actor's name (see Name).
const namePrefix = "call/"

// maxIDLen bounds a call id: it travels as Exotel's CustomField (at most
// 128 characters).
const maxIDLen = 128

// Name is the name a parent spawns the actor of callID with, "call/<id>";
// the actor reads its id back from it.
func Name(callID string) string { return namePrefix + callID }

// ValidID reports whether callID can name an actor and travel to Exotel:
// not empty, at most 128 characters, without '/'.
func ValidID(callID string) bool {
	return callID != "" && len(callID) <= maxIDLen && !strings.Contains(callID, "/")
}

// IDOf is the call id of the actor pid spawned by parent with
// SpawnNamed(props, Name(id)) (protoactor names a child "<parent id>/<name>");
// ok is false for any other actor.
func IDOf(pid, parent *actor.PID) (id string, ok bool) {
	if pid == nil || parent == nil {
		return "", false
	}
	name, ok := strings.CutPrefix(pid.Id, parent.Id+"/")
	if !ok {
		return "", false
	}
	id, ok = strings.CutPrefix(name, namePrefix)
	if !ok || !ValidID(id) {
		return "", false
	}
	return id, true
}

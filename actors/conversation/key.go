package conversation

import (
	"errors"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// Key names one conversation actor: a business number and a customer.
type Key struct {
	PhoneNumberID string
	WaID          string
}

// Name is the actor's stable name, "conversation/<phoneNumberId>/<waId>".
func (k Key) Name() string { return "conversation/" + k.PhoneNumberID + "/" + k.WaID }

// AppendName appends k's Name to dst: a caller with a buffer of its own
// looks a name up without allocating it.
func (k Key) AppendName(dst []byte) []byte {
	dst = append(dst, namePrefix...)
	dst = append(dst, k.PhoneNumberID...)
	dst = append(dst, '/')
	return append(dst, k.WaID...)
}

// ErrInvalidKey means a key whose PhoneNumberID contains '/' cannot name an
// actor (see Key.Valid); messages for it are refused.
var ErrInvalidKey = errors.New("conversation key cannot name an actor")

// Valid reports whether k names an actor that can read k back from its
// name: its PhoneNumberID must not contain '/' (WhatsApp's ids are digits).
func (k Key) Valid() bool { return !strings.Contains(k.PhoneNumberID, "/") }

// namePrefix starts every conversation actor's name (see Key.Name).
const namePrefix = "conversation/"

// KeyFromName is the key whose Name is name; ok is false when name is not
// a conversation actor's name.
func KeyFromName(name string) (k Key, ok bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return Key{}, false
	}
	pn, wa, ok := strings.Cut(rest, "/")
	if !ok {
		return Key{}, false
	}
	return Key{PhoneNumberID: pn, WaID: wa}, true
}

// KeyOf is the key of the conversation actor pid spawned by parent with
// SpawnNamed(props, key.Name()); protoactor names a child
// "<parent id>/<name>". ok is false for any other actor.
func KeyOf(pid, parent *actor.PID) (Key, bool) {
	if pid == nil || parent == nil {
		return Key{}, false
	}
	name, ok := strings.CutPrefix(pid.Id, parent.Id+"/")
	if !ok {
		return Key{}, false
	}
	return KeyFromName(name)
}

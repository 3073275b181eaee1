package redisbus

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/wacc/engine/actors"
)

// Field names of a stream entry. Short: every event carries them.
const (
	fieldOrigin    = "o" // the publishing node
	fieldSeq       = "n" // the publishing node's sequence number
	fieldType      = "t"
	fieldConv      = "c"
	fieldState     = "s"
	fieldAssignee  = "a"
	fieldPrevious  = "pa"
	fieldPhone     = "p"
	fieldWaID      = "w"
	fieldUser      = "u"
	fieldData      = "d"
	fieldAt        = "at"
	fieldsPerEntry = 12
)

// entry is one event on its way into the stream, numbered by its node.
type entry struct {
	origin string
	seq    uint64
	ev     actors.Event
	// flushed, when set, makes the entry a Flush marker: no event, closed
	// once every entry queued before it is written.
	flushed chan struct{}
}

// encode renders e as the field-value list of an XADD. Data is marshalled
// here, off the publisher's goroutine; a value that cannot be marshalled is
// an error (the event is dropped and logged by the caller).
func encode(e entry) ([]any, error) {
	ev := e.ev
	var data []byte
	if ev.Data != nil {
		b, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("marshal data of %s event of conversation %s: %w", ev.Type, ev.ConversationID, err)
		}
		data = b
	}
	at := ""
	if !ev.At.IsZero() {
		at = ev.At.UTC().Format(time.RFC3339Nano)
	}
	return []any{fieldOrigin, e.origin, fieldSeq, strconv.FormatUint(e.seq, 10), fieldType, ev.Type,
		fieldConv, ev.ConversationID, fieldState, ev.State, fieldAssignee, ev.AssigneeID, fieldPrevious, ev.PreviousAssigneeID,
		fieldPhone, ev.PhoneNumberID, fieldWaID, ev.WaID, fieldUser, ev.UserID, fieldData, string(data), fieldAt, at}, nil
}

// decode reads a stream entry back. Data comes back as the JSON it was
// (json.RawMessage), which a frame marshals to the same bytes; Cursor is
// the entry's id.
func decode(id string, values map[string]any) (entry, error) {
	str := func(k string) string {
		s, _ := values[k].(string)
		return s
	}
	e := entry{origin: str(fieldOrigin)}
	if e.origin == "" || str(fieldType) == "" {
		return e, fmt.Errorf("stream entry %s: no origin or type", id)
	}
	seq, err := strconv.ParseUint(str(fieldSeq), 10, 64)
	if err != nil {
		return e, fmt.Errorf("stream entry %s: sequence %q: %w", id, str(fieldSeq), err)
	}
	e.seq = seq
	e.ev = actors.Event{Type: str(fieldType), ConversationID: str(fieldConv), State: str(fieldState), AssigneeID: str(fieldAssignee),
		PreviousAssigneeID: str(fieldPrevious), PhoneNumberID: str(fieldPhone), WaID: str(fieldWaID), UserID: str(fieldUser), Cursor: id}
	if d := str(fieldData); d != "" {
		if !json.Valid([]byte(d)) {
			return e, fmt.Errorf("stream entry %s: data is not JSON", id)
		}
		e.ev.Data = json.RawMessage(d)
	}
	if at := str(fieldAt); at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return e, fmt.Errorf("stream entry %s: time %q: %w", id, at, err)
		}
		e.ev.At = t
	}
	return e, nil
}

package conversation

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
)

// Wire names of the commands (EncodeCommand's kind).
const (
	wireInbound         = "inbound"
	wireStatusChanged   = "status_changed"
	wireStatusesChanged = "statuses_changed"
	wireTick            = "tick"
	wireClose           = "close"
	wireAssign          = "assign"
	wireMarkRead        = "mark_read"
	wireSend            = "send"
	wireSendOutcome     = "send_outcome"
)

// ErrUnknownCommand means DecodeCommand was given a kind it does not know
// (a node of a newer version sent it).
var ErrUnknownCommand = errors.New("unknown conversation command")

// EncodeCommand is cmd's wire form: its kind and its payload, for a node
// that hands it to the conversation's actor (DecodeCommand). The payload
// is gob: bytes (json.RawMessage) travel exactly as they are (JSON would
// re-compact and re-escape them), and times keep their instant and zone
// offset (not a monotonic reading, which no encoding keeps).
func EncodeCommand(cmd Command) (kind string, payload []byte, err error) {
	switch c := cmd.(type) {
	case Inbound:
		kind = wireInbound
	case StatusChanged:
		kind = wireStatusChanged
	case StatusesChanged:
		kind = wireStatusesChanged
	case Tick:
		// gob refuses a struct without fields: no payload.
		return wireTick, nil, nil
	case Close:
		kind = wireClose
	case Assign:
		kind = wireAssign
	case MarkRead:
		kind = wireMarkRead
	case Send:
		kind = wireSend
	case SendOutcome:
		kind = wireSendOutcome
	default:
		return "", nil, fmt.Errorf("encode command %T: %w", c, ErrUnknownCommand)
	}
	payload, err = gobBytes(cmd)
	if err != nil {
		return "", nil, fmt.Errorf("encode command %s: %w", kind, err)
	}
	return kind, payload, nil
}

// DecodeCommand is the command EncodeCommand gave kind and payload for.
func DecodeCommand(kind string, payload []byte) (Command, error) {
	var (
		cmd Command
		err error
	)
	switch kind {
	case wireInbound:
		cmd, err = gobValue[Inbound](payload)
	case wireStatusChanged:
		cmd, err = gobValue[StatusChanged](payload)
	case wireStatusesChanged:
		cmd, err = gobValue[StatusesChanged](payload)
	case wireTick:
		return Tick{}, nil
	case wireClose:
		cmd, err = gobValue[Close](payload)
	case wireAssign:
		cmd, err = gobValue[Assign](payload)
	case wireMarkRead:
		cmd, err = gobValue[MarkRead](payload)
	case wireSend:
		cmd, err = gobValue[Send](payload)
	case wireSendOutcome:
		cmd, err = gobValue[SendOutcome](payload)
	default:
		return nil, fmt.Errorf("decode command %q: %w", kind, ErrUnknownCommand)
	}
	if err != nil {
		return nil, fmt.Errorf("decode command %s: %w", kind, err)
	}
	return cmd, nil
}

// EncodeResult is the wire form of an actor's answer (what a Reply's
// Result returns: a Result, or the answer to an Inbound, which travels as
// the Result it stands for).
func EncodeResult(answer any) ([]byte, error) {
	var res Result
	switch a := answer.(type) {
	case Result:
		res = a
	case inboundAnswer:
		res = Result{Conversation: a.Conversation, Duplicate: a.Duplicate, Failure: a.Failure}
	default:
		return nil, fmt.Errorf("encode answer %T: not a conversation answer", answer)
	}
	b, err := gobBytes(res)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return b, nil
}

// DecodeResult is the Result EncodeResult encoded; its Failure matches the
// same sentinels with errors.Is (Failure.Is goes by Code).
func DecodeResult(payload []byte) (Result, error) {
	res, err := gobValue[Result](payload)
	if err != nil {
		return Result{}, fmt.Errorf("decode result: %w", err)
	}
	return res, nil
}

func gobBytes(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func gobValue[T any](payload []byte) (T, error) {
	var v T
	err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&v)
	return v, err
}

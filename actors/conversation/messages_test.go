package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// commands holds one of every Command, each field set.
func commands() []conversation.Command {
	at := start.Add(time.Minute)
	werr := &actors.WhatsAppError{Code: 131047, Title: "window closed", Message: "m", Details: "d", Href: "h"}
	return []conversation.Command{
		conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: "pn", DisplayPhone: "1555", WaID: "49151", ProfileName: "Asha",
			UserID: "u", ParentUserID: "p", WaMessageID: "wamid.1", Type: "text", Timestamp: at, Text: "hi",
			Content: json.RawMessage(`{"body":"hi"}`), Context: &actors.MessageContext{From: "1", ID: "wamid.0", Forwarded: true},
			Referral: json.RawMessage(`{"source_type":"ad"}`), Errors: []actors.WhatsAppError{*werr}, Raw: json.RawMessage(`{"id":"wamid.1"}`)}},
		conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: "pn", WaMessageID: "wamid.2", RecipientID: "49151",
			Status: "read", Timestamp: at, Errors: []actors.WhatsAppError{*werr}, BizOpaqueCallbackData: "t", Raw: json.RawMessage(`{}`)}},
		conversation.Tick{},
		conversation.Close{ConversationID: "c1", ByUserID: "u1"},
		conversation.Assign{ConversationID: "c1", AgentID: "a1", ByUserID: "u1", Auto: true},
		conversation.MarkRead{ConversationID: "c1", ByUserID: "u1"},
		conversation.Send{MessageID: "m1", Type: "template", Text: "t", Content: json.RawMessage(`{"name":"x"}`),
			Body: json.RawMessage(`{"to":"49151"}`), Template: true, CustomerID: "cu1", ByUserID: "u1", AgentID: "a1", Priority: 5},
		conversation.SendOutcome{MessageID: "m1", WaMessageID: "wamid.3", Status: "failed", Error: werr, WindowClosed: true},
	}
}

// TestCommandsArePlainData checks every command is made of data only (no
// interfaces, functions or channels anywhere inside) and survives a trip
// through JSON unchanged: what a wire format needs.
func TestCommandsArePlainData(t *testing.T) {
	t.Parallel()
	for _, cmd := range commands() {
		typ := reflect.TypeOf(cmd)
		t.Run(typ.Name(), func(t *testing.T) {
			t.Parallel()
			assertPlainData(t, typ, typ.Name())
			raw, err := json.Marshal(cmd)
			require.NoError(t, err)
			back := reflect.New(typ)
			require.NoError(t, json.Unmarshal(raw, back.Interface()))
			assert.Equal(t, cmd, back.Elem().Interface())
		})
	}
}

// assertPlainData fails for any interface, function, channel or unsafe
// pointer reachable from typ.
func assertPlainData(t *testing.T, typ reflect.Type, path string) {
	t.Helper()
	switch typ.Kind() {
	case reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		t.Errorf("%s is a %s: commands carry data only", path, typ.Kind())
	case reflect.Pointer, reflect.Slice, reflect.Array:
		assertPlainData(t, typ.Elem(), path+"[]")
	case reflect.Map:
		assertPlainData(t, typ.Key(), path+"[key]")
		assertPlainData(t, typ.Elem(), path+"[value]")
	case reflect.Struct:
		if typ == reflect.TypeOf(time.Time{}) {
			return
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			assertPlainData(t, f.Type, path+"."+f.Name)
		}
	}
}

func TestResultCrossesAWire(t *testing.T) {
	t.Parallel()
	res := conversation.Failed(fmt.Errorf("send: %w", conversation.ErrOutsideWindow))
	res.Conversation = actors.Conversation{ID: "c1", State: actors.StateExpired, Version: 3}
	res.Message = actors.Message{ID: "m1", Content: json.RawMessage(`{"body":"x"}`), Raw: json.RawMessage(`{}`)}
	assertPlainData(t, reflect.TypeOf(res), "Result")
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var back conversation.Result
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, res, back)
	require.NotNil(t, back.Failure)
	assert.ErrorIs(t, back.Failure, conversation.ErrOutsideWindow, "still matches its sentinel on the other side")
}

func TestFailureMatchesTheSentinelOfItsCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want conversation.Code
		// is are the sentinels the failure matches; every other one of
		// sentinels must not match.
		is []error
	}{
		{name: "closed", err: fmt.Errorf("close c1: %w", conversation.ErrClosed), want: conversation.CodeClosed, is: []error{conversation.ErrClosed}},
		{name: "outside the window", err: conversation.ErrOutsideWindow, want: conversation.CodeOutsideWindow, is: []error{conversation.ErrOutsideWindow}},
		{name: "queue refused", err: fmt.Errorf("publish m1: %w", errors.Join(conversation.ErrQueueUnavailable, errors.New("broker gone"))),
			want: conversation.CodeQueueUnavailable, is: []error{conversation.ErrQueueUnavailable, actors.ErrUnavailable}},
		{name: "stale", err: fmt.Errorf("save c1: %w", conversation.ErrStale), want: conversation.CodeStale, is: []error{conversation.ErrStale}},
		{name: "fenced", err: fmt.Errorf("save c1: %w", actors.ErrFenced), want: conversation.CodeFenced, is: []error{actors.ErrFenced, conversation.ErrStale}},
		{name: "invalid key", err: conversation.ErrInvalidKey, want: conversation.CodeInvalidKey, is: []error{conversation.ErrInvalidKey}},
		{name: "not found", err: fmt.Errorf("m1: %w", actors.ErrNotFound), want: conversation.CodeNotFound, is: []error{actors.ErrNotFound}},
		{name: "conflict", err: actors.ErrConflict, want: conversation.CodeConflict, is: []error{actors.ErrConflict}},
		{name: "duplicate", err: fmt.Errorf("create: %w", actors.ErrDuplicate), want: conversation.CodeDuplicate, is: []error{actors.ErrDuplicate}},
		{name: "store unavailable", err: fmt.Errorf("save: %w", actors.ErrUnavailable), want: conversation.CodeUnavailable, is: []error{actors.ErrUnavailable}},
		{name: "store timeout", err: fmt.Errorf("save: %w", context.DeadlineExceeded), want: conversation.CodeUnavailable, is: []error{actors.ErrUnavailable}},
		{name: "anything else", err: errors.New("boom"), want: conversation.CodeInternal},
	}
	sentinels := []error{conversation.ErrClosed, conversation.ErrOutsideWindow, conversation.ErrQueueUnavailable, conversation.ErrStale,
		conversation.ErrInvalidKey, conversation.ErrNoAnswer, actors.ErrNotFound, actors.ErrConflict, actors.ErrDuplicate, actors.ErrUnavailable,
		actors.ErrFenced}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := conversation.Failed(tt.err).Failure
			require.NotNil(t, f)
			assert.Equal(t, tt.want, f.Code)
			assert.Equal(t, tt.err.Error(), f.Message)
			for _, s := range sentinels {
				assert.Equal(t, contains(tt.is, s), errors.Is(f, s), "errors.Is(%q, %q)", f.Code, s)
			}
		})
	}
	assert.Nil(t, conversation.Failed(nil).Failure, "success")
}

func contains(errs []error, target error) bool {
	for _, e := range errs {
		if e == target {
			return true
		}
	}
	return false
}

// reply is a Reply answered at once.
type reply struct {
	v   any
	err error
}

func (r reply) Result() (any, error) { return r.v, r.err }

// fixedDirectory answers every request with its reply.
type fixedDirectory struct{ r reply }

func (d fixedDirectory) Send(conversation.Key, conversation.Command) {}

func (d fixedDirectory) Request(conversation.Key, conversation.Command, time.Duration) conversation.Reply {
	return d.r
}

func TestAskTellsAnAnswerFromNoAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply reply
		// wantNoAnswer: the directory brought no answer back.
		wantNoAnswer bool
		// wantIs is a sentinel the error must match; nil for success.
		wantIs error
	}{
		{name: "answered", reply: reply{v: conversation.Result{Duplicate: true}}},
		{name: "answered with a failure", reply: reply{v: conversation.Failed(conversation.ErrClosed)}, wantIs: conversation.ErrClosed},
		{name: "timed out", reply: reply{err: actor.ErrTimeout}, wantNoAnswer: true, wantIs: actors.ErrUnavailable},
		{name: "not delivered", reply: reply{err: actor.ErrDeadLetter}, wantNoAnswer: true, wantIs: actors.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := conversation.Ask(fixedDirectory{r: tt.reply}, key, conversation.Tick{}, time.Second)
			if tt.wantIs == nil {
				require.NoError(t, err)
				assert.True(t, res.Duplicate)
				return
			}
			require.ErrorIs(t, err, tt.wantIs)
			assert.Equal(t, tt.wantNoAnswer, errors.Is(err, conversation.ErrNoAnswer))
			var f *conversation.Failure
			assert.Equal(t, !tt.wantNoAnswer, errors.As(err, &f), "an answer's failure is a *Failure")
			if tt.wantNoAnswer {
				assert.ErrorIs(t, err, tt.reply.err, "the transport's error is kept")
			}
		})
	}

	_, err := conversation.Ask(fixedDirectory{r: reply{v: "not a result"}}, key, conversation.Tick{}, time.Second)
	require.Error(t, err)
	assert.NotErrorIs(t, err, conversation.ErrNoAnswer)
}

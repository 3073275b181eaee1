package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// fillValue sets every exported field reachable from v (a pointer) to a
// distinct non-zero value: strings, numbers, bools, times (UTC, with
// nanoseconds), bytes (JSON with spaces and an escaped '<', which JSON
// re-encoding would change), pointers, slices of two elements and maps.
// A field the codec dropped shows up as a difference.
func fillValue(t *testing.T, v reflect.Value, n *int) {
	t.Helper()
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillValue(t, v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 12, 6, 15, 4, 5, 123456789+*n, time.UTC)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillValue(t, v.Field(i), n)
			}
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d/ü", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 100))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(fmt.Appendf(nil, `{ "n" : %d, "html": "<b>\u003c" }`, *n))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillValue(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillValue(t, k, n)
		fillValue(t, e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		t.Fatalf("fill: field of kind %s (%s) cannot cross a wire", v.Kind(), v.Type())
	}
}

func filled[T any](t *testing.T) T {
	t.Helper()
	var v T
	n := 0
	fillValue(t, reflect.ValueOf(&v).Elem(), &n)
	return v
}

// overTheWire sends cmd as a node does: into an envelope, through
// protobuf's bytes (what protoactor's remote sends), and out again.
func overTheWire(t testing.TB, cmd conversation.Command) (conversation.Command, error) {
	t.Helper()
	env := &Envelope{MessageId: "m1", PhoneNumberId: "1", WaId: "2", WantAnswer: true}
	if err := setCommand(env, cmd); err != nil {
		return nil, err
	}
	b, err := proto.Marshal(env)
	require.NoError(t, err)
	var got Envelope
	require.NoError(t, proto.Unmarshal(b, &got))
	return commandOf(&got)
}

// resultOverTheWire sends an actor's answer as a router does, in an Answer.
func resultOverTheWire(t testing.TB, answer any) (conversation.Result, error) {
	t.Helper()
	w, err := wireResult(answer)
	if err != nil {
		return conversation.Result{}, err
	}
	b, err := proto.Marshal(&Answer{MessageId: "m1", Result: w})
	require.NoError(t, err)
	var got Answer
	require.NoError(t, proto.Unmarshal(b, &got))
	require.NotNil(t, got.GetResult())
	return resultOf(got.GetResult()), nil
}

func TestCodecRoundTripsEveryCommand(t *testing.T) {
	cases := []struct {
		name string
		cmd  conversation.Command
	}{
		{name: "inbound", cmd: filled[conversation.Inbound](t)},
		{name: "status changed", cmd: filled[conversation.StatusChanged](t)},
		{name: "statuses changed", cmd: filled[conversation.StatusesChanged](t)},
		{name: "tick", cmd: conversation.Tick{}},
		{name: "close", cmd: filled[conversation.Close](t)},
		{name: "assign", cmd: filled[conversation.Assign](t)},
		{name: "mark read", cmd: filled[conversation.MarkRead](t)},
		{name: "send", cmd: filled[conversation.Send](t)},
		{name: "send of the highest priority", cmd: conversation.Send{MessageID: "m", Priority: 255}},
		{name: "send outcome", cmd: filled[conversation.SendOutcome](t)},
		{name: "send outcome without error", cmd: conversation.SendOutcome{MessageID: "m1", Status: actors.StatusSent}},
		{name: "inbound of zero times and nil bytes", cmd: conversation.Inbound{Msg: actors.InboundMessage{WaID: "91", Type: "text"}}},
		{name: "inbound of empty bytes and an empty context", cmd: conversation.Inbound{Msg: actors.InboundMessage{WaID: "91",
			Content: json.RawMessage{}, Raw: json.RawMessage{}, Referral: json.RawMessage{}, Context: &actors.MessageContext{},
			Errors: []actors.WhatsAppError{{}}}}},
		{name: "statuses changed, none", cmd: conversation.StatusesChanged{}},
		{name: "status of an empty pricing", cmd: conversation.StatusChanged{Update: actors.StatusUpdate{Pricing: &actors.Pricing{}}}},
		{name: "zero commands", cmd: conversation.Send{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := overTheWire(t, tc.cmd)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(tc.cmd, got), "round trip changed the command:\nsent %#v\ngot  %#v", tc.cmd, got)
		})
	}
}

// TestCodecKeepsBytesTimesAndErrorsExactly: raw JSON keeps its spacing and
// escapes, nil and empty bytes stay apart, a time keeps its instant and
// offset, and a *WhatsAppError is still a separate value after decoding.
func TestCodecKeepsBytesTimesAndErrorsExactly(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 12, 6, 21, 0, 0, 999999999, ist)
	raw := json.RawMessage("{\n  \"body\" : \"<hi> & \\u00e9\"\n}")
	cmd := conversation.Inbound{Msg: actors.InboundMessage{Timestamp: at, Raw: raw, Content: json.RawMessage{},
		Errors: []actors.WhatsAppError{{Code: 131051, Title: "Unsupported"}}}}
	got, err := overTheWire(t, cmd)
	require.NoError(t, err)
	in := got.(conversation.Inbound)
	require.Equal(t, string(raw), string(in.Msg.Raw), "raw JSON byte for byte")
	require.NotNil(t, in.Msg.Content, "empty stays empty")
	require.Empty(t, in.Msg.Content)
	require.Nil(t, in.Msg.Referral, "nil stays nil")
	require.True(t, at.Equal(in.Msg.Timestamp), "same instant")
	_, offset := in.Msg.Timestamp.Zone()
	require.Equal(t, 5*3600+1800, offset, "same zone offset")
	require.Equal(t, at.Nanosecond(), in.Msg.Timestamp.Nanosecond())

	for _, at := range []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),         // before Unix nanoseconds can count
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), // after
		time.Date(1969, 12, 31, 23, 59, 59, 5, time.UTC), // before the epoch, with nanoseconds
		time.Date(2026, 3, 1, 2, 3, 4, 5, time.Local),    // Local stays Local
		time.Date(2026, 3, 1, 2, 3, 4, 5, time.FixedZone("", -9*3600-1800)),
	} {
		got, err := overTheWire(t, conversation.Send{Deadline: at})
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(at, got.(conversation.Send).Deadline), "sent %v, got %v", at, got.(conversation.Send).Deadline)
	}
	monotonic := time.Now()
	got, err = overTheWire(t, conversation.Send{Deadline: monotonic})
	require.NoError(t, err)
	require.True(t, monotonic.Equal(got.(conversation.Send).Deadline), "a monotonic reading is dropped, the instant kept")

	outcome := conversation.SendOutcome{MessageID: "m", Error: &actors.WhatsAppError{Code: 131047, Kind: "window", Reason: "24h"}, WindowClosed: true}
	got, err = overTheWire(t, outcome)
	require.NoError(t, err)
	require.Equal(t, *outcome.Error, *got.(conversation.SendOutcome).Error)
	require.NotSame(t, outcome.Error, got.(conversation.SendOutcome).Error)
}

// allCodes is every failure code of package conversation with the
// sentinels errors.Is must match for it after decoding.
var allCodes = []struct {
	code     conversation.Code
	sentinel []error
}{
	{code: conversation.CodeClosed, sentinel: []error{conversation.ErrClosed}},
	{code: conversation.CodeOutsideWindow, sentinel: []error{conversation.ErrOutsideWindow}},
	{code: conversation.CodeQueueUnavailable, sentinel: []error{conversation.ErrQueueUnavailable, actors.ErrUnavailable}},
	{code: conversation.CodeStale, sentinel: []error{conversation.ErrStale}},
	{code: conversation.CodeFenced, sentinel: []error{actors.ErrFenced, conversation.ErrStale}},
	{code: conversation.CodeParked, sentinel: []error{conversation.ErrParked, actors.ErrUnavailable}},
	{code: conversation.CodeInvalidKey, sentinel: []error{conversation.ErrInvalidKey}},
	{code: conversation.CodeNotFound, sentinel: []error{actors.ErrNotFound}},
	{code: conversation.CodeConflict, sentinel: []error{actors.ErrConflict}},
	{code: conversation.CodeDuplicate, sentinel: []error{actors.ErrDuplicate}},
	{code: conversation.CodeUnavailable, sentinel: []error{actors.ErrUnavailable}},
	{code: conversation.CodeInternal},
}

func TestCodecRoundTripsResultsOfEveryFailureCode(t *testing.T) {
	full := filled[conversation.Result](t)
	for _, tc := range allCodes {
		t.Run(string(tc.code), func(t *testing.T) {
			sent := full
			sent.Failure = &conversation.Failure{Code: tc.code, Message: "store conversation c1: " + string(tc.code)}
			got, err := resultOverTheWire(t, sent)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(sent, got), "round trip changed the result:\nsent %#v\ngot  %#v", sent, got)
			_, askErr := conversation.Await(conversation.Key{PhoneNumberID: "1", WaID: "2"}, fixedReply{v: got})
			for _, s := range tc.sentinel {
				require.ErrorIs(t, askErr, s)
			}
			require.NotErrorIs(t, askErr, conversation.ErrNoAnswer)
			if tc.code == conversation.CodeInternal {
				for _, s := range []error{conversation.ErrClosed, actors.ErrUnavailable, actors.ErrNotFound} {
					require.False(t, errors.Is(askErr, s), "internal matches %v", s)
				}
			}
		})
	}
	t.Run("every code is listed", func(t *testing.T) {
		// Failed classifies each sentinel into its code; a code added to
		// package conversation without a line above fails here when its
		// sentinel is one of these.
		listed := map[conversation.Code]bool{}
		for _, tc := range allCodes {
			listed[tc.code] = true
		}
		for _, err := range []error{conversation.ErrClosed, conversation.ErrOutsideWindow, conversation.ErrQueueUnavailable,
			conversation.ErrStale, actors.ErrFenced, conversation.ErrParked, conversation.ErrInvalidKey, actors.ErrNotFound,
			actors.ErrConflict, actors.ErrDuplicate, actors.ErrUnavailable, errors.New("other")} {
			require.True(t, listed[conversation.Failed(err).Failure.Code], "code of %v", err)
		}
	})
	t.Run("success", func(t *testing.T) {
		got, err := resultOverTheWire(t, full)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(full, got))
	})
	t.Run("zero result", func(t *testing.T) {
		got, err := resultOverTheWire(t, conversation.Result{})
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(conversation.Result{}, got))
	})
	t.Run("a code this node does not know matches nothing", func(t *testing.T) {
		got, err := resultOverTheWire(t, conversation.Result{Failure: &conversation.Failure{Code: "from_the_future", Message: "x"}})
		require.NoError(t, err)
		require.Equal(t, conversation.Code("from_the_future"), got.Failure.Code)
		require.False(t, errors.Is(got.Failure, actors.ErrUnavailable))
	})
}

func TestCodecRefusesWhatItCannotCarry(t *testing.T) {
	_, err := commandOf(&Envelope{MessageId: "m1"})
	require.ErrorIs(t, err, ErrUnknownCommand, "an envelope without a command")
	_, err = commandOf(&Envelope{MessageId: "m1", Command: &Envelope_Ping{Ping: &WirePing{}}})
	require.ErrorIs(t, err, ErrUnknownCommand, "a ping is not a command")
	env := &Envelope{MessageId: "m1"}
	require.ErrorIs(t, setCommand(env, nil), ErrUnknownCommand)

	err = setCommand(env, conversation.Send{MessageID: "m1", Text: "bad \xff byte"})
	require.ErrorContains(t, err, "send.text is not valid UTF-8")
	require.Nil(t, env.GetCommand(), "nothing half-encoded is left")

	_, err = wireResult("a string")
	require.Error(t, err)
	_, err = wireResult(conversation.Result{Conversation: actors.Conversation{ID: "\xc3"}})
	require.ErrorContains(t, err, "conversation.id is not valid UTF-8")

	// A failure's message is for logs: made valid rather than refused.
	got, err := resultOverTheWire(t, conversation.Failed(fmt.Errorf("read %s: %w", "\xff", actors.ErrNotFound)))
	require.NoError(t, err)
	require.ErrorIs(t, got.Failure, actors.ErrNotFound)
	require.Contains(t, got.Failure.Message, "\uFFFD")
}

// fixedReply is a Reply that answers v.
type fixedReply struct{ v any }

func (r fixedReply) Result() (any, error) { return r.v, nil }

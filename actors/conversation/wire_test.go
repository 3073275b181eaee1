package conversation

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
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

func TestWireRoundTripsEveryCommand(t *testing.T) {
	cases := []struct {
		name string
		kind string
		cmd  Command
	}{
		{name: "inbound", kind: wireInbound, cmd: filled[Inbound](t)},
		{name: "status changed", kind: wireStatusChanged, cmd: filled[StatusChanged](t)},
		{name: "statuses changed", kind: wireStatusesChanged, cmd: filled[StatusesChanged](t)},
		{name: "tick", kind: wireTick, cmd: Tick{}},
		{name: "close", kind: wireClose, cmd: filled[Close](t)},
		{name: "assign", kind: wireAssign, cmd: filled[Assign](t)},
		{name: "mark read", kind: wireMarkRead, cmd: filled[MarkRead](t)},
		{name: "send", kind: wireSend, cmd: filled[Send](t)},
		{name: "send outcome", kind: wireSendOutcome, cmd: filled[SendOutcome](t)},
		{name: "send outcome without error", kind: wireSendOutcome, cmd: SendOutcome{MessageID: "m1", Status: actors.StatusSent}},
		{name: "inbound of zero times and nil bytes", kind: wireInbound, cmd: Inbound{Msg: actors.InboundMessage{WaID: "91", Type: "text"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kind, payload, err := EncodeCommand(tc.cmd)
			require.NoError(t, err)
			require.Equal(t, tc.kind, kind)
			got, err := DecodeCommand(kind, payload)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(tc.cmd, got), "round trip changed the command:\nsent %#v\ngot  %#v", tc.cmd, got)
		})
	}
}

// TestWireKeepsBytesTimesAndErrorsExactly: raw JSON keeps its spacing and
// escapes, a time keeps its instant and offset, and a *WhatsAppError is
// still a separate value after decoding.
func TestWireKeepsBytesTimesAndErrorsExactly(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	at := time.Date(2026, 12, 6, 21, 0, 0, 999999999, ist)
	raw := json.RawMessage("{\n  \"body\" : \"<hi> & \\u00e9\"\n}")
	cmd := Inbound{Msg: actors.InboundMessage{Timestamp: at, Raw: raw, Content: json.RawMessage(`{}`),
		Errors: []actors.WhatsAppError{{Code: 131051, Title: "Unsupported"}}}}
	kind, payload, err := EncodeCommand(cmd)
	require.NoError(t, err)
	got, err := DecodeCommand(kind, payload)
	require.NoError(t, err)
	in := got.(Inbound)
	require.Equal(t, string(raw), string(in.Msg.Raw), "raw JSON byte for byte")
	require.True(t, at.Equal(in.Msg.Timestamp), "same instant")
	_, offset := in.Msg.Timestamp.Zone()
	require.Equal(t, 5*3600+1800, offset, "same zone offset")
	require.Equal(t, at.Nanosecond(), in.Msg.Timestamp.Nanosecond())

	outcome := SendOutcome{MessageID: "m", Error: &actors.WhatsAppError{Code: 131047, Kind: "window", Reason: "24h"}, WindowClosed: true}
	kind, payload, err = EncodeCommand(outcome)
	require.NoError(t, err)
	got, err = DecodeCommand(kind, payload)
	require.NoError(t, err)
	require.Equal(t, *outcome.Error, *got.(SendOutcome).Error)
	require.NotSame(t, outcome.Error, got.(SendOutcome).Error)
}

func TestWireRoundTripsResultsOfEveryFailureCode(t *testing.T) {
	full := filled[Result](t)
	cases := []struct {
		name     string
		code     Code
		sentinel []error // what errors.Is must still match after decoding
	}{
		{name: "closed", code: CodeClosed, sentinel: []error{ErrClosed}},
		{name: "outside window", code: CodeOutsideWindow, sentinel: []error{ErrOutsideWindow}},
		{name: "queue unavailable", code: CodeQueueUnavailable, sentinel: []error{ErrQueueUnavailable, actors.ErrUnavailable}},
		{name: "stale", code: CodeStale, sentinel: []error{ErrStale}},
		{name: "parked", code: CodeParked, sentinel: []error{ErrParked, actors.ErrUnavailable}},
		{name: "invalid key", code: CodeInvalidKey, sentinel: []error{ErrInvalidKey}},
		{name: "not found", code: CodeNotFound, sentinel: []error{actors.ErrNotFound}},
		{name: "conflict", code: CodeConflict, sentinel: []error{actors.ErrConflict}},
		{name: "duplicate", code: CodeDuplicate, sentinel: []error{actors.ErrDuplicate}},
		{name: "unavailable", code: CodeUnavailable, sentinel: []error{actors.ErrUnavailable}},
		{name: "internal", code: CodeInternal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent := full
			sent.Failure = &Failure{Code: tc.code, Message: "store conversation c1: " + string(tc.code)}
			b, err := EncodeResult(sent)
			require.NoError(t, err)
			got, err := DecodeResult(b)
			require.NoError(t, err)
			require.True(t, reflect.DeepEqual(sent, got), "round trip changed the result:\nsent %#v\ngot  %#v", sent, got)
			_, askErr := Await(Key{PhoneNumberID: "1", WaID: "2"}, fixedReply{v: got})
			for _, s := range tc.sentinel {
				require.ErrorIs(t, askErr, s)
			}
			require.NotErrorIs(t, askErr, ErrNoAnswer)
			if tc.code == CodeInternal {
				for _, s := range []error{ErrClosed, actors.ErrUnavailable, actors.ErrNotFound} {
					require.False(t, errors.Is(askErr, s), "internal matches %v", s)
				}
			}
		})
	}
	t.Run("success", func(t *testing.T) {
		b, err := EncodeResult(full)
		require.NoError(t, err)
		got, err := DecodeResult(b)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(full, got))
	})
	t.Run("inbound answer travels as its result", func(t *testing.T) {
		ans := inboundAnswer{Conversation: full.Conversation, Duplicate: true, Failure: &Failure{Code: CodeStale, Message: "x"}}
		b, err := EncodeResult(ans)
		require.NoError(t, err)
		got, err := DecodeResult(b)
		require.NoError(t, err)
		require.Equal(t, Result{Conversation: ans.Conversation, Duplicate: true, Failure: ans.Failure}, got)
	})
}

func TestWireRefusesWhatItDoesNotKnow(t *testing.T) {
	_, err := DecodeCommand("teleport", nil)
	require.ErrorIs(t, err, ErrUnknownCommand)
	_, err = DecodeCommand(wireSend, []byte("not gob"))
	require.Error(t, err)
	_, err = EncodeResult("a string")
	require.Error(t, err)
	_, err = DecodeResult([]byte{1, 2, 3})
	require.Error(t, err)
}

// fixedReply is a Reply that answers v.
type fixedReply struct{ v any }

func (r fixedReply) Result() (any, error) { return r.v, nil }

func BenchmarkWireSend(b *testing.B) {
	cmd := Send{MessageID: "m-1", Type: "text", Text: "hello there", Content: json.RawMessage(`{"body":"hello there"}`),
		Body:     json.RawMessage(`{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"hello there"}}`),
		ByUserID: "u1", Deadline: time.Now().UTC()}
	b.ReportAllocs()
	for b.Loop() {
		kind, payload, err := EncodeCommand(cmd)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeCommand(kind, payload); err != nil {
			b.Fatal(err)
		}
	}
}

package cluster

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/wacc/engine/actors/conversation"
)

// randomFill sets v (a pointer's element) to random-ish values: each
// pointer nil or not, each byte slice nil, empty or filled; strings of random
// runes (valid UTF-8, as JSON-decoded text is); integers over their whole
// range; lists nil or not empty (an empty list arrives nil); times zero, in UTC, in Local or in a fixed zone whose offset is
// not Local's (which would decode as Local), with nanoseconds.
func randomFill(t testing.TB, r *rand.Rand, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		randomFill(t, r, v.Elem())
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(randomTime(r)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				randomFill(t, r, v.Field(i))
			}
		}
	case reflect.String:
		var b strings.Builder
		for range r.IntN(12) {
			switch r.IntN(4) {
			case 0:
				b.WriteRune(rune(r.IntN(0x80)))
			case 1:
				b.WriteRune(rune(0x80 + r.IntN(0xD800-0x80)))
			case 2:
				b.WriteRune(rune(0xE000 + r.IntN(0x110000-0xE000)))
			default:
				b.WriteString("ü")
			}
		}
		v.SetString(b.String())
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := int64(r.Uint64())
		if r.IntN(2) == 0 {
			n = int64(r.IntN(200)) - 100
		}
		v.SetInt(n)
		if v.Int() != n { // a narrower int: its own range
			v.SetInt(n % (1 << (v.Type().Bits() - 1)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64() >> (64 - v.Type().Bits()))
	case reflect.Slice:
		switch r.IntN(3) {
		case 0:
			return
		case 1:
			// An empty list arrives nil (protobuf has no empty repeated
			// field; nothing tells them apart); empty bytes stay empty.
			if v.Type().Elem().Kind() == reflect.Uint8 {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		s := reflect.MakeSlice(v.Type(), 1+r.IntN(3), 3)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, r.IntN(64))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			v.SetBytes(b)
			return
		}
		for i := 0; i < s.Len(); i++ {
			randomFill(t, r, s.Index(i))
		}
		v.Set(s)
	default:
		t.Fatalf("random fill: field of kind %s (%s) cannot cross a wire", v.Kind(), v.Type())
	}
}

func randomTime(r *rand.Rand) time.Time {
	if r.IntN(4) == 0 {
		return time.Time{}
	}
	// From year 1 to year 9999.
	t := time.Unix(-62135596800+r.Int64N(315537897600), r.Int64N(1e9))
	switch r.IntN(3) {
	case 0:
		return t.UTC()
	case 1:
		return t.Local()
	}
	_, local := t.Zone()
	offset := (r.IntN(57) - 28) * 1800
	if offset == local {
		offset += 900
	}
	return t.In(time.FixedZone("", offset))
}

func randomCommand(t testing.TB, r *rand.Rand) conversation.Command {
	t.Helper()
	var cmd conversation.Command
	switch r.IntN(9) {
	case 0:
		cmd = &conversation.Inbound{}
	case 1:
		cmd = &conversation.StatusChanged{}
	case 2:
		cmd = &conversation.StatusesChanged{}
	case 3:
		return conversation.Tick{}
	case 4:
		cmd = &conversation.Close{}
	case 5:
		cmd = &conversation.Assign{}
	case 6:
		cmd = &conversation.MarkRead{}
	case 7:
		cmd = &conversation.Send{}
	default:
		cmd = &conversation.SendOutcome{}
	}
	v := reflect.ValueOf(cmd).Elem()
	randomFill(t, r, v)
	return v.Interface().(conversation.Command)
}

// TestCodecRoundTripsRandomCommands: thousands of random-ish commands
// and results cross the wire unchanged (the same seeds every run).
func TestCodecRoundTripsRandomCommands(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	for i := 0; i < 3000; i++ {
		cmd := randomCommand(t, r)
		got, err := overTheWire(t, cmd)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(cmd, got), "command %d changed:\nsent %#v\ngot  %#v", i, cmd, got)

		var res conversation.Result
		randomFill(t, r, reflect.ValueOf(&res).Elem())
		gotRes, err := resultOverTheWire(t, res)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(res, gotRes), "result %d changed:\nsent %#v\ngot  %#v", i, res, gotRes)
	}
}

// FuzzDecodeEnvelope: any bytes a peer sends either fail to decode or
// decode to a command that crosses the wire again unchanged; nothing
// panics.
func FuzzDecodeEnvelope(f *testing.F) {
	r := rand.New(rand.NewPCG(6, 12))
	for range 20 {
		env := &Envelope{MessageId: "m1"}
		if err := setCommand(env, randomCommand(f, r)); err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(env)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	inbound, _ := proto.Marshal(&Envelope{MessageId: "m2", Command: &Envelope_Inbound{Inbound: &WireInbound{Msg: &WireInboundMessage{
		WaId: "91", Content: []byte{}, Raw: json.RawMessage(`{"a": 1}`), Timestamp: &WireTime{Seconds: -1, Nanos: 2e9, Offset: 19800},
		Errors: []*WireWhatsAppError{{Code: 1 << 40}}}}}})
	f.Add(inbound)
	f.Fuzz(func(t *testing.T, b []byte) {
		var env Envelope
		if proto.Unmarshal(b, &env) != nil {
			return
		}
		cmd, err := commandOf(&env)
		if err != nil {
			return
		}
		again, err := overTheWire(t, cmd)
		require.NoError(t, err)
		require.True(t, reflect.DeepEqual(cmd, again), "decoded %#v\nagain   %#v", cmd, again)
	})
}

package sockets

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSocketIOFrame(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		// eio and sio are the decoded types; data what follows them.
		eio, sio byte
		data     string
		// bad: the frame is refused with ErrSocketIOFrame.
		bad bool
	}{
		{name: "open", frame: `0{"sid":"a"}`, eio: eioOpen, data: `{"sid":"a"}`},
		{name: "ping", frame: `2`, eio: eioPing},
		{name: "pong", frame: `3`, eio: eioPong},
		{name: "ping probe", frame: `2probe`, eio: eioPing, data: "probe"},
		{name: "close", frame: `1`, eio: eioClose},
		{name: "noop", frame: `6`, eio: eioNoop},
		{name: "connect accepted", frame: `40{"sid":"s1"}`, eio: eioMessage, sio: sioConnect, data: `{"sid":"s1"}`},
		{name: "connect refused", frame: `44{"message":"unauthorized"}`, eio: eioMessage, sio: sioConnectError, data: `{"message":"unauthorized"}`},
		{name: "disconnect", frame: `41`, eio: eioMessage, sio: sioDisconnect},
		{name: "event", frame: `42["message",{"a":1}]`, eio: eioMessage, sio: sioEvent, data: `["message",{"a":1}]`},
		{name: "empty", frame: ``, bad: true},
		{name: "unknown engine.io type", frame: `9x`, bad: true},
		{name: "binary engine.io packet", frame: `b4AQID`, bad: true},
		{name: "message without socket.io packet", frame: `4`, bad: true},
		{name: "unknown socket.io type", frame: `48[]`, bad: true},
		{name: "event payload not an array", frame: `42{"a":1}`, bad: true},
		{name: "event with an ack id", frame: `4212["x"]`, eio: eioMessage, sio: sioEvent, data: `["x"]`},
		{name: "another namespace", frame: `40/admin,{"sid":"x"}`, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseSocketIOFrame([]byte(tt.frame))
			if tt.bad {
				require.ErrorIs(t, err, ErrSocketIOFrame)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, string(tt.eio), string(p.eio))
			if tt.sio != 0 {
				assert.Equal(t, string(tt.sio), string(p.sio))
			}
			assert.Equal(t, tt.data, string(p.data))
		})
	}
}

func TestClassifySocketIOFrame(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		want    socketIOFrameOutcome
		payload string
	}{
		{"ping is answered", `2`, sioPong, ""},
		{"event is delivered", `42["message",{"type":"message.created"}]`, sioDeliver, `["message",{"type":"message.created"}]`},
		{"engine.io close ends the socket", `1`, sioClosed, ""},
		{"namespace disconnect ends the socket", `41`, sioClosed, ""},
		{"noop is ignored", `6`, sioIgnore, ""},
		{"a late connect is ignored", `40{"sid":"x"}`, sioIgnore, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, payload, err := classifySocketIOFrame([]byte(tt.frame))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.payload, string(payload))
		})
	}
	_, _, err := classifySocketIOFrame([]byte(`x`))
	require.ErrorIs(t, err, ErrSocketIOFrame)
}

func TestParseSocketIOOpen(t *testing.T) {
	o, err := parseSocketIOOpen([]byte(`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	require.NoError(t, err)
	assert.Equal(t, sioOpen{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}, o)

	for name, frame := range map[string]string{
		"not an open packet": `40{"sid":"x"}`,
		"no sid":             `0{"pingInterval":1,"pingTimeout":1}`,
		"no ping timing":     `0{"sid":"x"}`,
		"not json":           `0sid`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseSocketIOOpen([]byte(frame))
			require.ErrorIs(t, err, ErrSocketIOFrame)
		})
	}
}

func TestSocketIOConnectFrameCarriesAVerifiableToken(t *testing.T) {
	tok, err := socketIOToken("s3cret", "agent-7", "agent")
	require.NoError(t, err)
	frame := socketIOConnectFrame(tok)
	p, err := parseSocketIOFrame(frame)
	require.NoError(t, err)
	require.Equal(t, string(sioConnect), string(p.sio))
	var auth struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(p.data, &auth))

	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(auth.Token, claims, func(*jwt.Token) (any, error) { return []byte("s3cret"), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	assert.Equal(t, "agent-7", claims["sub"])
	assert.Equal(t, "agent", claims["role"])
	_, err = jwt.Parse(auth.Token, func(*jwt.Token) (any, error) { return []byte("other"), nil })
	require.Error(t, err, "signed with the peer's secret only")
}

func TestSocketIOURL(t *testing.T) {
	u, err := socketIOURL("http://127.0.0.1:4000")
	require.NoError(t, err)
	assert.Equal(t, "ws://127.0.0.1:4000/socket.io/?EIO=4&transport=websocket", u)
	u, err = socketIOURL("https://peer.example.com/base/")
	require.NoError(t, err)
	assert.Equal(t, "wss://peer.example.com/base/socket.io/?EIO=4&transport=websocket", u)
	_, err = socketIOURL("ftp://x")
	require.Error(t, err)
}

func TestSocketIOInjectIsAMessageCreatedEvent(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	body := socketIOInject("run1", "agent-3", 3, 42, at)
	var m struct {
		Agent string          `json:"agent"`
		Event json.RawMessage `json:"event"`
	}
	require.NoError(t, json.Unmarshal(body, &m))
	assert.Equal(t, "agent-3", m.Agent)

	// What a socket receives once the peer emits it as "message".
	payload := append(append([]byte(`["message",`), m.Event...), ']')
	seq, sent, ok := parseMarker(payload)
	require.True(t, ok, "the fanout frame handler finds the marker: %s", payload)
	assert.Equal(t, int64(42), seq)
	assert.True(t, sent.Equal(at))
}

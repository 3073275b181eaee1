package sockets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// The Socket.IO peer's sockets speak Engine.IO v4 and Socket.IO v5 over
// the websocket transport only: every WebSocket text frame is one
// Engine.IO packet, its first byte the packet type; a "message" packet
// carries one Socket.IO packet, whose type is the next byte. Only the main
// namespace ("/") is used, so no namespace follows the types.
//
//	server: 0{"sid":"…","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}   open
//	client: 40{"token":"…"}          CONNECT to "/" with the auth payload
//	server: 40{"sid":"…"}            CONNECT accepted (44{"message":"…"}: refused)
//	server: 42["message",{…}]        EVENT
//	server: 2   client: 3            ping, pong (Engine.IO v4: the server pings)

// Engine.IO v4 packet types.
const (
	eioOpen    byte = '0'
	eioClose   byte = '1'
	eioPing    byte = '2'
	eioPong    byte = '3'
	eioMessage byte = '4'
	eioUpgrade byte = '5'
	eioNoop    byte = '6'
)

// Socket.IO v5 packet types, inside an Engine.IO message.
const (
	sioConnect      byte = '0'
	sioDisconnect   byte = '1'
	sioEvent        byte = '2'
	sioAck          byte = '3'
	sioConnectError byte = '4'
)

// Errors of the Socket.IO handshake and framing.
var (
	// ErrSocketIOFrame is wrapped when a frame is not a well-formed
	// Engine.IO v4 / Socket.IO v5 packet of the main namespace.
	ErrSocketIOFrame = errors.New("malformed socket.io frame")
	// ErrSocketIORefused is wrapped when the server answers the namespace
	// CONNECT with CONNECT_ERROR (its middleware refused the token).
	ErrSocketIORefused = errors.New("socket.io connect refused")
)

// sioPacket is one decoded frame: the Engine.IO type, for a message the
// Socket.IO type, and what follows the type bytes (JSON for open, CONNECT,
// CONNECT_ERROR and EVENT; empty for a plain ping or pong).
type sioPacket struct {
	eio, sio byte
	data     []byte
}

// parseSocketIOFrame decodes one WebSocket text frame. data aliases frame.
func parseSocketIOFrame(frame []byte) (sioPacket, error) {
	if len(frame) == 0 {
		return sioPacket{}, fmt.Errorf("%w: empty frame", ErrSocketIOFrame)
	}
	p := sioPacket{eio: frame[0], data: frame[1:]}
	switch p.eio {
	case eioOpen, eioClose, eioPing, eioPong, eioUpgrade, eioNoop:
		return p, nil
	case eioMessage:
	default:
		return sioPacket{}, fmt.Errorf("%w: engine.io type %q in %.40q", ErrSocketIOFrame, p.eio, frame)
	}
	if len(p.data) == 0 {
		return sioPacket{}, fmt.Errorf("%w: message without a socket.io packet", ErrSocketIOFrame)
	}
	p.sio, p.data = p.data[0], p.data[1:]
	switch p.sio {
	case sioConnect, sioDisconnect, sioConnectError:
	case sioEvent, sioAck:
		// An ack id may precede the payload; the peer never asks for acks,
		// so it is skipped.
		for len(p.data) > 0 && p.data[0] >= '0' && p.data[0] <= '9' {
			p.data = p.data[1:]
		}
		if len(p.data) == 0 || p.data[0] != '[' {
			return sioPacket{}, fmt.Errorf("%w: event payload is not an array: %.40q", ErrSocketIOFrame, frame)
		}
	default:
		return sioPacket{}, fmt.Errorf("%w: socket.io type %q in %.40q", ErrSocketIOFrame, p.sio, frame)
	}
	if len(p.data) > 0 && p.data[0] == '/' {
		return sioPacket{}, fmt.Errorf("%w: namespace other than \"/\": %.40q", ErrSocketIOFrame, frame)
	}
	return p, nil
}

// sioOpen is the handshake data of the Engine.IO open packet.
type sioOpen struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// parseSocketIOOpen decodes the first frame of a websocket-only session.
func parseSocketIOOpen(frame []byte) (sioOpen, error) {
	p, err := parseSocketIOFrame(frame)
	if err != nil {
		return sioOpen{}, err
	}
	if p.eio != eioOpen {
		return sioOpen{}, fmt.Errorf("%w: first frame is not open: %.40q", ErrSocketIOFrame, frame)
	}
	var o sioOpen
	if err := json.Unmarshal(p.data, &o); err != nil {
		return sioOpen{}, fmt.Errorf("%w: open handshake: %w", ErrSocketIOFrame, err)
	}
	if o.SID == "" || o.PingInterval <= 0 || o.PingTimeout <= 0 {
		return sioOpen{}, fmt.Errorf("%w: open handshake without sid or ping timing: %.120q", ErrSocketIOFrame, frame)
	}
	return o, nil
}

// socketIOConnectFrame is the CONNECT to "/" carrying the auth token, as
// socket.io-client sends io(url, {auth: {token}}).
func socketIOConnectFrame(token string) []byte {
	b, _ := json.Marshal(struct {
		Token string `json:"token"`
	}{token})
	return append([]byte{eioMessage, sioConnect}, b...)
}

// pongFrame answers the server's ping.
var pongFrame = []byte{eioPong}

// socketIOURL is the websocket-only Engine.IO URL of a Socket.IO server at
// baseURL (http://host:port).
func socketIOURL(baseURL string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("parse socket.io peer %q: %w", baseURL, err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("socket.io peer %q: scheme must be http or https", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String(), nil
}

// socketIOHandshake reads the open packet, connects to the main namespace
// with token and waits for the server's CONNECT, answering pings on the
// way.
func socketIOHandshake(ctx context.Context, c *websocket.Conn, token string) error {
	_, b, err := c.Read(ctx)
	if err != nil {
		return fmt.Errorf("read socket.io open: %w", err)
	}
	if _, err := parseSocketIOOpen(b); err != nil {
		return err
	}
	if err := c.Write(ctx, websocket.MessageText, socketIOConnectFrame(token)); err != nil {
		return fmt.Errorf("send socket.io connect: %w", err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return fmt.Errorf("read socket.io connect: %w", err)
		}
		p, err := parseSocketIOFrame(b)
		if err != nil {
			return err
		}
		switch {
		case p.eio == eioPing:
			if err := c.Write(ctx, websocket.MessageText, pongFrame); err != nil {
				return fmt.Errorf("answer socket.io ping: %w", err)
			}
		case p.eio == eioMessage && p.sio == sioConnect:
			return nil
		case p.eio == eioMessage && p.sio == sioConnectError:
			return fmt.Errorf("%w: %.200s", ErrSocketIORefused, p.data)
		default:
			return fmt.Errorf("%w: unexpected %.40q before connect", ErrSocketIOFrame, b)
		}
	}
}

// socketIOFrameOutcome is what a socket's reader does with one frame.
type socketIOFrameOutcome int

const (
	sioIgnore  socketIOFrameOutcome = iota // nothing (a noop, an ack)
	sioPong                                // answer with pongFrame
	sioDeliver                             // hand the event's payload to the frame handler
	sioClosed                              // the server ended the session or namespace
)

// classifySocketIOFrame says what the reader does with frame; for sioDeliver,
// payload is the event's JSON array (["event",{...}]), aliasing frame.
func classifySocketIOFrame(frame []byte) (socketIOFrameOutcome, []byte, error) {
	p, err := parseSocketIOFrame(frame)
	if err != nil {
		return sioIgnore, nil, err
	}
	switch {
	case p.eio == eioPing:
		return sioPong, nil, nil
	case p.eio == eioClose, p.eio == eioMessage && p.sio == sioDisconnect:
		return sioClosed, nil, nil
	case p.eio == eioMessage && p.sio == sioEvent:
		return sioDeliver, p.data, nil
	}
	return sioIgnore, nil, nil
}

// socketIOToken is the HS256 JWT the Socket.IO peer checks in its
// connection middleware: sub is the agent id, role "agent" or
// "supervisor".
func socketIOToken(secret, agent, role string) (string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": agent, "role": role, "exp": time.Now().Add(24 * time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign socket.io token of %s: %w", agent, err)
	}
	return tok, nil
}

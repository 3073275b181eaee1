package cluster

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// benchCommands are commands as the engine routes them; benchResults the
// answers. The gob codec this one replaced measured the same values
// (bench/README.md, "How cluster measures").
func benchCommands() []struct {
	name string
	cmd  conversation.Command
} {
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	raw := json.RawMessage(`{"from":"919876543210","id":"wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0E2QkQ2RjI0QzE0QjA3QjlDRjUA","timestamp":"1765033445","text":{"body":"Hi, my order has not arrived yet"},"type":"text"}`)
	return []struct {
		name string
		cmd  conversation.Command
	}{
		{name: "inbound", cmd: conversation.Inbound{Msg: actors.InboundMessage{PhoneNumberID: "106540352242922", DisplayPhone: "15550783881",
			WaID: "919876543210", ProfileName: "Asha", WaMessageID: "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhgUM0E2QkQ2RjI0QzE0QjA3QjlDRjUA",
			Type: "text", Timestamp: at, Text: "Hi, my order has not arrived yet", Content: json.RawMessage(`{"body":"Hi, my order has not arrived yet"}`), Raw: raw}}},
		{name: "status changed", cmd: conversation.StatusChanged{Update: actors.StatusUpdate{PhoneNumberID: "106540352242922",
			WaMessageID: "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQjVGRjA0RTI3QjJGMTg0RjQ5AA==", RecipientID: "919876543210", Status: "delivered",
			Timestamp: at, Pricing: &actors.Pricing{Billable: true, Model: "PMP", Category: "utility", Type: "regular"},
			Raw: json.RawMessage(`{"id":"wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQjVGRjA0RTI3QjJGMTg0RjQ5AA==","status":"delivered","timestamp":"1765033445","recipient_id":"919876543210"}`)}}},
		{name: "mark read", cmd: conversation.MarkRead{ConversationID: "c-01JEXAMPLE0000000000000000", ByUserID: "u-01JEXAMPLE0000000000000000"}},
		{name: "send", cmd: conversation.Send{MessageID: "m-1", Type: "text", Text: "hello there", Content: json.RawMessage(`{"body":"hello there"}`),
			Body:     json.RawMessage(`{"messaging_product":"whatsapp","to":"919876543210","type":"text","text":{"body":"hello there"}}`),
			ByUserID: "u1", Deadline: at}},
		{name: "send outcome", cmd: conversation.SendOutcome{MessageID: "m-1", WaMessageID: "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQjVGRjA0RTI3QjJGMTg0RjQ5AA==", Status: "sent"}},
	}
}

func benchResults() []struct {
	name string
	res  conversation.Result
} {
	at := time.Date(2026, 12, 6, 15, 4, 5, 0, time.UTC)
	conv := actors.Conversation{ID: "c-01JEXAMPLE0000000000000000", CustomerID: "cu-01JEXAMPLE000000000000000", PhoneNumberID: "106540352242922",
		WaID: "919876543210", State: "active", AssigneeID: "u-01JEXAMPLE0000000000000000", LastInboundAt: at, ExpiresAt: at.Add(24 * time.Hour),
		NextTimerAt: at.Add(23 * time.Hour), Unread: 1, Seq: 7, Version: 7, CreatedAt: at, UpdatedAt: at}
	return []struct {
		name string
		res  conversation.Result
	}{
		{name: "result of an inbound", res: conversation.Result{Conversation: conv}},
		{name: "result of a send", res: conversation.Result{Conversation: conv, Message: actors.Message{ID: "m-1", ConversationID: conv.ID,
			Direction: "outbound", Type: "text", Text: "hello there", Content: json.RawMessage(`{"body":"hello there"}`), Status: "queued",
			Seq: 8, CreatedAt: at, UpdatedAt: at}}},
		{name: "result of a failure", res: conversation.Failed(conversation.ErrClosed)},
	}
}

// BenchmarkCodec is one command (or answer) across the wire and back:
// encoded into its envelope, marshalled to protobuf bytes, unmarshalled
// and decoded (protoactor's remote does the marshalling between nodes).
func BenchmarkCodec(b *testing.B) {
	for _, tc := range benchCommands() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				env := &Envelope{MessageId: "m1", PhoneNumberId: "1", WaId: "2"}
				if err := setCommand(env, tc.cmd); err != nil {
					b.Fatal(err)
				}
				buf, err := proto.Marshal(env)
				if err != nil {
					b.Fatal(err)
				}
				var got Envelope
				if err := proto.Unmarshal(buf, &got); err != nil {
					b.Fatal(err)
				}
				if _, err := commandOf(&got); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, tc := range benchResults() {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				w, err := wireResult(tc.res)
				if err != nil {
					b.Fatal(err)
				}
				buf, err := proto.Marshal(&Answer{MessageId: "m1", Result: w})
				if err != nil {
					b.Fatal(err)
				}
				var got Answer
				if err := proto.Unmarshal(buf, &got); err != nil {
					b.Fatal(err)
				}
				_ = resultOf(got.GetResult())
			}
		})
	}
}

package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/actors/conversation"
)

// The codec of routed commands: conversation commands and Results to and
// from their protobuf wire forms (command.proto), field by field by
// hand-written code (nothing per message but the values): raw JSON travels byte for byte (nil and empty apart), times
// keep their instant and zone offset, pointers stay nil or become fresh
// values, and a Failure keeps its Code, so errors.Is matches the same
// sentinels on the caller's node. Protobuf matches fields by number and
// skips the ones it does not know, so nodes of two versions exchange the
// fields both know.

// ErrUnknownCommand means an envelope carried no command this node knows
// (a node of another version sent it), or a command had no wire form.
var ErrUnknownCommand = errors.New("unknown conversation command")

// encoder converts Go values to their wire forms and remembers the first
// string that is not valid UTF-8, which proto3 cannot carry.
type encoder struct{ bad string }

func (e *encoder) str(field, v string) string {
	if e.bad == "" && !utf8.ValidString(v) {
		e.bad = field
	}
	return v
}

func (e *encoder) err() error {
	if e.bad == "" {
		return nil
	}
	return fmt.Errorf("%s is not valid UTF-8", e.bad)
}

// setCommand puts cmd's wire form into env.
func setCommand(env *Envelope, cmd conversation.Command) error {
	var e encoder
	switch c := cmd.(type) {
	case conversation.Inbound:
		env.Command = &Envelope_Inbound{Inbound: &WireInbound{Msg: e.inboundMessage(&c.Msg), Redelivery: c.Redelivery}}
	case conversation.StatusChanged:
		env.Command = &Envelope_StatusChanged{StatusChanged: &WireStatusChanged{Update: e.statusUpdate(&c.Update)}}
	case conversation.StatusesChanged:
		w := &WireStatusesChanged{}
		if c.Updates != nil {
			w.Updates = make([]*WireStatusUpdate, len(c.Updates))
			for i := range c.Updates {
				w.Updates[i] = e.statusUpdate(&c.Updates[i])
			}
		}
		env.Command = &Envelope_StatusesChanged{StatusesChanged: w}
	case conversation.Tick:
		env.Command = &Envelope_Tick{Tick: &WireTick{}}
	case conversation.Close:
		env.Command = &Envelope_Close{Close: &WireClose{
			ConversationId: e.str("close.conversation_id", c.ConversationID), ByUserId: e.str("close.by_user_id", c.ByUserID)}}
	case conversation.Assign:
		env.Command = &Envelope_Assign{Assign: &WireAssign{
			ConversationId: e.str("assign.conversation_id", c.ConversationID), AgentId: e.str("assign.agent_id", c.AgentID),
			ByUserId: e.str("assign.by_user_id", c.ByUserID), Auto: c.Auto}}
	case conversation.MarkRead:
		env.Command = &Envelope_MarkRead{MarkRead: &WireMarkRead{
			ConversationId: e.str("mark_read.conversation_id", c.ConversationID), ByUserId: e.str("mark_read.by_user_id", c.ByUserID)}}
	case conversation.Send:
		env.Command = &Envelope_Send{Send: &WireSend{
			MessageId: e.str("send.message_id", c.MessageID), Type: e.str("send.type", c.Type), Text: e.str("send.text", c.Text),
			Content: c.Content, Body: c.Body, Template: c.Template,
			CustomerId: e.str("send.customer_id", c.CustomerID), ByUserId: e.str("send.by_user_id", c.ByUserID),
			AgentId: e.str("send.agent_id", c.AgentID), Priority: uint32(c.Priority), MediaId: e.str("send.media_id", c.MediaID),
			Deadline: wireTime(c.Deadline)}}
	case conversation.SendOutcome:
		env.Command = &Envelope_SendOutcome{SendOutcome: &WireSendOutcome{
			MessageId: e.str("send_outcome.message_id", c.MessageID), WaMessageId: e.str("send_outcome.wa_message_id", c.WaMessageID),
			Status: e.str("send_outcome.status", c.Status), Error: e.whatsAppError(c.Error), WindowClosed: c.WindowClosed}}
	default:
		return fmt.Errorf("encode command %T: %w", cmd, ErrUnknownCommand)
	}
	if err := e.err(); err != nil {
		env.Command = nil
		return fmt.Errorf("encode command %T: %w", cmd, err)
	}
	return nil
}

// commandOf is the command env carries.
func commandOf(env *Envelope) (conversation.Command, error) {
	switch c := env.GetCommand().(type) {
	case *Envelope_Inbound:
		return conversation.Inbound{Msg: inboundMessage(c.Inbound.GetMsg()), Redelivery: c.Inbound.GetRedelivery()}, nil
	case *Envelope_StatusChanged:
		return conversation.StatusChanged{Update: statusUpdate(c.StatusChanged.GetUpdate())}, nil
	case *Envelope_StatusesChanged:
		var cmd conversation.StatusesChanged
		if ws := c.StatusesChanged.GetUpdates(); ws != nil {
			cmd.Updates = make([]actors.StatusUpdate, len(ws))
			for i, w := range ws {
				cmd.Updates[i] = statusUpdate(w)
			}
		}
		return cmd, nil
	case *Envelope_Tick:
		return conversation.Tick{}, nil
	case *Envelope_Close:
		w := c.Close
		return conversation.Close{ConversationID: w.GetConversationId(), ByUserID: w.GetByUserId()}, nil
	case *Envelope_Assign:
		w := c.Assign
		return conversation.Assign{ConversationID: w.GetConversationId(), AgentID: w.GetAgentId(), ByUserID: w.GetByUserId(), Auto: w.GetAuto()}, nil
	case *Envelope_MarkRead:
		w := c.MarkRead
		return conversation.MarkRead{ConversationID: w.GetConversationId(), ByUserID: w.GetByUserId()}, nil
	case *Envelope_Send:
		w := c.Send
		return conversation.Send{MessageID: w.GetMessageId(), Type: w.GetType(), Text: w.GetText(),
			Content: rawJSON(w.GetContent()), Body: rawJSON(w.GetBody()), Template: w.GetTemplate(),
			CustomerID: w.GetCustomerId(), ByUserID: w.GetByUserId(), AgentID: w.GetAgentId(),
			Priority: uint8(w.GetPriority()), MediaID: w.GetMediaId(), Deadline: goTime(w.GetDeadline())}, nil
	case *Envelope_SendOutcome:
		w := c.SendOutcome
		return conversation.SendOutcome{MessageID: w.GetMessageId(), WaMessageID: w.GetWaMessageId(), Status: w.GetStatus(),
			Error: whatsAppError(w.GetError()), WindowClosed: w.GetWindowClosed()}, nil
	}
	return nil, fmt.Errorf("decode command %T: %w", env.GetCommand(), ErrUnknownCommand)
}

// wireResult is the wire form of an actor's answer (a conversation.Result,
// or an Inbound's answer, which travels as the Result it stands for). A
// Failure's message, for logs only, is made valid UTF-8 rather than
// refused.
func wireResult(answer any) (*WireResult, error) {
	res, ok := conversation.ResultOf(answer)
	if !ok {
		return nil, fmt.Errorf("encode answer %T: not a conversation answer", answer)
	}
	var e encoder
	w := &WireResult{Duplicate: res.Duplicate}
	// A zero conversation (a failure's) or message (an Inbound's answer)
	// is left out: it decodes to the zero value all the same.
	if !reflect.ValueOf(&res.Conversation).Elem().IsZero() {
		w.Conversation = e.conversation(&res.Conversation)
	}
	if !reflect.ValueOf(&res.Message).Elem().IsZero() {
		w.Message = e.message(&res.Message)
	}
	if f := res.Failure; f != nil {
		w.Failure = &WireFailure{Code: strings.ToValidUTF8(string(f.Code), "\uFFFD"), Message: strings.ToValidUTF8(f.Message, "\uFFFD")}
	}
	if err := e.err(); err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return w, nil
}

// resultOf is the Result w carries; its Failure matches the same sentinels
// with errors.Is (Failure.Is goes by Code).
func resultOf(w *WireResult) conversation.Result {
	res := conversation.Result{Conversation: goConversation(w.GetConversation()), Message: goMessage(w.GetMessage()), Duplicate: w.GetDuplicate()}
	if f := w.GetFailure(); f != nil {
		res.Failure = &conversation.Failure{Code: conversation.Code(f.GetCode()), Message: f.GetMessage()}
	}
	return res
}

// wireTime is t's wire form; nil for the zero time.
func wireTime(t time.Time) *WireTime {
	loc := t.Location()
	if loc == time.UTC && t.IsZero() {
		return nil
	}
	w := &WireTime{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
	if loc == time.UTC {
		w.Utc = true
	} else {
		_, offset := t.Zone()
		w.Offset = int32(offset)
	}
	return w
}

// goTime is the time w stands for: in time.UTC, in time.Local when Local
// had w's offset then, else in a fixed zone of w's offset.
func goTime(w *WireTime) time.Time {
	if w == nil {
		return time.Time{}
	}
	t := time.Unix(w.GetSeconds(), int64(w.GetNanos()))
	if w.GetUtc() {
		return t.UTC()
	}
	offset := int(w.GetOffset())
	if _, local := t.Zone(); local == offset {
		return t
	}
	return t.In(time.FixedZone("", offset))
}

// rawJSON is b as it came: nil when absent, empty when sent empty.
func rawJSON(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

func (e *encoder) whatsAppError(v *actors.WhatsAppError) *WireWhatsAppError {
	if v == nil {
		return nil
	}
	return &WireWhatsAppError{Code: int64(v.Code), Title: e.str("error.title", v.Title), Message: e.str("error.message", v.Message),
		Details: e.str("error.details", v.Details), Href: e.str("error.href", v.Href), Kind: e.str("error.kind", v.Kind),
		Reason: e.str("error.reason", v.Reason)}
}

func whatsAppError(w *WireWhatsAppError) *actors.WhatsAppError {
	if w == nil {
		return nil
	}
	v := goWhatsAppError(w)
	return &v
}

func goWhatsAppError(w *WireWhatsAppError) actors.WhatsAppError {
	return actors.WhatsAppError{Code: int(w.GetCode()), Title: w.GetTitle(), Message: w.GetMessage(), Details: w.GetDetails(),
		Href: w.GetHref(), Kind: w.GetKind(), Reason: w.GetReason()}
}

func (e *encoder) whatsAppErrors(vs []actors.WhatsAppError) []*WireWhatsAppError {
	if vs == nil {
		return nil
	}
	ws := make([]*WireWhatsAppError, len(vs))
	for i := range vs {
		ws[i] = e.whatsAppError(&vs[i])
	}
	return ws
}

func whatsAppErrors(ws []*WireWhatsAppError) []actors.WhatsAppError {
	if ws == nil {
		return nil
	}
	vs := make([]actors.WhatsAppError, len(ws))
	for i, w := range ws {
		vs[i] = goWhatsAppError(w)
	}
	return vs
}

func (e *encoder) pricing(v *actors.Pricing) *WirePricing {
	if v == nil {
		return nil
	}
	return &WirePricing{Billable: v.Billable, Model: e.str("pricing.model", v.Model), Category: e.str("pricing.category", v.Category),
		Type: e.str("pricing.type", v.Type)}
}

func pricing(w *WirePricing) *actors.Pricing {
	if w == nil {
		return nil
	}
	return &actors.Pricing{Billable: w.GetBillable(), Model: w.GetModel(), Category: w.GetCategory(), Type: w.GetType()}
}

func (e *encoder) inboundMessage(v *actors.InboundMessage) *WireInboundMessage {
	w := &WireInboundMessage{
		PhoneNumberId: e.str("msg.phone_number_id", v.PhoneNumberID), DisplayPhone: e.str("msg.display_phone", v.DisplayPhone),
		WaId: e.str("msg.wa_id", v.WaID), ProfileName: e.str("msg.profile_name", v.ProfileName),
		UserId: e.str("msg.user_id", v.UserID), ParentUserId: e.str("msg.parent_user_id", v.ParentUserID),
		WaMessageId: e.str("msg.wa_message_id", v.WaMessageID), Type: e.str("msg.type", v.Type),
		Timestamp: wireTime(v.Timestamp), Text: e.str("msg.text", v.Text), Content: v.Content, Referral: v.Referral,
		Errors: e.whatsAppErrors(v.Errors), Raw: v.Raw,
	}
	if c := v.Context; c != nil {
		w.Context = &WireMessageContext{From: e.str("msg.context.from", c.From), Id: e.str("msg.context.id", c.ID),
			Forwarded: c.Forwarded, FrequentlyForwarded: c.FrequentlyForwarded}
	}
	return w
}

func inboundMessage(w *WireInboundMessage) actors.InboundMessage {
	v := actors.InboundMessage{
		PhoneNumberID: w.GetPhoneNumberId(), DisplayPhone: w.GetDisplayPhone(), WaID: w.GetWaId(), ProfileName: w.GetProfileName(),
		UserID: w.GetUserId(), ParentUserID: w.GetParentUserId(), WaMessageID: w.GetWaMessageId(), Type: w.GetType(),
		Timestamp: goTime(w.GetTimestamp()), Text: w.GetText(), Content: rawJSON(w.GetContent()), Referral: rawJSON(w.GetReferral()),
		Errors: whatsAppErrors(w.GetErrors()), Raw: rawJSON(w.GetRaw()),
	}
	if c := w.GetContext(); c != nil {
		v.Context = &actors.MessageContext{From: c.GetFrom(), ID: c.GetId(), Forwarded: c.GetForwarded(), FrequentlyForwarded: c.GetFrequentlyForwarded()}
	}
	return v
}

func (e *encoder) statusUpdate(v *actors.StatusUpdate) *WireStatusUpdate {
	return &WireStatusUpdate{
		PhoneNumberId: e.str("status.phone_number_id", v.PhoneNumberID), WaMessageId: e.str("status.wa_message_id", v.WaMessageID),
		RecipientId: e.str("status.recipient_id", v.RecipientID), Status: e.str("status.status", v.Status),
		Timestamp: wireTime(v.Timestamp), Errors: e.whatsAppErrors(v.Errors),
		BizOpaqueCallbackData: e.str("status.biz_opaque_callback_data", v.BizOpaqueCallbackData),
		Pricing:               e.pricing(v.Pricing), Raw: v.Raw,
	}
}

func statusUpdate(w *WireStatusUpdate) actors.StatusUpdate {
	return actors.StatusUpdate{
		PhoneNumberID: w.GetPhoneNumberId(), WaMessageID: w.GetWaMessageId(), RecipientID: w.GetRecipientId(), Status: w.GetStatus(),
		Timestamp: goTime(w.GetTimestamp()), Errors: whatsAppErrors(w.GetErrors()), BizOpaqueCallbackData: w.GetBizOpaqueCallbackData(),
		Pricing: pricing(w.GetPricing()), Raw: rawJSON(w.GetRaw()),
	}
}

func (e *encoder) conversation(v *actors.Conversation) *WireConversation {
	return &WireConversation{
		Id: e.str("conversation.id", v.ID), CustomerId: e.str("conversation.customer_id", v.CustomerID),
		PhoneNumberId: e.str("conversation.phone_number_id", v.PhoneNumberID), WaId: e.str("conversation.wa_id", v.WaID),
		State: e.str("conversation.state", v.State), AssigneeId: e.str("conversation.assignee_id", v.AssigneeID),
		LastInboundAt: wireTime(v.LastInboundAt), LastOutboundAt: wireTime(v.LastOutboundAt), ExpiresAt: wireTime(v.ExpiresAt),
		NextTimerAt: wireTime(v.NextTimerAt), WarnedAt: wireTime(v.WarnedAt), Unread: int64(v.Unread),
		Seq: v.Seq, Version: v.Version, Epoch: v.Epoch,
		CreatedAt: wireTime(v.CreatedAt), UpdatedAt: wireTime(v.UpdatedAt), ClosedAt: wireTime(v.ClosedAt),
	}
}

func goConversation(w *WireConversation) actors.Conversation {
	return actors.Conversation{
		ID: w.GetId(), CustomerID: w.GetCustomerId(), PhoneNumberID: w.GetPhoneNumberId(), WaID: w.GetWaId(),
		State: w.GetState(), AssigneeID: w.GetAssigneeId(),
		LastInboundAt: goTime(w.GetLastInboundAt()), LastOutboundAt: goTime(w.GetLastOutboundAt()), ExpiresAt: goTime(w.GetExpiresAt()),
		NextTimerAt: goTime(w.GetNextTimerAt()), WarnedAt: goTime(w.GetWarnedAt()), Unread: int(w.GetUnread()),
		Seq: w.GetSeq(), Version: w.GetVersion(), Epoch: w.GetEpoch(),
		CreatedAt: goTime(w.GetCreatedAt()), UpdatedAt: goTime(w.GetUpdatedAt()), ClosedAt: goTime(w.GetClosedAt()),
	}
}

func (e *encoder) message(v *actors.Message) *WireMessage {
	w := &WireMessage{
		Id: e.str("message.id", v.ID), ConversationId: e.str("message.conversation_id", v.ConversationID),
		Direction: e.str("message.direction", v.Direction), Type: e.str("message.type", v.Type), Text: e.str("message.text", v.Text),
		Content: v.Content, Status: e.str("message.status", v.Status), WaMessageId: e.str("message.wa_message_id", v.WaMessageID),
		Seq: v.Seq, Error: e.whatsAppError(v.Error), Pricing: e.pricing(v.Pricing), Raw: v.Raw,
		CreatedAt: wireTime(v.CreatedAt), UpdatedAt: wireTime(v.UpdatedAt),
	}
	if m := v.Media; m != nil {
		w.Media = &WireMessageMedia{Id: e.str("message.media.id", m.ID), Status: e.str("message.media.status", m.Status),
			MimeType: e.str("message.media.mime_type", m.MimeType), Size: m.Size, Filename: e.str("message.media.filename", m.Filename),
			Error: e.str("message.media.error", m.Error)}
	}
	return w
}

func goMessage(w *WireMessage) actors.Message {
	v := actors.Message{
		ID: w.GetId(), ConversationID: w.GetConversationId(), Direction: w.GetDirection(), Type: w.GetType(), Text: w.GetText(),
		Content: rawJSON(w.GetContent()), Status: w.GetStatus(), WaMessageID: w.GetWaMessageId(), Seq: w.GetSeq(),
		Error: whatsAppError(w.GetError()), Pricing: pricing(w.GetPricing()), Raw: rawJSON(w.GetRaw()),
		CreatedAt: goTime(w.GetCreatedAt()), UpdatedAt: goTime(w.GetUpdatedAt()),
	}
	if m := w.GetMedia(); m != nil {
		v.Media = &actors.MessageMedia{ID: m.GetId(), Status: m.GetStatus(), MimeType: m.GetMimeType(), Size: m.GetSize(),
			Filename: m.GetFilename(), Error: m.GetError()}
	}
	return v
}

package cloudapi

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.uber.org/zap"
)

// graphVersion matches the Graph API version segment: v21.0, v23.0, ...
const graphVersion = `/{version:v[0-9]+\.[0-9]+}`

// maxSendBody bounds a send request body (Meta's payloads are a few KB).
const maxSendBody = 1 << 20

// conversationTTL is how long a pricing conversation stays open.
const conversationTTL = 24 * time.Hour

// maxConversations bounds the open conversations kept; past it, expired
// ones are pruned, and if that is not enough all are forgotten (new ids).
const maxConversations = 100_000

// whatsApp emulates the WhatsApp Cloud API: the send and media endpoints,
// failure injection, status callbacks and the test controls.
type whatsApp struct {
	opts     Options
	log      *zap.Logger
	disp     *dispatcher
	stopping func() <-chan struct{}
	rec      *recorder
	faults   *faultBook
	media    *mediaStore
	signer   urlSigner
	// uploadFaults are the armed upload faults per business number.
	uploadFaults *uploadFaultBook
	// sendFaults are the armed send faults per recipient.
	sendFaults *sendFaultBook
	windows    *windowBook
	templates  *registry
	holding    atomic.Int32 // requests held by the 0003 fault right now

	mu    sync.Mutex
	convs map[string]conversation // phone_number_id|wa_id|category
}

func newWhatsApp(o Options, log *zap.Logger, disp *dispatcher, stopping func() <-chan struct{}) *whatsApp {
	return &whatsApp{
		opts: o, log: log.With(zap.String("provider", "whatsapp")), disp: disp, stopping: stopping,
		rec:          newRecorder(o.MaxSent, o.MaxRateSamples),
		faults:       newFaultBook(),
		media:        newMediaStore(o),
		signer:       urlSigner{key: randomKey()},
		uploadFaults: newUploadFaultBook(),
		sendFaults:   newSendFaultBook(),
		windows:      newWindowBook(o.ServiceWindow, o.AssumeWindowOpen),
		templates:    newRegistry(o.Templates),
		convs:        map[string]conversation{},
	}
}

// mount registers the Graph API paths at the root (clients use the
// sandbox's URL where they would use https://graph.facebook.com) and the
// test controls under /sandbox/whatsapp.
func (w *whatsApp) mount(r chi.Router) {
	r.Post(graphVersion+"/{id}/messages", w.handleSend)
	r.Post(graphVersion+"/{id}/media", w.handleUpload)
	r.Get(graphVersion+"/{id}/message_templates", w.handleTemplateList)
	r.Post(graphVersion+"/{id}/message_templates", w.handleTemplateCreate)
	r.Delete(graphVersion+"/{id}/message_templates", w.handleTemplateDelete)
	r.Get(graphVersion+"/{id}", w.handleMediaInfo)
	r.Delete(graphVersion+"/{id}", w.handleMediaDelete)
	r.Get("/media/{id}", w.handleMediaDownload)

	r.Route("/sandbox/whatsapp", func(r chi.Router) {
		r.Post("/inbound", w.handleInbound)
		r.Post("/media/{id}/faults", w.handleMediaFaults)
		r.Post("/uploads/faults", w.handleUploadFaults)
		r.Post("/sends/faults", w.handleSendFaults)
		r.Get("/sends/faults", w.handleSendAttempts)
		r.Get("/media/{id}", w.handleMediaState)
		r.Get("/sent", w.handleSentList)
		r.Delete("/sent", w.handleSentReset)
		r.Post("/templates/update", w.handleTemplateUpdate)
	})
}

// reset forgets the sent log, the fault counters and the pricing
// conversations. The customer service windows, templates and media stay:
// they are the customers' and the account's, not the test's bookkeeping.
func (w *whatsApp) reset() {
	w.rec.reset()
	w.faults.reset()
	w.sendFaults.reset()
	w.mu.Lock()
	w.convs = map[string]conversation{}
	w.mu.Unlock()
}

// checkToken requires "Authorization: Bearer <token>". Any token is valid
// except "expired", which gets Meta's expired-session answer.
func checkToken(r *http.Request) *apiError {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return &apiError{status: http.StatusUnauthorized, code: CodeAccessToken, title: "Invalid OAuth access token",
			details: "An access token is required: send Authorization: Bearer <access token>."}
	}
	if token == "expired" {
		return &apiError{status: http.StatusUnauthorized, code: CodeAccessToken, subcode: SubcodeSessionExpired, title: "Access token has expired",
			details: "Error validating access token: Session has expired."}
	}
	return nil
}

type sendResponse struct {
	MessagingProduct string            `json:"messaging_product"`
	Contacts         []sendContact     `json:"contacts"`
	Messages         []sendMessageInfo `json:"messages"`
}

type sendContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

type sendMessageInfo struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

// handleSend is POST /{version}/{phone_number_id}/messages.
func (w *whatsApp) handleSend(rw http.ResponseWriter, r *http.Request) {
	if e := checkToken(r); e != nil {
		writeAPIError(rw, e)
		return
	}
	phoneNumberID := chi.URLParam(r, "id")
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxSendBody))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			writeAPIError(rw, invalidParam("The request body is larger than %d bytes.", maxSendBody))
			return
		}
		writeAPIError(rw, invalidParam("The request body could not be read."))
		return
	}
	msg, read, e := parseSend(body)
	if e != nil {
		writeAPIError(rw, e)
		return
	}
	if read != nil {
		writeGraph(rw, http.StatusOK, map[string]bool{"success": true})
		return
	}
	var tpl Template
	if msg.template != nil {
		if tpl, e = checkTemplateSend(w.templates, msg.template); e != nil {
			writeAPIError(rw, e)
			return
		}
	}

	log := w.log.WithLazy(zap.String("phone_number_id", phoneNumberID), zap.String("to", maskPhone(msg.waID)))
	armed := w.sendFaults.take(msg.waID, w.opts.Now())
	if e := armed.fault.answer(); e != nil {
		log.Debug("send refused by an armed fault", zap.String("fault", string(armed.fault)), zap.Int("code", e.code))
		writeAPIError(rw, e)
		return
	}
	out := w.faults.decide(msg)
	if armed.fault == SendTimeout {
		out = outcome{hold: true}
	}
	switch {
	case out.reject != nil:
		log.Debug("send refused by failure injection", zap.Int("code", out.reject.code))
		writeAPIError(rw, out.reject)
		return
	case out.hold:
		log.Debug("send held by failure injection", zap.Duration("duration", w.opts.TimeoutHold))
		w.hold(r)
		// Drop the connection without an answer, like a gateway time-out
		// that never reaches the client.
		panic(http.ErrAbortHandler)
	}
	now := w.opts.Now()
	if msg.mediaID != "" && !undeliverable(out.order) && !w.sendableMedia(phoneNumberID, msg.typ, msg.mediaID, now) {
		// Meta accepts a send naming a media id it cannot use and fails
		// it by webhook.
		out.order = failedMediaUpload
	}
	inWindow := w.windows.open(phoneNumberID, msg.waID, now)
	if msg.typ != "template" && !inWindow && !undeliverable(out.order) {
		// Meta accepts a free-form message outside the customer service
		// window and fails it by webhook.
		out.order = failedReEngagement
	}
	if w.disp.enabled() && !w.disp.hasRoom() {
		log.Warn("send refused: callback queue is full")
		writeAPIError(rw, errQueueFullAPI())
		return
	}

	wamid := newWamid(msg.waID)
	spec := statusSpec{
		wamid: wamid, waID: msg.waID, phoneNumberID: phoneNumberID,
		display: displayNumber(w.opts.DisplayPhoneNumbers, phoneNumberID), wabaID: w.opts.BusinessAccountID,
		bizOpaque: msg.bizOpaque, conv: w.conversation(phoneNumberID, msg.waID, categoryOf(msg, tpl), now), pricingModel: w.opts.PricingModel,
		inWindow: inWindow,
	}
	steps := make([]step, len(out.order))
	for i, st := range out.order {
		steps[i] = step{name: st.status, build: func(at time.Time) []update { return []update{spec.update(st, at)} }}
	}
	if err := w.disp.enqueue(steps, jittered(w.opts.StatusDelay), zap.String("wa_message_id", wamid), zap.String("phone_number_id", phoneNumberID)); err != nil {
		// Lost the race for the last slot: refuse like above.
		writeAPIError(rw, errQueueFullAPI())
		return
	}
	w.rec.add(SentMessage{To: msg.waID, Type: msg.typ, Body: body, WaMessageID: wamid, At: now.UTC(), PhoneNumberID: phoneNumberID})
	log.Debug("message accepted", zap.String("wa_message_id", wamid), zap.String("type", msg.typ))

	resp := sendResponse{
		MessagingProduct: "whatsapp",
		Contacts:         []sendContact{{Input: msg.to, WaID: msg.waID}},
		Messages:         []sendMessageInfo{{ID: wamid}},
	}
	if msg.typ == "template" {
		resp.Messages[0].MessageStatus = "accepted"
	}
	if armed.fault == SendSlow {
		w.delay(r, armed.delay)
	}
	writeGraph(rw, http.StatusOK, resp)
}

// undeliverable reports whether the statuses end in 131026: the number is
// not on WhatsApp, which Meta reports whatever the window.
func undeliverable(order []statusStep) bool {
	last := order[len(order)-1]
	return last.err != nil && last.err.Code == CodeUndeliverable
}

func errQueueFullAPI() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, code: CodeAPIService, title: "API Service",
		details: "The sandbox's callback queue is full; the engine's webhook is not keeping up. Retry later."}
}

// categoryOf is the pricing category of a message: service for free-form
// messages, the template's category for templates.
func categoryOf(m *validMessage, tpl Template) string {
	if m.typ != "template" {
		return "service"
	}
	return pricingCategory(tpl.Category)
}

// delay waits for d, the client giving up, or Run stopping.
func (w *whatsApp) delay(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-w.stopping():
	}
}

// hold waits for TimeoutHold, the client giving up, or Run stopping.
func (w *whatsApp) hold(r *http.Request) {
	w.holding.Add(1)
	defer w.holding.Add(-1)
	t := time.NewTimer(w.opts.TimeoutHold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-w.stopping():
	}
}

// conversation returns the open pricing conversation for the business
// number, customer and category, opening one for 24 hours when needed.
func (w *whatsApp) conversation(phoneNumberID, waID, category string, now time.Time) conversation {
	key := phoneNumberID + "|" + waID + "|" + category
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.convs[key]
	if ok && now.Before(c.expires) {
		return c
	}
	if len(w.convs) >= maxConversations {
		for k, old := range w.convs {
			if !now.Before(old.expires) {
				delete(w.convs, k)
			}
		}
		if len(w.convs) >= maxConversations {
			clear(w.convs)
		}
	}
	c = conversation{id: newConversationID(), category: category, expires: now.Add(conversationTTL)}
	w.convs[key] = c
	return c
}

// maskPhone keeps a number's last four digits for logs.
func maskPhone(waID string) string {
	if len(waID) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(waID)-4) + waID[len(waID)-4:]
}

package sender

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
)

// Users lists the people an operator alert goes to.
type Users interface {
	ListUsers(ctx context.Context, role actors.Role) ([]actors.User, error)
}

// Notifications keeps the notes an operator alert leaves.
type Notifications interface {
	AddNotifications(ctx context.Context, ns []actors.Notification) error
}

// PausesOptions build Pauses.
type PausesOptions struct {
	Shaper Shaper
	// NumberPause and RecipientPause, when set, replace the pause Meta's
	// codes put on a number (minutes) or on a recipient (hours).
	NumberPause    time.Duration
	RecipientPause time.Duration
	// Users, Notifications and Publisher carry operator alerts to every
	// admin and supervisor; with Users or Notifications nil an alert is
	// only logged and counted.
	Users         Users
	Notifications Notifications
	Publisher     actors.Publisher
	// AlertEvery is the least time between two alerts for the same number
	// and code (10 minutes when zero): every queued send of a blocked
	// number meets the same code, and each late failed status repeats it.
	AlertEvery time.Duration
	Log        *zap.Logger
	Registry   prometheus.Registerer
}

// Pauses applies the pauses Meta's error codes ask for to the shaper, and
// alerts the operators when a business number is stopped. The sender calls
// it for errors answered to a send, the conversations (through their
// Pauser) for errors reported later in a failed status, so both paths have
// the same consequences. Safe for concurrent use.
type Pauses struct {
	opts   PausesOptions
	log    *zap.Logger
	paused *prometheus.CounterVec
	alerts *prometheus.CounterVec

	mu        sync.Mutex
	lastAlert map[string]time.Time // phoneNumberID/code -> when
}

// NewPauses returns Pauses; its metrics are registered on opts.Registry
// when set.
func NewPauses(opts PausesOptions) *Pauses {
	if opts.AlertEvery <= 0 {
		opts.AlertEvery = 10 * time.Minute
	}
	p := &Pauses{opts: opts, log: opts.Log.With(zap.String("component", "pauses")), lastAlert: map[string]time.Time{},
		paused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_sender_paused_total",
			Help: "Pauses by scope (number, recipient) after Meta's errors, answered to a send or reported in a failed status."}, []string{"scope"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "engine_operator_alerts_total",
			Help: "Operator alerts raised because WhatsApp stopped a business number, by Meta's code."}, []string{"code"}),
	}
	if opts.Registry != nil {
		opts.Registry.MustRegister(p.paused, p.alerts)
	}
	return p
}

// PauseNumber pauses the business number for pause (or the configured
// NumberPause) after Meta reported werr in a failed status, writes an
// error log and alerts the operators.
func (p *Pauses) PauseNumber(ctx context.Context, phoneNumberID string, pause time.Duration, werr actors.WhatsAppError) {
	pause = p.pauseNumber(ctx, phoneNumberID, pause, werr)
	p.log.Error("WhatsApp reported the business number blocked in a failed status; sends paused",
		zap.String("phone_number_id", phoneNumberID), zap.Int("code", werr.Code), zap.String("reason", werr.Title), zap.Duration("pause", pause))
}

// PauseRecipient pauses a recipient on the business number for pause
// after Meta reported werr in a failed status; the configured
// RecipientPause replaces the pause of the codes that pause a recipient
// for hours (131048, 131049), not the seconds of the pair rate (131056).
func (p *Pauses) PauseRecipient(ctx context.Context, phoneNumberID, waID string, pause time.Duration, werr actors.WhatsAppError) {
	rule, _ := actors.WhatsAppErrorRule(werr.Code)
	if rule.Action == actors.ErrorPauseRecipient {
		pause = pick(p.opts.RecipientPause, pause)
	}
	pause = p.pauseRecipient(phoneNumberID, waID, pause)
	p.log.Warn("recipient paused after a failed status", zap.String("phone_number_id", phoneNumberID), zap.Int("code", werr.Code),
		zap.Duration("pause", pause))
}

// pauseNumber pauses the number, counts it and alerts the operators; it
// returns the pause applied. The caller writes the log line.
func (p *Pauses) pauseNumber(ctx context.Context, phoneNumberID string, pause time.Duration, werr actors.WhatsAppError) time.Duration {
	pause = pick(p.opts.NumberPause, pause)
	p.opts.Shaper.PauseNumber(phoneNumberID, time.Now().Add(pause))
	p.paused.WithLabelValues("number").Inc()
	p.alert(ctx, phoneNumberID, werr)
	return pause
}

// pauseRecipient pauses the recipient for pause and counts it; it returns
// the pause applied.
func (p *Pauses) pauseRecipient(phoneNumberID, waID string, pause time.Duration) time.Duration {
	p.opts.Shaper.PauseRecipient(phoneNumberID, waID, time.Now().Add(pause))
	p.paused.WithLabelValues("recipient").Inc()
	return pause
}

// alert tells every admin and supervisor that WhatsApp stopped the
// number, at most once per AlertEvery for a number and code.
func (p *Pauses) alert(ctx context.Context, phoneNumberID string, werr actors.WhatsAppError) {
	key := phoneNumberID + "/" + strconv.Itoa(werr.Code)
	now := time.Now()
	p.mu.Lock()
	last, seen := p.lastAlert[key]
	if seen && now.Sub(last) < p.opts.AlertEvery {
		p.mu.Unlock()
		return
	}
	p.lastAlert[key] = now
	p.mu.Unlock()
	p.alerts.WithLabelValues(strconv.Itoa(werr.Code)).Inc()
	if p.opts.Users == nil || p.opts.Notifications == nil {
		return
	}
	werr = werr.Explained()
	title := "WhatsApp stopped a business number"
	body := "WhatsApp refused sends from business number " + phoneNumberID + " with code " + strconv.Itoa(werr.Code)
	if rule, ok := actors.WhatsAppErrorRule(werr.Code); ok {
		body += " (" + rule.Reason + ")"
	}
	body += ". Sends from it are paused until the cause is fixed in WhatsApp Manager."
	var ns []actors.Notification
	for _, role := range []actors.Role{actors.RoleAdmin, actors.RoleSupervisor} {
		users, err := p.opts.Users.ListUsers(ctx, role)
		if err != nil {
			p.log.Error("list operators to alert", zap.String("role", string(role)), zap.Error(err))
			continue
		}
		for _, u := range users {
			ns = append(ns, actors.Notification{ID: actors.NewID(), UserID: u.ID, Kind: actors.NotifyNumberBlocked, Title: title, Body: body,
				CreatedAt: now.UTC()})
		}
	}
	if len(ns) == 0 {
		return
	}
	if err := p.opts.Notifications.AddNotifications(ctx, ns); err != nil {
		p.log.Error("store operator alerts", zap.String("phone_number_id", phoneNumberID), zap.Error(err))
		return
	}
	if p.opts.Publisher == nil {
		return
	}
	for _, n := range ns {
		p.opts.Publisher.Publish(actors.Event{Type: actors.EventNotification, PhoneNumberID: phoneNumberID, UserID: n.UserID, Data: n.View(),
			At: n.CreatedAt})
	}
}

package exotel

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"
)

// timeLayout is Exotel's "YYYY-MM-DD HH:mm:ss", in India Standard Time.
const timeLayout = "2006-01-02 15:04:05"

var ist = time.FixedZone("IST", 5*3600+1800)

func exoTime(t time.Time) string { return t.In(ist).Format(timeLayout) }

// Call states the details endpoint reports while a call runs.
const (
	statusInProgress = "in-progress"
	statusCompleted  = "completed"
)

// call is one placed call: what was asked (placed, immutable after
// recording) and how far it got (guarded by mu).
type call struct {
	placed      PlacedCall
	account     string
	toDigits    string
	dateCreated time.Time

	mu        sync.Mutex
	status    string // in-progress until the end, then the final status
	answered  bool
	updated   time.Time
	answerAt  time.Time // sandbox clock, zero until answered
	endedAt   time.Time // sandbox clock, zero until over
	talkSecs  int
	ringSecs  int
	recording string
}

// newCallSid is a 32-hex-digit sid, as Exotel's.
func newCallSid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// snapshot is a consistent copy of a call's progress.
type snapshot struct {
	status    string
	answered  bool
	updated   time.Time
	endedAt   time.Time
	talkSecs  int
	ringSecs  int
	recording string
}

func (c *call) snap() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return snapshot{status: c.status, answered: c.answered, updated: c.updated, endedAt: c.endedAt,
		talkSecs: c.talkSecs, ringSecs: c.ringSecs, recording: c.recording}
}

// answer marks both legs connected at now.
func (c *call) answer(now time.Time, ringSecs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answered, c.answerAt, c.updated, c.ringSecs = true, now, now, ringSecs
}

// end settles the call at now with its final status.
func (c *call) end(now time.Time, status string, ringSecs, talkSecs int, recording string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.endedAt, c.updated = status, now, now
	if !c.answered {
		c.ringSecs = ringSecs
	}
	c.talkSecs, c.recording = talkSecs, recording
}

// wireCall is the "Call" object of the connect and details answers.
type wireCall struct {
	Sid            string       `json:"Sid"`
	ParentCallSid  *string      `json:"ParentCallSid"`
	DateCreated    string       `json:"DateCreated"`
	DateUpdated    string       `json:"DateUpdated"`
	AccountSid     string       `json:"AccountSid"`
	To             string       `json:"To"`
	From           string       `json:"From"`
	PhoneNumberSid string       `json:"PhoneNumberSid"`
	Status         string       `json:"Status"`
	StartTime      string       `json:"StartTime"`
	EndTime        *string      `json:"EndTime"`
	Duration       *string      `json:"Duration"`
	Price          *string      `json:"Price"`
	Direction      string       `json:"Direction"`
	AnsweredBy     *string      `json:"AnsweredBy"`
	ForwardedFrom  *string      `json:"ForwardedFrom"`
	CallerName     *string      `json:"CallerName"`
	URI            string       `json:"Uri"`
	RecordingURL   *string      `json:"RecordingUrl"`
	Details        *wireDetails `json:"Details,omitempty"`
}

// wireDetails is the leg information of GET .../Calls/{sid}.json?details=true.
type wireDetails struct {
	ConversationDuration int       `json:"ConversationDuration"`
	Leg1Status           string    `json:"Leg1Status"`
	Leg2Status           string    `json:"Leg2Status"`
	Legs                 []wireLeg `json:"Legs"`
}

type wireLeg struct {
	Leg struct {
		ID             int `json:"Id"`
		OnCallDuration int `json:"OnCallDuration"`
	} `json:"Leg"`
}

func strPtr(s string) *string { return &s }

// legStatuses are the statuses of the agent's leg (From, called first) and
// the customer's leg (To) once the call is over.
func legStatuses(final string) (string, string) {
	if final == statusCompleted {
		return statusCompleted, statusCompleted
	}
	return statusCompleted, final
}

// wire renders the call as Exotel's "Call" object at its current progress.
func (c *call) wire(details bool) wireCall {
	s := c.snap()
	w := wireCall{
		Sid: c.placed.Sid, DateCreated: exoTime(c.dateCreated), DateUpdated: exoTime(s.updated),
		AccountSid: c.account, To: c.placed.To, From: c.placed.From, PhoneNumberSid: c.placed.CallerID,
		Status: s.status, StartTime: exoTime(c.dateCreated), Direction: "outbound-api",
		URI: fmt.Sprintf("/v1/Accounts/%s/Calls/%s.json", c.account, c.placed.Sid),
	}
	if s.endedAt.IsZero() {
		return w
	}
	total := s.ringSecs + s.talkSecs
	w.EndTime = strPtr(exoTime(s.endedAt))
	w.Duration = strPtr(fmt.Sprint(total))
	// A made-up tariff: 0.50 a started minute of the answered call.
	w.Price = strPtr(fmt.Sprintf("%.3f", 0.5*math.Ceil(float64(s.talkSecs)/60)))
	if s.recording != "" {
		w.RecordingURL = strPtr(s.recording)
	}
	if details {
		l1, l2 := legStatuses(s.status)
		d := &wireDetails{ConversationDuration: s.talkSecs, Leg1Status: l1, Leg2Status: l2, Legs: make([]wireLeg, 2)}
		d.Legs[0].Leg.ID, d.Legs[0].Leg.OnCallDuration = 1, total
		d.Legs[1].Leg.ID, d.Legs[1].Leg.OnCallDuration = 2, s.talkSecs
		w.Details = d
	}
	return w
}

//go:build faults

package conversation

import "strings"

// PanicText starts the text of a send or an inbound message that makes the
// conversation actor panic, in a binary built with the faults tag only.
const PanicText = "faults:panic"

func init() {
	injectFault = func(msg any) {
		var text string
		switch m := msg.(type) {
		case Send:
			text = m.Text
		case Inbound:
			text = m.Msg.Text
		}
		if strings.HasPrefix(text, PanicText) {
			panic("fault injected: " + text)
		}
	}
}

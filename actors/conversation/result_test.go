package conversation

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacc/engine/actors"
)

func TestResultOfTurnsAnInboundAnswerIntoItsResult(t *testing.T) {
	conv := actors.Conversation{ID: "c1", PhoneNumberID: "1", WaID: "2", Seq: 3}
	ans := inboundAnswer{Conversation: conv, Duplicate: true, Failure: &Failure{Code: CodeStale, Message: "x"}}
	res, ok := ResultOf(ans)
	require.True(t, ok)
	require.Equal(t, Result{Conversation: conv, Duplicate: true, Failure: ans.Failure}, res)

	full := Result{Conversation: conv, Message: actors.Message{ID: "m1"}}
	res, ok = ResultOf(full)
	require.True(t, ok)
	require.Equal(t, full, res)

	_, ok = ResultOf("a string")
	require.False(t, ok)
}

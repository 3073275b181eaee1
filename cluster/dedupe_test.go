package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDedupeJoinsRemembersAndForgets(t *testing.T) {
	d := newDedupe()
	var got []*Answer
	record := func(a *Answer) { got = append(got, a) }
	now := time.Now()
	r1 := &WireResult{Conversation: &WireConversation{Id: "c1"}}

	require.True(t, d.begin("m1", record), "first delivery applies")
	require.False(t, d.begin("m1", record), "a retry in flight joins")
	d.finish("m1", &Answer{MessageId: "m1", Result: r1}, now)
	require.Len(t, got, 2, "both waiters answered")
	require.False(t, d.begin("m1", record), "a retry after the answer gets it")
	require.Len(t, got, 3)
	for _, a := range got {
		require.Same(t, r1, a.GetResult())
	}

	// An undelivered answer is not remembered: a retry applies again.
	require.True(t, d.begin("m2", record))
	d.finish("m2", &Answer{MessageId: "m2", Undelivered: "timeout"}, now)
	require.True(t, d.begin("m2", record))
	d.finish("m2", &Answer{MessageId: "m2", Result: &WireResult{Duplicate: true}}, now)

	// Answers older than dedupeFor are forgotten when others finish.
	later := now.Add(dedupeFor + time.Second)
	require.True(t, d.begin("m3", record))
	d.finish("m3", &Answer{MessageId: "m3"}, later)
	require.Equal(t, 1, d.size(), "m1 and m2 expired")
	require.True(t, d.begin("m1", record), "an expired id applies again")
}

func TestDedupeIsBounded(t *testing.T) {
	d := newDedupe()
	now := time.Now()
	for i := 0; i < dedupeMax+100; i++ {
		id := fmt.Sprintf("m%d", i)
		d.begin(id, func(*Answer) {})
		d.finish(id, &Answer{MessageId: id}, now)
	}
	require.Equal(t, dedupeMax, d.size())
	require.True(t, d.begin("m0", func(*Answer) {}), "the oldest were forgotten first")
	require.False(t, d.begin(fmt.Sprintf("m%d", dedupeMax+99), func(*Answer) {}))
}

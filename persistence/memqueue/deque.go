package memqueue

import "github.com/wacc/engine/actors"

// deque is a FIFO of jobs that can also take jobs back at its front.
type deque struct {
	items []actors.OutboundJob
	head  int
}

func (d *deque) len() int { return len(d.items) - d.head }

func (d *deque) pushBack(job actors.OutboundJob) { d.items = append(d.items, job) }

// pushFront puts job ahead of every other job.
func (d *deque) pushFront(job actors.OutboundJob) {
	if d.head == 0 {
		room := max(8, d.len()/4)
		grown := make([]actors.OutboundJob, room+d.len(), room+cap(d.items))
		copy(grown[room:], d.items)
		d.items, d.head = grown, room
	}
	d.head--
	d.items[d.head] = job
}

func (d *deque) popFront() (actors.OutboundJob, bool) {
	if d.len() == 0 {
		return actors.OutboundJob{}, false
	}
	job := d.items[d.head]
	d.items[d.head] = actors.OutboundJob{}
	d.head++
	switch n := d.len(); {
	case n == 0:
		d.items, d.head = d.items[:0], 0
	case d.head >= 1024 && d.head > n:
		// Mostly consumed: slide the rest down so the array is reused.
		copy(d.items, d.items[d.head:])
		clear(d.items[n:])
		d.items, d.head = d.items[:n], 0
	}
	return job, true
}

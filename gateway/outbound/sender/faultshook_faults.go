//go:build faults

package sender

import "github.com/wacc/engine/actors"

// JobFaultsPanic is a job kind that makes the sender's handler panic, in
// builds with the faults tag only: the fault suite's poison job.
const JobFaultsPanic = "faults.panic"

func init() {
	faultsHook = func(job actors.OutboundJob) {
		if job.Kind == JobFaultsPanic {
			panic("faults: a job that makes the handler panic")
		}
	}
}

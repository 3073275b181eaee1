package main

import (
	"context"
	"fmt"
	"net/http"
)

// placedCheck compares the Exotel sandbox's log of placed calls with the
// calls the engine accepted from the bench.
type placedCheck struct {
	// placed is how many calls the sandbox placed since it started (the
	// last sequence number); listed how many its log still holds (it
	// keeps the newest 10,000).
	placed, listed int
	// twice counts placements beyond the first of one call (by
	// CustomField, our call id); notPlaced the accepted calls the engine
	// closed with an Exotel CallSid that the complete log does not hold;
	// foreign the placements of calls the bench was not answered 202 for.
	twice, notPlaced, foreign int
	// expected is how many accepted calls closed with an Exotel CallSid.
	expected  int
	unchecked bool
}

// wrong is the number of calls not placed exactly once: zero when every
// accepted call the engine says it placed was placed once and nothing
// else was. When the log dropped its oldest entries, the total placed must
// still equal the calls the engine says it placed.
func (c placedCheck) wrong() int {
	n := c.twice + c.notPlaced + c.foreign
	if c.listed < c.placed && c.placed != c.expected {
		n += abs(c.placed - c.expected)
	}
	return n
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (c placedCheck) extra() map[string]float64 {
	return map[string]float64{"placed": float64(c.placed), "placedTwice": float64(c.twice), "acceptedNotPlaced": float64(c.notPlaced),
		"placedNotAccepted": float64(c.foreign), "placedExpected": float64(c.expected)}
}

// partialNote says when the sandbox's log no longer held every placement.
func (c placedCheck) partialNote() string {
	if c.listed >= c.placed {
		return ""
	}
	return fmt.Sprintf(" (the sandbox's log kept the newest %d of %d placements: the older ones were checked by count only, %d placed against %d the engine says it placed)", c.listed, c.placed, c.placed, c.expected)
}

// sandboxPlacement is an entry of GET /sandbox/exotel/calls.
type sandboxPlacement struct {
	Seq         uint64 `json:"seq"`
	Sid         string `json:"sid"`
	CustomField string `json:"customField"`
}

// checkPlacedOnce reads the sandbox's placed calls and compares them with
// the tracker's accepted calls.
func checkPlacedOnce(ctx context.Context, g *engine, sandbox string, tr *callTracker) (placedCheck, error) {
	var out struct {
		Data struct {
			Items []sandboxPlacement `json:"items"`
		} `json:"data"`
	}
	if err := g.do(ctx, http.MethodGet, sandbox+"/sandbox/exotel/calls", "", nil, http.StatusOK, &out); err != nil {
		return placedCheck{}, fmt.Errorf("read the Exotel sandbox's placed calls: %w", err)
	}
	return comparePlacements(out.Data.Items, tr.acceptedIDs()), nil
}

// comparePlacements checks the placements (oldest first) against the
// accepted calls (id → the engine closed it with an Exotel CallSid).
func comparePlacements(items []sandboxPlacement, accepted map[string]bool) placedCheck {
	c := placedCheck{listed: len(items)}
	seen := map[string]int{}
	for _, it := range items {
		c.placed = max(c.placed, int(it.Seq))
		seen[it.CustomField]++
		if _, ours := accepted[it.CustomField]; !ours {
			c.foreign++
		} else if seen[it.CustomField] > 1 {
			c.twice++
		}
	}
	for id, placed := range accepted {
		if placed {
			c.expected++
		}
		if placed && seen[id] == 0 && c.listed >= c.placed {
			c.notPlaced++
		}
	}
	return c
}

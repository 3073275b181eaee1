package auth

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"strings"
	"sync"
)

//go:generate go run gen_breached.go

// breachedList is the engine's list of common and breached passwords, one
// per line, lower case, gzip-compressed: the entries of 8 to 128 characters
// of zxcvbn's password list (github.com/trustelem/zxcvbn v1.0.1,
// data/passwords.txt, MIT; ranked by frequency in leaked password dumps).
// gen_breached.go writes it.
//
//go:embed breached.txt.gz
var breachedList []byte

// breachedSet is breachedList decompressed, on first use.
var breachedSet = sync.OnceValue(func() map[string]struct{} {
	zr, err := gzip.NewReader(bytes.NewReader(breachedList))
	if err != nil {
		panic("auth: embedded breached-password list is corrupt: " + err.Error())
	}
	set := make(map[string]struct{}, 16384)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if p := sc.Text(); p != "" {
			set[p] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		panic("auth: embedded breached-password list is corrupt: " + err.Error())
	}
	return set
})

// Breached reports whether password is on the engine's list of common and
// breached passwords, compared without regard to case ("Password1" is
// "password1"). Safe for concurrent use; the first call loads the list.
func Breached(password string) bool {
	_, ok := breachedSet()[strings.ToLower(password)]
	return ok
}

// BreachedCount is how many passwords the list holds.
func BreachedCount() int { return len(breachedSet()) }

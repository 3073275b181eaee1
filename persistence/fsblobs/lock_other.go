//go:build !unix

package fsblobs

import "os"

// lockFile is a no-op where flock(2) is missing.
func lockFile(*os.File) error { return nil }

// tryLockFile never reports a temporary file free where flock(2) is
// missing: Sweep then leaves temporary files alone rather than risk
// removing one a Put is writing.
func tryLockFile(*os.File) (bool, error) { return false, nil }

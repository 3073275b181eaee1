package sealed

// Batch is what one step of a re-encryption did: rows (or blobs) read,
// resealed under the current key, and left because the engine wrote them
// between the read and the conditional write (a later run takes them up if
// they are still stale). Next is the cursor to resume after; "" when the
// kind is done.
type Batch struct {
	Scanned  int
	Resealed int
	Raced    int
	Next     string
}

package mediabytes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/wacc/engine/actors"
)

// Create keeps a new medium: it stores the m.Size bytes read from body
// under m.SHA256, creates the record m, then stores the bytes again, which
// costs one existence check when they are there. The second store is what
// makes a concurrent Release of the same bytes safe (see the package
// documentation). body is read from its start each time: the upload's
// temporary file.
//
// When the record cannot be created the bytes are released again if the
// store refused the record for certain (actors.ErrDuplicate); the error
// wraps the store's. When the second store fails, the record is deleted
// again and the bytes released, so no record is left without its bytes.
func Create(ctx context.Context, store actors.MediaStore, blobs Blobs, m actors.Media, body io.ReadSeeker) error {
	undo := func(ctx context.Context) error {
		if err := store.DeleteMedia(ctx, m.ID); err != nil && !errors.Is(err, actors.ErrNotFound) {
			return err
		}
		return nil
	}
	return keep(ctx, store, blobs, m, body, "create media", store.CreateMedia, actors.ErrDuplicate, undo)
}

// Save is Create for a record that exists: the bytes of an inbound medium
// were fetched and m (status stored, SHA256 and Size set) replaces its
// pending record. A record that is gone is actors.ErrNotFound, nothing
// stored. When the second store fails, the record as it was before is put
// back (a pending inbound medium stays pending, to be fetched again: never
// lost), and the bytes released.
func Save(ctx context.Context, store actors.MediaStore, blobs Blobs, m actors.Media, body io.ReadSeeker) error {
	prev, err := store.Media(ctx, m.ID)
	if err != nil {
		if errors.Is(err, actors.ErrNotFound) {
			return fmt.Errorf("save media %s: %w", m.ID, err)
		}
		return fmt.Errorf("save media %s: read the record: %w", m.ID, err)
	}
	undo := func(ctx context.Context) error {
		if err := store.SaveMedia(ctx, prev); err != nil && !errors.Is(err, actors.ErrNotFound) {
			return err
		}
		return nil
	}
	return keep(ctx, store, blobs, m, body, "save media", store.SaveMedia, actors.ErrNotFound, undo)
}

// keep puts the bytes, writes the record with write, and puts the bytes
// again. refused is the error of write after which the record is certainly
// not stored; any other failure may have stored it (a timeout), so the
// bytes are kept then.
func keep(ctx context.Context, store actors.MediaStore, blobs Blobs, m actors.Media, body io.ReadSeeker,
	op string, write func(context.Context, actors.Media) error, refused error, undo func(context.Context) error,
) error {
	op = fmt.Sprintf("%s %s", op, m.ID)
	if err := put(ctx, blobs, m, body); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := write(ctx, m); err != nil {
		err = fmt.Errorf("%s: %w", op, err)
		if errors.Is(err, refused) {
			uctx, cancel := undoContext(ctx)
			defer cancel()
			return errors.Join(err, Release(uctx, store, blobs, m.SHA256))
		}
		return err
	}
	if err := put(ctx, blobs, m, body); err != nil {
		err = fmt.Errorf("%s: store bytes again: %w", op, err)
		uctx, cancel := undoContext(ctx)
		defer cancel()
		if derr := undo(uctx); derr != nil {
			return errors.Join(err, fmt.Errorf("%s: undo record: %w", op, derr))
		}
		return errors.Join(err, Release(uctx, store, blobs, m.SHA256))
	}
	return nil
}

// put stores body, from its start, under m's digest.
func put(ctx context.Context, blobs Blobs, m actors.Media, body io.ReadSeeker) error {
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind bytes: %w", err)
	}
	if err := blobs.Put(ctx, m.SHA256, m.Size, body); err != nil {
		return fmt.Errorf("store bytes: %w", err)
	}
	return nil
}

// Delete removes the record id, then its bytes when no other record
// references them (Release). actors.ErrNotFound when there is no such
// record. A medium without bytes (pending) has nothing to release.
func Delete(ctx context.Context, store actors.MediaStore, blobs Blobs, id string) error {
	m, err := store.Media(ctx, id)
	if err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	if err := store.DeleteMedia(ctx, id); err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	if m.SHA256 == "" {
		return nil
	}
	if err := Release(ctx, store, blobs, m.SHA256); err != nil {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	return nil
}

// Release removes the bytes of sha when no record references them. It
// counts the references, hides the bytes, counts again, and then purges
// them, or puts them back when a record appeared meanwhile (or the second
// count failed). Bytes already gone, or hidden by a concurrent Release, are
// left to that Release. After putting bytes back it starts over, up to
// releaseRounds times: the record that appeared may be gone again, deleted
// by a Release that found the bytes hidden and left them to this one.
// Delete and the undo paths of Create and Save call it.
func Release(ctx context.Context, store actors.MediaStore, blobs Blobs, sha string) error {
	op := "release bytes " + sha
	for range releaseRounds {
		n, err := store.CountMediaBySHA256(ctx, sha)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if n > 0 {
			return nil
		}
		hidden, err := blobs.Hide(ctx, sha)
		if errors.Is(err, actors.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		n, err = store.CountMediaBySHA256(ctx, sha)
		if err != nil {
			return errors.Join(fmt.Errorf("%s: count again: %w", op, err), unhide(ctx, blobs, op, hidden))
		}
		if n == 0 {
			if err := blobs.Purge(ctx, hidden); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			return nil
		}
		if err := unhide(ctx, blobs, op, hidden); err != nil {
			return err
		}
	}
	return nil
}

// releaseRounds bounds how often Release starts over after putting bytes
// back; past it, bytes that uploads and deletions keep racing for stay
// (wasted space, never a lost attachment).
const releaseRounds = 8

// undoTimeout bounds an undo: putting hidden bytes back, or removing a
// record whose bytes could not be stored. An undo runs even when the
// caller's context is done: a request cancelled half-way must not leave a
// record without its bytes.
const undoTimeout = 30 * time.Second

func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
}

func unhide(ctx context.Context, blobs Blobs, op, hidden string) error {
	ctx, cancel := undoContext(ctx)
	defer cancel()
	if err := blobs.Unhide(ctx, hidden); err != nil {
		return fmt.Errorf("%s: put back: %w", op, err)
	}
	return nil
}

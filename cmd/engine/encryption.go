package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/wacc/engine/configs"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/mongostore"
	"github.com/wacc/engine/persistence/sealed"
)

// dataKeyring builds the keyring of DATA_ENCRYPTION_KEYS and DATA_HASH_KEY;
// nil when encryption at rest is off. A malformed key is a configuration
// error naming the variable.
func dataKeyring(cfg configs.Config) (*sealed.Keyring, error) {
	k, err := sealed.Parse(cfg.DataEncryptionKeys, cfg.DataHashKey)
	if err != nil {
		return nil, invalidConfig([]string{err.Error()})
	}
	return k, nil
}

// logEncryptionAtRest says at start whether data is encrypted at rest; off
// is a loud warning (production refuses to start without keys: Validate).
func logEncryptionAtRest(cfg configs.Config, log *zap.Logger) {
	k, err := dataKeyring(cfg)
	switch {
	case err != nil:
		return // openStore reports it
	case k == nil:
		log.Warn("ENCRYPTION AT REST IS OFF: customer names, e-mails and attributes, message bodies and media are stored in plaintext; set DATA_ENCRYPTION_KEYS and DATA_HASH_KEY (required when APP_ENV=production)")
	default:
		log.Info("encryption at rest on", zap.String("current_key", k.Current()), zap.Strings("keys", k.IDs()))
	}
}

// reencrypter is a store that can move its sealed data to the newest key.
type reencrypter interface {
	ReencryptKinds() []string
	Reencrypt(ctx context.Context, kind, after string, limit int) (sealed.Batch, error)
}

// reencryptCommand runs `engine reencrypt [--batch N] [--kinds K,...]
// [--after ID]`: every customer, message and media file not sealed under
// the first key of DATA_ENCRYPTION_KEYS (plaintext written before
// encryption was on, or sealed under an older key) is resealed under it,
// in batches. Each record is a conditional write, so it runs beside live
// engines; a run can stop at any point and is simply run again (records
// already moved are skipped), or resumed with --after from the cursor of
// the last progress line.
func reencryptCommand(ctx context.Context, cfg configs.Config, log *zap.Logger, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("reencrypt", flag.ContinueOnError)
	fs.SetOutput(stdout)
	batch := fs.Int("batch", 500, "records per batch")
	kindsFlag := fs.String("kinds", "customers,messages,media", "comma-separated kinds to move, in order")
	after := fs.String("after", "", "resume the first kind after this id (the cursor of a progress line)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 100_000 {
		return errors.New("reencrypt: --batch must be 1 to 100000")
	}
	keys, err := dataKeyring(cfg)
	if err != nil {
		return err
	}
	if keys == nil {
		return errors.New("reencrypt: DATA_ENCRYPTION_KEYS is not set; there is no key to move data to")
	}
	// Only the store and the media bytes: no listener, queue or DATA_DIR
	// lock, so this runs while engines serve the same database.
	store, _, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Warn("close store", zap.Error(err))
		}
	}()
	movers := map[string]reencrypter{}
	rs, ok := store.(reencrypter)
	if !ok {
		return fmt.Errorf("reencrypt: store %T cannot reencrypt", store)
	}
	for _, k := range rs.ReencryptKinds() {
		movers[k] = rs
	}
	if ms, ok := store.(*mongostore.Store); ok {
		movers["media"] = ms.Blobs(mongostore.DefaultChunkSize)
	} else {
		// No sweep: a running engine owns DATA_DIR's temporary files.
		blobs, err := fsblobs.Open(filepath.Join(cfg.DataDir, "media"), fsblobs.WithKeyring(keys), fsblobs.WithoutSweep())
		if err != nil {
			return fmt.Errorf("reencrypt: open the media store in DATA_DIR: %w", err)
		}
		movers["media"] = blobs
	}
	kinds := strings.Split(*kindsFlag, ",")
	for _, kind := range kinds {
		if _, ok := movers[strings.TrimSpace(kind)]; !ok {
			names := make([]string, 0, len(movers))
			for k := range movers {
				names = append(names, k)
			}
			slices.Sort(names)
			return fmt.Errorf("reencrypt: unknown kind %q; kinds: %s", kind, strings.Join(names, ", "))
		}
	}
	fmt.Fprintf(stdout, "reencrypt to key %q (keys: %s)\n", keys.Current(), strings.Join(keys.IDs(), ", "))
	cursor := *after
	for _, kind := range kinds {
		kind = strings.TrimSpace(kind)
		var total sealed.Batch
		for {
			b, err := movers[kind].Reencrypt(ctx, kind, cursor, *batch)
			total.Scanned += b.Scanned
			total.Resealed += b.Resealed
			total.Raced += b.Raced
			if err != nil {
				return fmt.Errorf("reencrypt %s after %q (rerun with --kinds %s --after %q to resume): %w", kind, cursor, kind, cursor, err)
			}
			if b.Next == "" {
				break
			}
			cursor = b.Next
			fmt.Fprintf(stdout, "%s: %d scanned, %d resealed, %d changed meanwhile; cursor %s\n",
				kind, total.Scanned, total.Resealed, total.Raced, cursor)
		}
		cursor = ""
		fmt.Fprintf(stdout, "%s done: %d scanned, %d resealed, %d changed meanwhile (rerun to take those)\n",
			kind, total.Scanned, total.Resealed, total.Raced)
	}
	return nil
}

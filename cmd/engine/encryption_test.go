package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/wacc/engine/actors"
	"github.com/wacc/engine/gateway/media/samples"
	"github.com/wacc/engine/persistence/blobtest"
	"github.com/wacc/engine/persistence/fsblobs"
	"github.com/wacc/engine/persistence/sealed"
	"github.com/wacc/engine/persistence/sqlitestore"
	"github.com/wacc/engine/persistence/storetest"
)

// runEngineCommand runs the engine binary with env and args.
func runEngineCommand(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "ENGINE_TEST_RUN_MAIN=1", "LOG_LEVEL=warn", "SANDBOX_PORT=0", "SANDBOX_EXOTEL_PORT=0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestReencryptCommand: data written before encryption was on, then under
// an old key, is moved to the new key by `engine reencrypt` while an
// engine serves the same DATA_DIR, and reads back once the old key is
// retired.
func TestReencryptCommand(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	hashKey := storetest.NewKey(t)
	oldKey, newKey := "old:"+storetest.NewKey(t), "new:"+storetest.NewKey(t)
	at := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	media := bytes.Repeat([]byte("scan of an id card "), 10000)
	sha := blobtest.Digest(media)

	// Plaintext, as an engine without keys wrote it.
	s, err := sqlitestore.Open(ctx, filepath.Join(dir, "engine.db"), zap.NewNop())
	require.NoError(t, err)
	c := actors.Customer{ID: "c1", Name: "Asha Rao", Phone: "+919800000001", WaID: "919800000001", Email: "asha@example.com",
		Attributes: map[string]string{"plan": "gold"}, Version: 1, CreatedAt: at, UpdatedAt: at}
	require.NoError(t, s.CreateCustomer(ctx, c))
	require.NoError(t, s.AppendMessage(ctx, actors.Message{ID: "m1", ConversationID: "conv1", Direction: "inbound", Type: "text",
		Text: "my card number is 4111", Status: "received", CreatedAt: at, UpdatedAt: at}))
	require.NoError(t, s.Close())
	blobs, err := fsblobs.Open(filepath.Join(dir, "media"))
	require.NoError(t, err)
	require.NoError(t, blobs.Put(ctx, sha, int64(len(media)), bytes.NewReader(media)))

	// An engine with the old key serves the directory meanwhile.
	startEngine(t, map[string]string{"DATA_DIR": dir, "DATA_ENCRYPTION_KEYS": oldKey, "DATA_HASH_KEY": hashKey})

	env := map[string]string{"DATA_DIR": dir, "DATA_ENCRYPTION_KEYS": newKey + "," + oldKey, "DATA_HASH_KEY": hashKey}
	out, err := runEngineCommand(t, env, "reencrypt", "--batch", "1")
	require.NoError(t, err, out)
	assert.Contains(t, out, `reencrypt to key "new"`)
	assert.Contains(t, out, "customers done: 1 scanned, 1 resealed")
	assert.Contains(t, out, "messages done: 1 scanned, 1 resealed")
	assert.Contains(t, out, "media done: 1 scanned, 1 resealed")
	out, err = runEngineCommand(t, env, "reencrypt")
	require.NoError(t, err, out)
	assert.Contains(t, out, "customers done: 1 scanned, 0 resealed", "a second run has nothing to move")

	retired := storetest.Keyring(t, hashKey, newKey)
	s, err = sqlitestore.Open(ctx, filepath.Join(dir, "engine.db"), zap.NewNop(), sqlitestore.WithKeyring(retired))
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Customer(ctx, "c1")
	require.NoError(t, err)
	assert.Equal(t, c.Name, got.Name)
	assert.Equal(t, c.Attributes, got.Attributes)
	msgs, _, err := s.ListMessages(ctx, "conv1", "", 10)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	assert.Equal(t, "my card number is 4111", msgs[0].Text)
	fb, err := fsblobs.Open(filepath.Join(dir, "media"), fsblobs.WithKeyring(retired), fsblobs.WithoutSweep())
	require.NoError(t, err)
	b, err := fb.Open(ctx, sha)
	require.NoError(t, err)
	read, err := io.ReadAll(b)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	assert.Equal(t, media, read)
	raw, err := os.ReadFile(filepath.Join(dir, "media", sha[:2], sha[2:4], sha))
	require.NoError(t, err)
	head := raw[:sealed.StreamHeadLen]
	id, ok := sealed.StreamKeyID(head)
	require.True(t, ok)
	assert.Equal(t, "new", id)
}

func TestEncryptionConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		// want is a fragment of the output.
		want string
	}{
		{name: "production refuses to start without keys", env: map[string]string{"APP_ENV": "production"}, want: "DATA_ENCRYPTION_KEYS: is required in production"},
		{name: "a malformed key names the variable", env: map[string]string{"DATA_ENCRYPTION_KEYS": "k1:short", "DATA_HASH_KEY": "x"}, want: "DATA_ENCRYPTION_KEYS key \"k1\""},
		{name: "keys without a hash key", env: map[string]string{"DATA_ENCRYPTION_KEYS": "k1:" + storetest.NewKey(t)}, want: "DATA_HASH_KEY: is required with DATA_ENCRYPTION_KEYS"},
		{name: "reencrypt needs keys", env: map[string]string{}, args: []string{"reencrypt"}, want: "DATA_ENCRYPTION_KEYS is not set"},
		{name: "reencrypt refuses an unknown kind", env: map[string]string{"DATA_ENCRYPTION_KEYS": "k1:" + storetest.NewKey(t), "DATA_HASH_KEY": storetest.NewKey(t)},
			args: []string{"reencrypt", "--kinds", "users"}, want: `unknown kind "users"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["DATA_DIR"] = t.TempDir()
			args := tc.args
			if args == nil {
				args = []string{"serve"}
			}
			out, err := runEngineCommand(t, tc.env, args...)
			require.Error(t, err, out)
			assert.Contains(t, out, tc.want)
			assert.False(t, strings.Contains(out, "engine listening"), "it never started")
		})
	}
}

// TestSealedMediaThroughTheEngine: with DATA_ENCRYPTION_KEYS the bytes on
// disk are sealed, and the content route still serves the whole file and
// byte ranges (http.ServeContent seeks in the sealed stream).
func TestSealedMediaThroughTheEngine(t *testing.T) {
	cfg := testConfig(t)
	cfg.MediaMaxBytes = 4 << 20
	cfg.DataEncryptionKeys = "k1:" + storetest.NewKey(t)
	cfg.DataHashKey = storetest.NewKey(t)
	l := startLive(t, cfg)
	_, agent := l.user(actors.RoleAgent)

	img := samples.JPEGOfSize(1 << 20)
	st, body := l.uploadFile(agent, "passport.jpg", img)
	require.Equal(t, http.StatusCreated, st, "%v", body)
	m := body["data"].(map[string]any)["media"].(map[string]any)
	digest := m["sha256"].(string)
	onDisk, err := os.ReadFile(filepath.Join(cfg.DataDir, "media", digest[:2], digest[2:4], digest))
	require.NoError(t, err)
	id, ok := sealed.StreamKeyID(onDisk[:sealed.StreamHeadLen])
	require.True(t, ok, "sealed on disk")
	assert.Equal(t, "k1", id)
	assert.False(t, bytes.Contains(onDisk, img[1000:1100]), "no plaintext run on disk")

	get := func(rangeHeader string) (int, []byte) {
		req, err := http.NewRequest("GET", l.url+"/api/media/"+m["id"].(string)+"/content", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+agent)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		res, err := l.client.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		got, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, got
	}
	st, got := get("")
	require.Equal(t, http.StatusOK, st)
	assert.Equal(t, img, got)
	st, got = get("bytes=65530-131080")
	require.Equal(t, http.StatusPartialContent, st)
	assert.Equal(t, img[65530:131081], got, "a range across segment boundaries")
	st, got = get("bytes=-10")
	require.Equal(t, http.StatusPartialContent, st)
	assert.Equal(t, img[len(img)-10:], got)
}

package main

import (
	"bytes"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMediaBodiesAreDistinctValidJPEGs: every upload body of the media
// scenario is a multipart body of one file field holding a 1 MB JPEG that
// decodes, and two uploads carry different bytes.
func TestMediaBodiesAreDistinctValidJPEGs(t *testing.T) {
	m, err := newMediaBody()
	require.NoError(t, err)
	_, params, err := mime.ParseMediaType(m.ctype)
	require.NoError(t, err)
	images := make([][]byte, 2)
	for i := range images {
		rd, n := m.reader(int64(i))
		raw, err := io.ReadAll(rd)
		require.NoError(t, err)
		require.EqualValues(t, n, len(raw))
		part, err := multipart.NewReader(bytes.NewReader(raw), params["boundary"]).NextPart()
		require.NoError(t, err)
		assert.Equal(t, "file", part.FormName())
		images[i], err = io.ReadAll(part)
		require.NoError(t, err)
		require.Len(t, images[i], mediaImageSize)
		_, err = jpeg.Decode(bytes.NewReader(images[i]))
		require.NoError(t, err)
	}
	assert.NotEqual(t, images[0], images[1])
}

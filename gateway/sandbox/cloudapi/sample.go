package cloudapi

// sampleFile is the file a simulated medium of mimeType carries when the
// request gives no data.
func sampleFile(mimeType string, animated bool, label string) []byte {
	_ = animated
	return []byte("sandbox " + mimeType + " file: " + label + "\n")
}

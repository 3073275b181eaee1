package actors

// rawJSON marshals as the JSON it holds.
type rawJSON []byte

// MarshalJSON returns r itself.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

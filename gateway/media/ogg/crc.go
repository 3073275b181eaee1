package ogg

var table = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04C11DB7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// CRC is the checksum of an OGG page (polynomial 0x04C11DB7, initial 0,
// not reflected, no final xor), computed over the page with its CRC field
// (bytes 22-25) taken as zero.
func CRC(page []byte) uint32 {
	var crc uint32
	for i, b := range page {
		if i >= 22 && i < 26 {
			b = 0
		}
		crc = crc<<8 ^ table[byte(crc>>24)^b]
	}
	return crc
}

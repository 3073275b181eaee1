// Package ogg holds what both the media validator (gateway/media) and the
// sample generator (gateway/media/samples) need of the OGG container: the
// page checksum.
package ogg

// Package exotelhook reads Exotel's status callbacks: the JSON bodies asked
// for with StatusCallbackContentType=application/json, and the
// form-encoded and multipart forms Exotel sends otherwise (Legs as
// Legs[i][Field]). Parse maps Exotel's statuses onto the engine's call
// statuses and gives each callback a content-derived id (CallSid,
// EventType, Status, DateUpdated), so a callback Exotel repeats is stored
// once. Exotel does not sign its callbacks: the receiver authenticates them
// by a secret in the StatusCallback URL.
package exotelhook

// Package sandbox is the room of the fakes of the outside services the engine
// talks to: one package per service, each as strict and as late as the real
// one, so that what passes against a fake passes live.
//
//   - cloudapi: Meta's WhatsApp Cloud API (send, media, signed status
//     webhooks, simulated inbound messages, failure injection).
//   - exotel: Exotel's Voice v1 API (connect two numbers, call details,
//     status callbacks, outcomes by the customer's number, failure injection).
//
// cmd/sandbox serves them on their own; cmd/engine starts them in process
// when no real credentials are configured. Nothing in the engine's
// production paths imports them.
package sandbox

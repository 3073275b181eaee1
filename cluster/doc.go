// Package cluster makes several engines one: membership on protoactor-go's
// cluster, placement of conversations on members by rendezvous hashing
// (Placement), and delivery of conversation commands to the member that
// owns their key.
package cluster

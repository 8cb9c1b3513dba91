// Package consensus is the UNL round consensus as a pure state machine: messages and ticks in,
// a Ready batch of effects out.
//
// It never does I/O: no goroutines, no sockets, no wall clock, no randomness but an injected source.
package consensus

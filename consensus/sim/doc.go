// Package sim is a deterministic simulator for package consensus: N nodes over a seeded virtual
// network that drops, delays, duplicates, reorders and partitions messages, with crashes and
// restarts from persisted ledgers, a node whose contract is non-deterministic, and an optional
// equivocating UNL member. One seed fixes every random choice, so a failing seed replays exactly.
// A stream scenario (Options.StreamRate) feeds thousands of inputs per virtual second into one node
// over FIFO links, with contract execution time proportional to a ledger's inputs, to check that
// ledgers keep closing in their first round while inputs flow.
//
// It relies only on consensus's public API (Step, Tick, Ready, Advance and the wire encoding: every
// message crosses the virtual network as bytes). It never uses the wall clock, goroutines or
// unseeded randomness, and it is test tooling: production code must never import it.
package sim

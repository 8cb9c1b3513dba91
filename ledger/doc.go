// Package ledger is the node's ledger chain in pebble: closed ledger records with their quorum
// certificates, the raw inputs each ledger ordered and the raw outputs whose root it records, kept
// for ledger_query and for peers that sync missing ledgers.
//
// It relies on package consensus for the record encoding, the canonical ledger hash and the
// certificate check (consensus.VerifyRecord), so a record is only ever judged by the same rules the
// consensus used to close it.
//
// Layout (every key starts with one byte naming its kind; sequence numbers are big-endian, so key
// order is sequence order):
//
//	'g'          → genesis record
//	'r' seq      → consensus.Record (MarshalBinary)
//	'i' seq      → the ledger's inputs (an encoded input batch, in ledger order)
//	'o' seq      → the outputs whose root record seq holds (Result.OutputHash)
//
// Records are hash-linked and certified, so the chain verifies from genesis (or from any retained
// record a node trusts) with no other input. Retention keeps the last N records and, separately, the
// last M ledgers' raw inputs and outputs.
//
// It must never decide anything: it stores what consensus closed, and refuses a record that does
// not extend its tip with a valid certificate.
package ledger

// Package nodedir is the on-disk layout of one hpnode directory and its creation (`hpnode new`):
// cfg/hp.cfg, the node key inside it, the user-facing TLS certificate, the hpfsd store and mount,
// the ledger store and the logs.
//
// It relies on config. It never starts processes and never opens the stores it lays out.
package nodedir

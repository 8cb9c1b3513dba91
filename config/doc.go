// Package config is hp.cfg and patch.cfg: their structure (HotPocket's field names, with hpnode's
// additions), defaults, strict parsing with errors that name the field, validation, the canonical
// patch.cfg bytes every node must produce identically, and the hp.cfg.override deep merge.
//
// It relies only on the standard library. It never reads or writes anything but the bytes and files
// its callers name, and holds no state between calls.
package config

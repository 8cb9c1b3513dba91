// Package cluster manages a local development cluster (`hpnode cluster ...`, the counterpart of
// HotPocket's hpdevkit): N node directories sharing a contract id, each in the others' UNL, on
// loopback ports, started as background `hpnode run` processes that each log into their own
// directory.
//
// It relies on nodedir and config for the directories and on the hpnode binary for the nodes. It
// never reaches into a running node other than by signals, its pid file and its status file.
package cluster

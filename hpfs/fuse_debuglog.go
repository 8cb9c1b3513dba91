package hpfs

import "bytes"

// ParseRequestLog parses one line of go-fuse's debug log (DaemonOptions.Debug): for a request
// line, "rx UNIQUE: OPCODE nNODEID ...", it returns the opcode and the node field ("" when the
// line has none); ok is false for every other line. Tests and the bench count kernel round trips
// with it.
func ParseRequestLog(line []byte) (op, node string, ok bool) {
	i := bytes.Index(line, []byte("rx "))
	if i < 0 {
		return "", "", false
	}
	rest := line[i+3:]
	j := bytes.Index(rest, []byte(": "))
	if j < 0 {
		return "", "", false
	}
	f := bytes.Fields(rest[j+2:])
	if len(f) == 0 {
		return "", "", false
	}
	if len(f) > 1 {
		node = string(f[1])
	}
	return string(f[0]), node, true
}

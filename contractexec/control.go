package contractexec

import (
	"encoding/json"
	"fmt"
)

// ControlPeerChangeset is the type of the only control message HotPocket defines: the contract's
// updatePeers(add, remove).
const ControlPeerChangeset = "peer_changeset"

// ControlMessage is one packet the contract wrote to its control channel. HotPocket sends a JSON
// object per packet; the node honours peer_changeset only when peer discovery is off.
//
// peer_changeset (the library's ctx.updatePeers) is the only message hotpocket-nodejs-contract
// 0.7.4 sends. ctx.updateConfig sends nothing here: it writes ../patch.cfg itself
// (JSON.stringify(cfg, null, 4)), and the node learns of the change from the patch.cfg hash after
// the round, as in HotPocket.
type ControlMessage struct {
	// Type is the "type" field.
	Type string
	// Add and Remove are the peer_changeset lists ("host:port"). RemoveAll is true when "remove" is
	// the string "*" (replace the known peers).
	Add, Remove []string
	RemoveAll   bool
	// Raw is the packet as received.
	Raw []byte
}

// ParseControlMessage decodes one control packet. A peer_changeset needs both "add" and "remove",
// as HotPocket's parser requires. Other types are returned with Type and Raw set, for the caller to
// log or ignore.
func ParseControlMessage(pkt []byte) (ControlMessage, error) {
	var m struct {
		Type   *string         `json:"type"`
		Add    json.RawMessage `json:"add"`
		Remove json.RawMessage `json:"remove"`
	}
	if err := json.Unmarshal(pkt, &m); err != nil {
		return ControlMessage{}, fmt.Errorf("control message: %w", err)
	}
	if m.Type == nil {
		return ControlMessage{}, fmt.Errorf("control message: no \"type\" field")
	}
	cm := ControlMessage{Type: *m.Type, Raw: append([]byte(nil), pkt...)}
	if cm.Type != ControlPeerChangeset {
		return cm, nil
	}
	if m.Add == nil || m.Remove == nil {
		return ControlMessage{}, fmt.Errorf("control message: peer_changeset needs both \"add\" and \"remove\"")
	}
	if err := json.Unmarshal(m.Add, &cm.Add); err != nil {
		return ControlMessage{}, fmt.Errorf("control message: peer_changeset add: %w", err)
	}
	var star string
	if json.Unmarshal(m.Remove, &star) == nil {
		if star != "*" {
			return ControlMessage{}, fmt.Errorf("control message: peer_changeset remove is the string %q, want \"*\" or a list", star)
		}
		cm.RemoveAll = true
		return cm, nil
	}
	if err := json.Unmarshal(m.Remove, &cm.Remove); err != nil {
		return ControlMessage{}, fmt.Errorf("control message: peer_changeset remove: %w", err)
	}
	return cm, nil
}

package contractexec

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
)

// HPVersion is the hp_version the contract sees on stdin: the HotPocket version whose ABI this is.
const HPVersion = "0.6.4"

// layout is where everything the contract reads lives: its fd numbers and, per user, the
// [offset,length] pairs of its inputs in the input memfd. order lists Spec.Users indices sorted by
// binary public key, the order HotPocket's std::map gives the stdin "users" object.
type layout struct {
	userInFd  int
	controlFd int
	nplFd     int   // -1 when readonly
	userFds   []int // indexed like Spec.Users
	inputs    [][]span
	order     []int
}

// span is one input's place in the input memfd.
type span struct{ off, len uint64 }

// sortedUsers returns the indices of users ordered by binary public key (hex-decoded; a key that is
// not hex sorts by its raw bytes), ties broken by Spec order.
func sortedUsers(users []User) []int {
	keys := make([][]byte, len(users))
	for i, u := range users {
		if k, err := hex.DecodeString(u.PublicKey); err == nil {
			keys[i] = k
		} else {
			keys[i] = []byte(u.PublicKey)
		}
	}
	order := make([]int, len(users))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	return order
}

// encodeArgs writes the stdin JSON exactly as HotPocket's write_contract_args builds it: the same
// keys in the same order, lcl fields and npl_fd omitted when readonly.
func encodeArgs(s *Spec, l *layout) []byte {
	var b bytes.Buffer
	b.Grow(256 + 80*len(s.Users) + 24*countInputs(s.Users) + 100*len(s.UNL))
	b.WriteString(`{"hp_version":`)
	writeString(&b, HPVersion)
	b.WriteString(`,"contract_id":`)
	writeString(&b, s.ContractID)
	b.WriteString(`,"public_key":`)
	writeString(&b, s.PublicKey)
	b.WriteString(`,"private_key":`)
	writeString(&b, s.PrivateKey)
	b.WriteString(`,"timestamp":`)
	if s.Readonly {
		b.WriteString("0")
	} else {
		b.WriteString(strconv.FormatUint(s.Timestamp, 10))
	}
	b.WriteString(`,"readonly":`)
	b.WriteString(strconv.FormatBool(s.Readonly))
	if !s.Readonly {
		b.WriteString(`,"lcl_seq_no":`)
		b.WriteString(strconv.FormatUint(s.LCLSeq, 10))
		b.WriteString(`,"lcl_hash":`)
		writeString(&b, s.LCLHash)
		b.WriteString(`,"npl_fd":`)
		b.WriteString(strconv.Itoa(l.nplFd))
	}
	b.WriteString(`,"control_fd":`)
	b.WriteString(strconv.Itoa(l.controlFd))
	b.WriteString(`,"user_in_fd":`)
	b.WriteString(strconv.Itoa(l.userInFd))
	b.WriteString(`,"users":{`)
	for n, i := range l.order {
		if n > 0 {
			b.WriteByte(',')
		}
		writeString(&b, s.Users[i].PublicKey)
		b.WriteString(`:[`)
		b.WriteString(strconv.Itoa(l.userFds[i]))
		for _, sp := range l.inputs[i] {
			b.WriteString(",[")
			b.WriteString(strconv.FormatUint(sp.off, 10))
			b.WriteByte(',')
			b.WriteString(strconv.FormatUint(sp.len, 10))
			b.WriteByte(']')
		}
		b.WriteByte(']')
	}
	b.WriteString(`},"unl":{`)
	for n, u := range s.UNL {
		if n > 0 {
			b.WriteByte(',')
		}
		writeString(&b, u.PublicKey)
		b.WriteString(`:{"active_on":`)
		b.WriteString(strconv.FormatUint(u.ActiveOn, 10))
		b.WriteString(`}`)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

// writeString writes s as a JSON string. HotPocket does not escape (its keys and ids are hex and
// UUIDs); escaping here keeps the JSON valid whatever the configuration holds.
func writeString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

func countInputs(users []User) int {
	n := 0
	for _, u := range users {
		n += len(u.Inputs)
	}
	return n
}

package userapi

// ParseInputContainer decodes a signed input_container (as carried in a ledger, or relayed by a
// peer) into the input the contract receives and its nonce and max_ledger_seq_no. The node uses it
// to feed the contract with inputs that other nodes' users submitted.
func ParseInputContainer(p Protocol, container []byte) (data []byte, nonce, maxLedgerSeq uint64, err error) {
	in, err := decodeInputContainer(p, container)
	if err != nil {
		return nil, 0, 0, err
	}
	return in.Data, in.Nonce, in.MaxLedgerSeq, nil
}

package consensus

// MarshalBinary encodes the hard state for the caller's store.
func (h *HardState) MarshalBinary() ([]byte, error) {
	var e enc
	e.u64(h.Seq)
	e.u32(h.Round)
	if h.Locked {
		e.u8(1)
		e.u32(h.LockRound)
		encodeValue(&e, &h.Lock)
	} else {
		e.u8(0)
	}
	return e.b, nil
}

// UnmarshalBinary decodes a hard state written by MarshalBinary.
func (h *HardState) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	*h = HardState{}
	h.Seq = d.u64("hard state seq")
	h.Round = d.u32("hard state round")
	switch d.u8("hard state locked") {
	case 0:
	case 1:
		h.Locked = true
		h.LockRound = d.u32("lock round")
		h.Lock = decodeValue(&d)
	default:
		d.fail("hard state lock flag")
	}
	return d.done("hard state")
}

package consensus

import "bytes"

func encodeConfig(e *enc, c UNLConfig) {
	e.u8(c.Threshold)
	e.u32(uint32(len(c.UNL)))
	for _, k := range c.UNL {
		e.hash(k)
	}
}

func decodeConfig(d *dec) UNLConfig {
	var c UNLConfig
	c.Threshold = d.u8("threshold")
	n := d.count("unl", MaxUNL, 32)
	if n > 0 {
		c.UNL = make([]PubKey, n)
	}
	for i := range c.UNL {
		c.UNL[i] = d.hash("unl key")
		if i > 0 && bytes.Compare(c.UNL[i-1][:], c.UNL[i][:]) >= 0 {
			d.fail("unl not strictly sorted at %d", i)
		}
	}
	return c
}

func encodeResult(e *enc, r *Result) {
	e.u64(r.Seq)
	e.hash(r.StateHash)
	e.hash(r.PatchHash)
	e.hash(r.OutputHash)
	encodeConfig(e, r.Config)
}

func decodeResult(d *dec) Result {
	var r Result
	r.Seq = d.u64("result seq")
	r.StateHash = d.hash("state hash")
	r.PatchHash = d.hash("patch hash")
	r.OutputHash = d.hash("output hash")
	r.Config = decodeConfig(d)
	return r
}

// encodeValue writes the canonical encoding: every set strictly sorted, so one value has exactly one
// encoding and its hash is well defined.
func encodeValue(e *enc, v *Value) {
	e.u64(v.Time)
	e.u32(uint32(len(v.Users)))
	for _, u := range v.Users {
		e.hash(u)
	}
	e.u32(uint32(len(v.Inputs)))
	for _, in := range v.Inputs {
		e.raw(in[:])
	}
	e.u32(uint32(len(v.Nonces)))
	for _, n := range v.Nonces {
		e.hash(n)
	}
	encodeResult(e, &v.Result)
}

func decodeValue(d *dec) Value {
	var v Value
	v.Time = d.u64("time")
	if n := d.count("users", MaxUsers, 32); n > 0 {
		v.Users = make([]PubKey, n)
		for i := range v.Users {
			v.Users[i] = d.hash("user")
			if i > 0 && bytes.Compare(v.Users[i-1][:], v.Users[i][:]) >= 0 {
				d.fail("users not strictly sorted at %d", i)
			}
		}
	}
	if n := d.count("inputs", MaxInputs, 40); n > 0 {
		v.Inputs = make([]OrderedHash, n)
		for i := range v.Inputs {
			copy(v.Inputs[i][:], d.take(40, "input"))
			if i > 0 && bytes.Compare(v.Inputs[i-1][:], v.Inputs[i][:]) >= 0 {
				d.fail("inputs not strictly sorted at %d", i)
			}
		}
	}
	if n := d.count("nonces", MaxUNL, 32); n > 0 {
		v.Nonces = make([]Hash, n)
		for i := range v.Nonces {
			v.Nonces[i] = d.hash("nonce")
			if i > 0 && bytes.Compare(v.Nonces[i-1][:], v.Nonces[i][:]) >= 0 {
				d.fail("nonces not strictly sorted at %d", i)
			}
		}
	}
	v.Result = decodeResult(d)
	return v
}

// MarshalBinary returns the canonical encoding of v.
func (v *Value) MarshalBinary() ([]byte, error) {
	var e enc
	encodeValue(&e, v)
	return e.b, nil
}

// UnmarshalBinary decodes a canonical value, rejecting unsorted sets, oversized counts and
// trailing bytes.
func (v *Value) UnmarshalBinary(b []byte) error {
	d := dec{b: b}
	*v = decodeValue(&d)
	return d.done("value")
}

package hpfs

import (
	"bytes"
	"testing"
	"time"
)

func FuzzDecodeVersion(f *testing.F) {
	v := Version{Seq: 7, Time: time.Unix(1700000000, 5).UTC()}
	v.Root[0] = 0xab
	f.Add(versionKey(v.Seq), encodeVersion(v))
	f.Add([]byte{tagVersion}, []byte{1, 2})
	f.Fuzz(func(t *testing.T, key, val []byte) {
		got, err := decodeVersion(key, val)
		if err != nil {
			return
		}
		if !bytes.Equal(versionKey(got.Seq), key) || !bytes.Equal(encodeVersion(got), val) {
			t.Fatalf("decode(%x, %x) = %+v does not re-encode to its input", key, val, got)
		}
	})
}

func TestDecodeVersionRejectsWrongLengths(t *testing.T) {
	good := encodeVersion(Version{Seq: 1, Time: time.Unix(0, 0)})
	for _, c := range []struct{ key, val []byte }{
		{versionKey(1)[:8], good},
		{versionKey(1), good[:39]},
		{append(versionKey(1), 0), good},
		{versionKey(1), append(good, 0)},
	} {
		if _, err := decodeVersion(c.key, c.val); err == nil {
			t.Errorf("accepted key %x value %x", c.key, c.val)
		}
	}
}

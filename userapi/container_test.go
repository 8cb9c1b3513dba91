package userapi

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestParseInputContainerBothProtocols(t *testing.T) {
	j := []byte(`{"input":"héllo","nonce":1700000000000,"max_ledger_seq_no":42}`)
	data, nonce, max, err := ParseInputContainer(JSON, j)
	if err != nil || string(data) != "héllo" || nonce != 1700000000000 || max != 42 {
		t.Fatalf("json: %q %d %d %v", data, nonce, max, err)
	}
	b := bsonSeed(bson.D{{Key: "input", Value: []byte{0, 0xff}}, {Key: "nonce", Value: int64(7)}, {Key: "max_ledger_seq_no", Value: int64(9)}})
	data, nonce, max, err = ParseInputContainer(BSON, b)
	if err != nil || string(data) != "\x00\xff" || nonce != 7 || max != 9 {
		t.Fatalf("bson: %q %d %d %v", data, nonce, max, err)
	}
	for _, c := range []struct {
		p Protocol
		b []byte
	}{
		{JSON, b}, {BSON, j}, {JSON, []byte(`{"input":"x","nonce":0,"max_ledger_seq_no":1}`)},
		{BSON, bsonSeed(bson.D{{Key: "input", Value: []byte("x")}, {Key: "nonce", Value: int64(-1)}, {Key: "max_ledger_seq_no", Value: int64(1)}})},
	} {
		if _, _, _, err := ParseInputContainer(c.p, c.b); err == nil {
			t.Errorf("%v container %q parsed", c.p, c.b)
		}
	}
}

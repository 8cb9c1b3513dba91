package consensus

import (
	"fmt"
	"testing"
)

func TestOutputTreeFoldsToRootForEveryUser(t *testing.T) {
	for _, users := range []int{1, 2, 15, 16, 17, 40, 257} {
		var outs []UserOutputs
		for i := 0; i < users; i++ {
			var u PubKey
			u[0], u[1] = byte(i), byte(i>>8)
			outs = append(outs, UserOutputs{User: u, Outputs: [][]byte{[]byte(fmt.Sprint("out", i)), []byte("second")}})
		}
		state := Hash{0xaa}
		root := OutputRoot(outs, state)
		for _, uo := range outs {
			tree, r, ok := OutputTreeFor(outs, state, uo.User)
			if !ok || r != root {
				t.Fatalf("users=%d: no tree or root differs", users)
			}
			if got := tree.Fold(UserOutputHash(uo.User, uo.Outputs)); got != root {
				t.Fatalf("users=%d: fold gives %s, root %s", users, got, root)
			}
			if got := tree.Fold(UserOutputHash(uo.User, [][]byte{[]byte("forged")})); got == root {
				t.Fatalf("users=%d: a forged output folds to the root", users)
			}
		}
	}
	if OutputRoot(nil, Hash{1}) != (Hash{}) {
		t.Fatal("root without outputs is not zero")
	}
	if _, _, ok := OutputTreeFor([]UserOutputs{{User: PubKey{1}}}, Hash{}, PubKey{1}); ok {
		t.Fatal("tree for a user without outputs")
	}
}

func TestTwoLeafTreeIsHotPocketShape(t *testing.T) {
	// One user: leaves are [user hash, state hash]; the root is blake3 of their concatenation and
	// the user's tree is [null, state].
	u := PubKey{5}
	outs := []UserOutputs{{User: u, Outputs: [][]byte{[]byte("x")}}}
	h := UserOutputHash(u, outs[0].Outputs)
	state := Hash{9}
	want := sum(h[:], state[:])
	tree, root, _ := OutputTreeFor(outs, state, u)
	if root != want || len(tree.Children) != 2 || !tree.Children[0].Self || tree.Children[1].Hash != state {
		t.Fatalf("tree %+v root %s, want root %s", tree, root, want)
	}
}

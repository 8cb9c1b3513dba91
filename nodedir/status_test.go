package nodedir

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestPIDFileIsNeverSeenPartlyWritten: a reader polling the pid file while two writers
// rewrite it (the node and `hpnode cluster start` both write it) always reads a whole pid,
// and neither writer fails.
func TestPIDFileIsNeverSeenPartlyWritten(t *testing.T) {
	l := Layout{Root: t.TempDir()}
	if err := WritePID(l, 1); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 { // two writers, as the node and `hpnode cluster start`
		wg.Go(func() {
			for i := 2; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := WritePID(l, 100000+i%1000); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	for range 20000 {
		data, err := os.ReadFile(l.PIDFile())
		if err != nil {
			t.Fatal(err)
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err != nil || pid <= 0 {
			t.Fatalf("read pid file %q", data)
		}
	}
}

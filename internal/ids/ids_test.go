package ids

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIsTimeOrdered(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var got []string
	for i := range 50 {
		got = append(got, New("req", base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(got) {
		t.Fatalf("ids not sorted by time: %v", got)
	}
	for _, id := range got {
		if !strings.HasPrefix(id, "req_") || len(id) != 4+26 {
			t.Fatalf("bad id %q", id)
		}
	}
	if a, b := New("x", base), New("x", base); a == b {
		t.Fatal("two ids at the same instant collided")
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	a, b := Token(32), Token(32)
	if a == b || len(a) != 52 {
		t.Fatalf("tokens %q %q", a, b)
	}
}

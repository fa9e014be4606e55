package nlsock

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var errTimeout = errors.New("timeout")

// pair is a datagram socketpair whose first end times out reads after
// 20ms.
func pair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return fds[0], fds[1]
}

func TestRecvAndSend(t *testing.T) {
	a, b := pair(t)
	buf := make([]byte, 16)
	for _, c := range []struct {
		name string
		send []byte
		n    int
		err  error
	}{
		{"a datagram", []byte("hello"), 5, nil},
		{"nothing: the read timeout", nil, 0, errTimeout},
	} {
		if c.send != nil {
			if err := Send(b, c.send); err != nil {
				t.Fatalf("%s: send: %v", c.name, err)
			}
		}
		n, err := RecvFrom(a, buf, errTimeout, true)
		if n != c.n || err != c.err {
			t.Errorf("%s: Recv = %d, %v; want %d, %v", c.name, n, err, c.n, c.err)
		}
	}
}

func TestErrorsAreErrnos(t *testing.T) {
	buf := make([]byte, 4)
	if _, err := RecvFrom(-1, buf, errTimeout, true); !errors.Is(err, unix.EBADF) {
		t.Errorf("Recv on a closed descriptor: %v, want EBADF", err)
	}
	if err := Send(-1, buf); !errors.Is(err, unix.EBADF) {
		t.Errorf("Send on a closed descriptor: %v, want EBADF", err)
	}
}

func TestNoAllocs(t *testing.T) {
	a, b := pair(t)
	msg, buf := []byte("x"), make([]byte, 4)
	if n := testing.AllocsPerRun(200, func() {
		Send(b, msg)
		RecvFrom(a, buf, errTimeout, true)
	}); n != 0 {
		t.Errorf("Send+Recv allocate %v times", n)
	}
}

package dnp3test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/dnp3"
)

func TestFrameParses(t *testing.T) {
	// transport FIR|FIN, application control, function READ (1), then
	// enough object bytes to need a second data block.
	user := append([]byte{0xc1, 0xc0, 0x01}, make([]byte, 20)...)
	b := Frame(0xc4, 10, 1, user)
	if want := 10 + 16 + 2 + (len(user) - 16) + 2; len(b) != want {
		t.Fatalf("frame is %d bytes, want %d", len(b), want)
	}
	// A frame whose CRCs the parser accepts: flipping one of them must
	// make it refuse the frame.
	var f dnp3.Frame
	if n, err := dnp3.Parse(b, &f); err != "" || n != len(b) {
		t.Fatalf("Parse = %d, %q; want %d, no error", n, err, len(b))
	}
	b[len(b)-1] ^= 0xff
	if _, err := dnp3.Parse(b, &f); err != dnp3.ErrBadCRC {
		t.Fatalf("Parse of a bad block CRC = %q, want %q", err, dnp3.ErrBadCRC)
	}
}

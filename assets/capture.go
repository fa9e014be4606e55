package assets

import (
	"errors"
	"io"

	"github.com/conduit-ot/conduit/capture"
)

// Capture records every packet of r in shard 0. It returns the reader's
// error where a truncated or corrupt capture stopped; the packets before
// it count.
func (inv *Inventory) Capture(r *capture.Reader) error {
	var p capture.Packet
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var frame []byte
		if p.Link == capture.LinkEthernet {
			frame = r.Frame()
		}
		inv.Frame(0, p.Time, frame, p.Data)
	}
}

package assets

import (
	"net"
	"testing"
)

func parseMAC(s string) (net.HardwareAddr, error) { return net.ParseMAC(s) }

// FuzzIdentity: the reply decoders never panic nor read past their input,
// and what they return is printable.
func FuzzIdentity(f *testing.F) {
	f.Add(mbDevID(1, []byte("Schneider Electric"), []byte("BMX"), []byte("v1")))
	f.Add([]byte{0x63, 0, 0x33, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x0c, 0, 0x2d, 0})
	f.Add([]byte{0x05, 0x64, 0x05, 0xc0, 0x01, 0x00, 0x03, 0x00, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if id, ok := modbusDeviceID(b); ok && id.Vendor+id.ProductCode+id.Revision+id.Product+id.Model == "" {
			t.Fatalf("identity without a value: %+v", id)
		}
		if id, _, ok := enipListIdentity(b); ok {
			for _, r := range id.Product {
				if r < 0x20 {
					t.Fatalf("unprintable product %q", id.Product)
				}
			}
		}
		strictDeviceID(b)
		if id, ok := s7ModuleID(b); ok && id.Product == "" {
			t.Fatalf("S7 identity without an order number: %+v", id)
		}
		dnp3Link(b)
		inv := New(2)
		inv.Frame(1, 1, b, b)
		inv.Assets()
	})
}

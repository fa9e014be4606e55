package enip

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// capWant is what a capture holds. The figures come from tshark 4.0, not
// from this parser: `tshark -r F -Y 'tcp.len>0 || udp' -T fields
// -e enip.command -e cip.sc -e cip.rr -e cip.class -e cip.instance`
// (cip.class lists the first class of each path, then the classes of the
// embedded messages), checked by hand against the hex of each frame.
type capWant struct {
	commands map[string]int // encapsulation PDUs by command name
	// msgs are the CIP messages in stream order as "service class instance"
	// (hex), requests only; responses are counted in responses.
	msgs      []string
	responses int
}

var captureWant = map[string]capWant{
	"cip-multiple-1.pcap": {
		commands: map[string]int{"send_unit_data": 1},
		msgs: []string{"0a 02 1",
			"03 01 1", "03 69 0", "03 73 1", "03 ac 1", "03 68 2420", "03 70 1",
			"03 8e 1", "03 69 0", "03 68 0", "03 77 1", "03 8b 1"},
	},
	"cip_start_plc.pcap":  {commands: map[string]int{"send_unit_data": 1}, msgs: []string{"06 8e 1"}},
	"cip_stop_plc.pcap":   {commands: map[string]int{"send_unit_data": 1}, msgs: []string{"07 8e 1"}},
	"cip_unlock_cpu.pcap": {commands: map[string]int{"send_unit_data": 1}, msgs: []string{"4c 8e 1"}},
	"enip_test.pcap":      {commands: map[string]int{"list_identity": 2}},
}

func TestCaptures(t *testing.T) {
	pcaptest.Table(t, "enip", captureWant, func(t *testing.T, path string, want capWant) {
		name := filepath.Base(path)
		got := capWant{commands: map[string]int{}}
		var p PDU
		pcaptest.EachPDU(t, path, Port, func(b []byte, fromPort bool) (int, pdu.Error) {
			n, err := Parse(b, pdu.DirOf(fromPort), &p)
			if err != pdu.OK {
				return n, err
			}
			got.commands[CommandName(p.Encap.Command)]++
			for _, m := range p.Messages() {
				if m.Response {
					got.responses++
					continue
				}
				got.msgs = append(got.msgs, fmt.Sprintf("%02x %02x %x", m.Service, m.Class, m.Instance))
			}
			return n, pdu.OK
		})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	})
}

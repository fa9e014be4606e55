package learn

import (
	"strconv"

	"github.com/conduit-ot/conduit/engine/dnp3"
	"github.com/conduit-ot/conduit/engine/enip"
	"github.com/conduit-ot/conduit/engine/modbus"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/engine/s7"
)

// Function is one industrial request type: the policy condition it
// belongs to (modbus, dnp3, s7, enip, cip) and its name there.
type Function struct {
	Proto, Name string
}

func (f Function) String() string { return f.Proto + " " + f.Name }

// functionParser names the industrial requests in a client's segment or
// datagram. It reads each payload on its own, without reassembling the
// stream: a request split across segments is missed, which costs only a
// line of evidence.
type functionParser struct {
	mb modbus.PDU
	dn dnp3.Frame
	s7 s7.PDU
	en enip.PDU
}

func (fp *functionParser) requests(s *Service, b []byte) {
	count := func(proto, name string) {
		if s.Functions == nil {
			s.Functions = map[string]uint64{}
		}
		s.Functions[Function{proto, name}.String()]++
	}
	switch {
	case s.Port == 502 && s.Proto == packet.ProtoTCP:
		for len(b) > 0 {
			n, err := modbus.Parse(b, modbus.Request, &fp.mb)
			if n == 0 {
				return
			}
			if err == modbus.OK {
				count("modbus", nameOr(modbus.FunctionName(fp.mb.Function), fp.mb.Function))
			}
			b = b[n:]
		}
	case s.Port == 20000:
		for len(b) > 0 {
			n, err := dnp3.Parse(b, &fp.dn)
			if n == 0 {
				return
			}
			if err == dnp3.OK && fp.dn.HasApp {
				count("dnp3", nameOr(dnp3.FunctionName(fp.dn.App.Function), fp.dn.App.Function))
			}
			b = b[n:]
		}
	case s.Port == 102 && s.Proto == packet.ProtoTCP:
		for len(b) > 0 {
			n, err := s7.Parse(b, s7.Request, &fp.s7)
			if n == 0 {
				return
			}
			switch {
			case err != s7.OK:
			case fp.s7.ROSCTR == s7.ROSCTRUserdata && fp.s7.UserdataType == s7.UserdataRequest:
				count("s7-userdata", nameOr(s7.GroupName(fp.s7.Group), fp.s7.Group))
			case fp.s7.ROSCTR == s7.ROSCTRJob && fp.s7.HasFunction:
				// Only jobs: during a download the client answers the
				// PLC's jobs with ack-data carrying the same function.
				count("s7", nameOr(s7.FunctionName(fp.s7.Function), fp.s7.Function))
			}
			b = b[n:]
		}
	case s.Port == 44818:
		for len(b) > 0 {
			n, err := enip.Parse(b, enip.Request, &fp.en)
			if n == 0 {
				return
			}
			if err == enip.OK {
				count("enip", nameOr(enip.CommandName(fp.en.Encap.Command), uint8(fp.en.Encap.Command)))
				for _, m := range fp.en.Messages() {
					if !m.Response {
						count("cip", nameOr(enip.ServiceName(m.Service, m.Class), m.Service))
					}
				}
			}
			b = b[n:]
		}
	}
}

func nameOr(name string, code uint8) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(int(code))
}

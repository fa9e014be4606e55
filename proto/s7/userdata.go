package s7

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// Userdata types: the high nibble of the type/group byte.
const (
	UserdataPush     uint8 = 0x0
	UserdataRequest  uint8 = 0x4
	UserdataResponse uint8 = 0x8
)

// Userdata function groups: the low nibble of the type/group byte.
const (
	GroupModeTransition uint8 = 0x0
	GroupProgrammer     uint8 = 0x1
	GroupCyclic         uint8 = 0x2
	GroupBlock          uint8 = 0x3
	GroupCPU            uint8 = 0x4
	GroupSecurity       uint8 = 0x5
	GroupBSend          uint8 = 0x6
	GroupTime           uint8 = 0x7
	GroupNCProgramming  uint8 = 0xf
)

// userdataHead is the fixed start of every userdata parameter.
var userdataHead = [3]byte{0x00, 0x01, 0x12}

// userdata decodes the userdata parameter: head, length of the rest,
// method, type and group, subfunction, sequence number, and in the 8-byte
// form data unit reference, last-unit flag and error code.
func (p *PDU) userdata() pdu.Error {
	par := p.Param
	if len(par) < 8 || [3]byte(par[:3]) != userdataHead || int(par[3]) != len(par)-4 || (par[3] != 4 && par[3] != 8) {
		return ErrUserdata
	}
	p.UserdataMethod = par[4]
	p.UserdataType = par[5] >> 4
	p.Group = par[5] & 0x0f
	p.Subfunction = par[6]
	p.Sequence = par[7]
	if len(par) == 12 {
		p.DataUnitRef = par[8]
		p.LastDataUnit = par[9]
		p.UserdataError = binary.BigEndian.Uint16(par[10:])
	}
	return pdu.OK
}

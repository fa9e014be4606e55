package enip

import "encoding/binary"

// HeaderLen is the size of the encapsulation header.
const HeaderLen = 24

// Encapsulation commands.
const (
	CmdNOP               uint16 = 0x0000
	CmdListServices      uint16 = 0x0004
	CmdListIdentity      uint16 = 0x0063
	CmdListInterfaces    uint16 = 0x0064
	CmdRegisterSession   uint16 = 0x0065
	CmdUnregisterSession uint16 = 0x0066
	CmdSendRRData        uint16 = 0x006f
	CmdSendUnitData      uint16 = 0x0070
	CmdIndicateStatus    uint16 = 0x0072
	CmdCancel            uint16 = 0x0073
)

// Header is a view of the encapsulation header; all fields are
// little-endian. Accessors do not check length: the caller makes sure the
// view holds HeaderLen bytes.
type Header []byte

func (h Header) Command() uint16 { return le16(h[0:]) }
func (h Header) Length() uint16  { return le16(h[2:]) }
func (h Header) Session() uint32 { return le32(h[4:]) }
func (h Header) Status() uint32  { return le32(h[8:]) }
func (h Header) Context() uint64 { return binary.LittleEndian.Uint64(h[12:]) }
func (h Header) Options() uint32 { return le32(h[20:]) }

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

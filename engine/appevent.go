package engine

import (
	"log/slog"
	"strconv"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/s7"
	"github.com/conduit-ot/conduit/rules"
)

// appEvent is the "app" object of a verdict line: the industrial-protocol
// PDU that made the verdict. It is fixed-size and copied by value into the
// event, so the packet path fills it without allocating; names are looked
// up when the line is written.
type appEvent struct {
	proto       proto.ID // None: no app object
	proto.Event          // the side, the outcome and the protocol's fields
	has         appHas

	fn           uint8  // function (DNP3, S7) or CIP service
	exc, excCode uint8  // CIP general status; S7 error class and code
	group, sub   uint8  // S7 userdata group and subfunction; DNP3 object group and variation
	rosctr       uint8  // S7 message type
	cmd          uint16 // ENIP command
	src, dst     uint16 // DNP3 link addresses
	class, inst  uint32 // CIP path
	encStatus    uint32 // ENIP encapsulation status
	textLen      uint8
	text         [32]byte // S7 PI service or block file name, CIP tag name (cut to 32 bytes)
}

type appHas uint16

const (
	hasFn appHas = 1 << iota
	hasExc
	hasGroup
	hasCmd
	hasPath
	hasROSCTR
	hasEncStatus
	hasText
)

func (a *appEvent) setText(b []byte) {
	a.textLen = uint8(copy(a.text[:], b))
	a.has |= hasText
}

// fromS7 records an S7 PDU.
func (a *appEvent) fromS7(p *s7.PDU) {
	a.rosctr, a.has = p.ROSCTR, a.has|hasROSCTR
	switch {
	case p.ROSCTR == s7.ROSCTRUserdata:
		a.group, a.sub, a.has = p.Group, p.Subfunction, a.has|hasGroup
	case p.HasFunction:
		a.fn, a.has = p.Function, a.has|hasFn
	}
	if p.ROSCTR == s7.ROSCTRAck || p.ROSCTR == s7.ROSCTRAckData {
		if p.ErrorClass != 0 || p.ErrorCode != 0 {
			a.exc, a.excCode, a.has = p.ErrorClass, p.ErrorCode, a.has|hasExc
		}
	}
	switch {
	case len(p.PIService) > 0:
		a.setText(p.PIService)
	case len(p.Filename) > 0:
		a.setText(p.Filename)
	}
}

// attr renders the app object; it allocates, on the log writer's side.
func (a *appEvent) attr() slog.Attr {
	as := []slog.Attr{slog.String("proto", a.proto.String())}
	if a.Side == proto.Response {
		as = append(as, slog.String("dir", "response"))
	} else {
		as = append(as, slog.String("dir", "request"))
	}
	as = append(as, slog.Uint64("offset", uint64(a.Offset)))
	if p := proto.Table[a.proto].Protocol; p != nil {
		as = p.Attrs(&a.Event, as)
	}
	name := func(key, n string, code int) {
		if n == "" {
			n = strconv.Itoa(code)
		}
		as = append(as, slog.String(key, n), slog.Int(key+"_code", code))
	}
	switch a.proto {
	case rules.AppS7:
		if a.has&hasROSCTR != 0 {
			as = append(as, slog.String("rosctr", s7.ROSCTRName(a.rosctr)))
		}
		if a.has&hasFn != 0 {
			name("function", s7.FunctionName(a.fn), int(a.fn))
		}
		if a.has&hasGroup != 0 {
			name("group", s7.GroupName(a.group), int(a.group))
			name("subfunction", s7.SubfunctionName(a.group, a.sub), int(a.sub))
		}
		if a.has&hasExc != 0 {
			as = append(as, slog.Int("error_class", int(a.exc)), slog.Int("error_code", int(a.excCode)))
		}
		if a.has&hasText != 0 {
			as = append(as, slog.String("name", string(a.text[:a.textLen])))
		}
	}
	if a.Violates != proto.Pass {
		as = append(as, slog.String("violates", a.Violates.String()))
	}
	if a.Err != "" {
		as = append(as, slog.String("error", a.Err))
	}
	if a.Detail != "" {
		as = append(as, slog.String("detail", a.Detail))
	}
	return slog.Attr{Key: "app", Value: slog.GroupValue(as...)}
}

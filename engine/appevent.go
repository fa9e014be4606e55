package engine

import (
	"log/slog"

	"github.com/conduit-ot/conduit/proto"
)

// appEvent is the "app" object of a verdict line: the industrial-protocol
// PDU that made the verdict. It is fixed-size and copied by value into the
// event, so the packet path fills it without allocating; names are looked
// up when the line is written, by the protocol (proto.Protocol.Attrs).
type appEvent struct {
	proto       proto.ID // None: no app object
	proto.Event          // the side, the outcome and the protocol's fields
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

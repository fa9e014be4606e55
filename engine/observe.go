package engine

import (
	"net/netip"

	"github.com/conduit-ot/conduit/proto"
)

// Offline tools (conduit learn) watch the protocol inspection through
// Config.OnRequest instead of repeating it: whatever the stream layer and
// the PDU walk decide, the tool sees exactly that. The daemon leaves it
// nil; each report site then costs a nil check, and nothing is built.

// RequestKind is what a RequestSeen reports: a request of one of the
// vocabularies the protocol conditions name (each protocol's, in proto's
// table), or traffic inspection could not judge (KindUnparsed).
type RequestKind = proto.Kind

const (
	KindUnparsed RequestKind = proto.Unparsed // a packet inspection could not judge: Reason, Err, Detail
)

// RequestSeen is one report of the protocol inspection to
// Config.OnRequest: a request PDU the rule's condition judged, or, once
// per packet, why inspection could not judge the packet (as its verdict
// line would say).
//
// A request is reported when the condition judges it. One judged by the
// first piece of a PDU split over several (DNP3 transport segments, S7
// COTP TPDUs), or an EtherNet/IP command judged before the CIP requests
// it carries, is reported again when the rule counts it (Counted, the
// rule's requests counter); a request judged and counted at once is
// reported once, Counted. In enforce, a refused packet's requests are
// reported although the rule does not count them, and are judged again
// when the sender retransmits them.
type RequestSeen struct {
	// The flow in its request direction (the rule's): the client, the
	// server and the server's port.
	Client, Server netip.Addr
	Proto          uint8
	Port           uint16

	Kind    RequestKind
	Code    uint16        // see RequestKind
	MEI     uint8         // Modbus function 43: the MEI type
	Unit    uint8         // Modbus: the unit id
	Class   uint32        // CIP: the class of the request's path
	Failure proto.Failure // proto.Pass, or how the condition refused it
	Counted bool          // the rule counts the request now

	// KindUnparsed: the verdict's reason (malformed-modbus, unparsed-s7,
	// stream-gap, ...), the parser's error and the detail.
	Reason, Err, Detail string
}

// Name is the request's name as a condition lists it: the vocabulary's
// word, or the number where the vocabulary has none. Modbus function 43
// with an MEI type other than read_device_identification's is "43",
// which a condition must list by number.
func (r *RequestSeen) Name() string {
	return proto.RequestName(&proto.Judged{Kind: r.Kind, Code: r.Code, MEI: r.MEI, Unit: r.Unit, Class: r.Class})
}

// outcome reports why the packet could not be judged, if it could not.
func (o *watch) outcome() {
	if o.w.onRequest != nil && o.w.insp.Unjudged() {
		o.reportUnparsed()
	}
}

// reportUnparsed is out of line so that outcome inlines.
//
//go:noinline
func (o *watch) reportUnparsed() {
	in := &o.w.insp
	o.report(RequestSeen{Kind: KindUnparsed, Reason: in.Reason, Err: in.Event.Err, Detail: in.Event.Detail})
}

// report completes r with the flow and hands it to the observer.
func (o *watch) report(r RequestSeen) {
	k := o.flow.Key
	if markOf(o.flow).reversed() {
		k = k.Reverse()
	}
	r.Client, r.Server, r.Proto, r.Port = k.Src, k.Dst, k.Proto, k.DstPort
	o.w.onRequest(r)
}

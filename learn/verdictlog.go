package learn

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
)

// ICMPTypeUnknown is the Port of an ICMP service learned from a verdict
// log line without icmp_type (written before conduit logged it): a draft
// rule for it allows every type between the hosts.
const ICMPTypeUnknown = 0xffff

// logLine holds the fields of the daemon's event lines that learn uses.
type logLine struct {
	Time         string `json:"time"`
	Event        string `json:"event"`
	Would        string `json:"would"`
	Rule         string `json:"rule"`
	Proto        string `json:"proto"`
	Src          string `json:"src"`
	Dst          string `json:"dst"`
	Sport        uint16 `json:"sport"`
	Dport        uint16 `json:"dport"`
	ICMPType     *uint8 `json:"icmp_type"` // the type of an ICMP flow's first packet
	Flow         uint64 `json:"flow"`
	Reason       string `json:"reason"`
	InPort       string `json:"in_port"`   // the port the line's packet came in on
	EtherType    string `json:"ethertype"` // a layer2 line's (layer2.go)
	Idle         int64  `json:"idle"`
	Duration     int64  `json:"duration"`
	MaxGap       int64  `json:"max_gap"`
	PacketsOrig  uint64 `json:"packets_orig"`
	PacketsReply uint64 `json:"packets_reply"`
	BytesOrig    uint64 `json:"bytes_orig"`
	BytesReply   uint64 `json:"bytes_reply"`
}

// logFlow is a tracked flow announced by a verdict line and not yet ended.
type logFlow struct {
	svc        *Service
	origToSrv  bool // the flow's original direction is client -> server
	clientPort uint16
}

// Verdict reasons of flows that start (package engine).
var startReasons = map[string]bool{"new-flow": true, "pickup": true, "pickup-denied": true, "no-flow": true, "passthrough": true}

// Log learns from the daemon's event log (JSON lines, as written in any
// mode): verdict lines announce flows in their request direction, flow_end
// and eviction lines give their packets, bytes and largest gap. Flows that
// have not ended by the end of the log count one packet each; Service.
// Partial says how many. It returns the number of lines used.
func (l *Learner) Log(name string, r io.Reader) (int, error) {
	l.m.Sources = append(l.m.Sources, name)
	if l.logFlows == nil {
		l.logFlows = map[uint64]*logFlow{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	used, lineNo, bad := 0, 0, 0
	for sc.Scan() {
		lineNo++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var ln logLine
		if err := json.Unmarshal(b, &ln); err != nil || ln.Time == "" {
			bad++
			if used == 0 && bad >= 10 {
				return 0, fmt.Errorf("%s: line %d: not a conduit event log", name, lineNo)
			}
			continue
		}
		if l.logLine(&ln) {
			used++
		}
	}
	if err := sc.Err(); err != nil {
		return used, fmt.Errorf("%s: line %d: %w", name, lineNo+1, err)
	}
	if used == 0 && bad > 0 {
		return 0, fmt.Errorf("%s: no conduit event line in %d lines", name, lineNo)
	}
	return used, nil
}

func (l *Learner) logLine(ln *logLine) bool {
	t, err := time.Parse(time.RFC3339Nano, ln.Time)
	if err != nil {
		return false
	}
	ts := t.UnixNano()
	switch ln.Event {
	case "verdict":
		if ln.Reason == reasonLayer2Deny {
			return l.layer2Line(ln, ts)
		}
		if ln.Reason == "spoofed-source" {
			// A bound zone's address from another port: nothing to allow,
			// and no evidence of where the zone's hosts are.
			l.m.Spoofed++
			return true
		}
		if !startReasons[ln.Reason] {
			if ln.Rule == "" && ln.Reason != "reevaluated" {
				l.m.Malformed++ // malformed, fragment or engine failure
				l.m.Packets++
				return true
			}
			return false
		}
		svc, origToSrv, cport, ok := l.logService(ln)
		if !ok {
			return false
		}
		if ln.Reason != "pickup" {
			// The line's packet is its source's (a pickup's may be the
			// reply); a port conduit could not name is no evidence.
			port := ln.InPort
			if strings.HasPrefix(port, "ifindex ") {
				port = ""
			}
			if src, err := netip.ParseAddr(ln.Src); err == nil {
				l.m.sawFrom(src, port)
			}
		}
		l.m.seen(ts)
		svc.seen(ts)
		svc.Flows++
		if ln.Would == "drop" {
			svc.Denied++
		}
		if ln.Flow == 0 {
			// Denied in enforce and not tracked: this line is its packet.
			svc.Packets++
			svc.ToServer++
			l.m.Packets++
			return true
		}
		svc.Partial++
		l.logFlows[ln.Flow] = &logFlow{svc: svc, origToSrv: origToSrv, clientPort: cport}
		return true
	case "flow_end", "eviction":
		if ln.Flow == 0 {
			return false
		}
		f := l.logFlows[ln.Flow]
		if f != nil {
			delete(l.logFlows, ln.Flow)
			f.svc.Partial--
		} else {
			// Opened before the log begins.
			svc, origToSrv, cport, ok := l.logService(ln)
			if !ok {
				return false
			}
			svc.Flows++
			f = &logFlow{svc: svc, origToSrv: origToSrv, clientPort: cport}
		}
		s := f.svc
		last := ts - ln.Idle
		first := last - ln.Duration
		l.m.seen(first)
		l.m.seen(last)
		s.seen(first)
		s.seen(last)
		toSrv, toCli := ln.PacketsOrig, ln.PacketsReply
		if !f.origToSrv {
			toSrv, toCli = toCli, toSrv
		}
		s.ToServer += toSrv
		s.ToClient += toCli
		s.Packets += ln.PacketsOrig + ln.PacketsReply
		s.Bytes += ln.BytesOrig + ln.BytesReply
		l.m.Packets += ln.PacketsOrig + ln.PacketsReply
		s.gap(ln.MaxGap, f.clientPort)
		return true
	}
	return false
}

// logService finds the service of a line's flow. The line gives the
// engine's orientation, which is the request direction when rules decided
// it; a flow first seen mid-stream, or in passthrough, is turned round when
// its ports say so, as for captures.
func (l *Learner) logService(ln *logLine) (svc *Service, origToSrv bool, clientPort uint16, ok bool) {
	src, err1 := netip.ParseAddr(ln.Src)
	dst, err2 := netip.ParseAddr(ln.Dst)
	proto, ok := protoNumber(ln.Proto)
	if err1 != nil || err2 != nil || !ok {
		return nil, false, 0, false
	}
	src, dst = src.Unmap(), dst.Unmap()
	k := ServiceKey{Client: src, Server: dst, Proto: proto}
	origToSrv, clientPort = true, ln.Sport
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		k.Port = ln.Dport
		midStream := proto == packet.ProtoUDP || ln.Reason != "new-flow" || ln.Event != "verdict"
		if dstServes, conclusive := dstIsServer(ln.Sport, ln.Dport); midStream && conclusive && !dstServes {
			k.Client, k.Server, k.Port = dst, src, ln.Sport
			origToSrv, clientPort = false, ln.Dport
		}
	case packet.ProtoICMP, packet.ProtoICMPv6:
		k.Port, clientPort = ICMPTypeUnknown, 0
		if ln.ICMPType != nil {
			k.Port = uint16(*ln.ICMPType)
		}
	default:
		clientPort = 0
	}
	svc = l.m.service(k)
	svc.logged = true
	return svc, origToSrv, clientPort, true
}

func protoNumber(s string) (uint8, bool) {
	switch s {
	case "tcp":
		return packet.ProtoTCP, true
	case "udp":
		return packet.ProtoUDP, true
	case "icmp":
		return packet.ProtoICMP, true
	case "icmpv6":
		return packet.ProtoICMPv6, true
	}
	named := map[string]uint8{"esp": packet.ProtoESP, "ah": packet.ProtoAH, "gre": 47, "sctp": 132}
	if n, ok := named[s]; ok {
		return n, true
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "proto-"), 10, 8)
	return uint8(n), err == nil
}

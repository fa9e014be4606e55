package main

// conduit assets: the asset inventory, from the running sensor (conduit
// observe) over the control socket, or from captures offline.

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conduit-ot/conduit/assets"
	"github.com/conduit-ot/conduit/capture"
)

// assetsReply is the daemon's answer and `assets --json`.
type assetsReply struct {
	Assets []assets.Asset `json:"assets"`
	// Refused counts packets of addresses a full inventory did not take.
	Refused uint64   `json:"refused,omitempty"`
	Sources []string `json:"sources,omitempty"` // captures, offline
}

func (o *ops) assetsHandler() (any, error) {
	if o.assets == nil {
		return nil, errors.New("this daemon keeps no asset inventory: conduit observe does (or run conduit assets on captures)")
	}
	return assetsReply{Assets: o.assets.Assets(), Refused: o.assets.Refused()}, nil
}

func runAssets(args []string, stdout, stderr io.Writer) int {
	fs, cf := newClientFlags("assets", stderr)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	var r assetsReply
	if fs.NArg() > 0 {
		inv := assets.New(1)
		for _, path := range fs.Args() {
			c, err := capture.Open(path)
			if err != nil {
				fmt.Fprintf(stderr, "conduit: %v\n", err)
				return 1
			}
			err = inv.Capture(c)
			c.Close()
			if err != nil {
				// What was read before the damage counts, but the inventory
				// may miss devices: say so and fail.
				fmt.Fprintf(stderr, "conduit: %s: %v\n", path, err)
				return 1
			}
			r.Sources = append(r.Sources, path)
		}
		r.Assets, r.Refused = inv.Assets(), inv.Refused()
	} else if code := cf.call("assets", nil, &r, stderr); code != 0 {
		return code
	}
	if r.Assets == nil {
		r.Assets = []assets.Asset{}
	}
	return cf.output(stdout, r, func(w io.Writer) { printAssets(w, &r) })
}

func printAssets(w io.Writer, r *assetsReply) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMAC\tIDENTITY\tSERVES\tUSES\tPACKETS")
	for _, a := range r.Assets {
		var macs []string
		for _, m := range a.MACs {
			s := m.Addr
			if m.Vendor != "" {
				s += " (" + m.Vendor + ")"
			}
			macs = append(macs, s)
		}
		var ids []string
		for _, id := range a.Identity {
			ids = append(ids, identityText(id))
		}
		if len(a.DNP3) > 0 {
			ids = append(ids, "dnp3 address "+joinInts(a.DNP3))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", a.IP, dash(strings.Join(macs, ", ")), dash(strings.Join(ids, "; ")),
			dash(servicesText(a.Serves, "clients")), dash(servicesText(a.Uses, "servers")), a.Packets)
	}
	tw.Flush()
	fmt.Fprintf(w, "%s\n", plural(len(r.Assets), "asset"))
	if r.Refused > 0 {
		fmt.Fprintf(w, "%d packets of further addresses not recorded: the inventory is full\n", r.Refused)
	}
}

func identityText(id assets.Identity) string {
	var parts []string
	for _, s := range []string{id.Vendor, id.Product, id.Model} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if id.Vendor == "" && id.VendorID != 0 {
		parts = append(parts, fmt.Sprintf("vendor %d", id.VendorID))
	}
	for _, kv := range [][2]string{{"code", id.ProductCode}, {"rev", id.Revision}, {"serial", id.Serial}, {"type", id.DeviceType}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

func servicesText(ss []assets.Service, peers string) string {
	var out []string
	for _, s := range ss {
		name := s.Name
		if name == "" {
			name = s.Proto
		}
		out = append(out, fmt.Sprintf("%s/%d (%d %s)", name, s.Port, len(s.Peers), peers))
	}
	return strings.Join(out, ", ")
}

func joinInts(v []uint16) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

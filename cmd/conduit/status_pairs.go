package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/conduit-ot/conduit/engine"
)

// printZonePairs is status's table of the traffic by zone pair, from the
// requester's zone to the responder's; nothing while no flow was decided.
func printZonePairs(w io.Writer, pairs []engine.ConduitStats) {
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE PAIR\tFLOWS\tDENIED FLOWS\tWOULD DROP\tKERNEL DROPPED")
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s -> %s\t%d\t%d\t%d\t%d\n", p.From, p.To, p.Flows, p.DeniedFlows, p.WouldDrop, p.KernelDropped)
	}
	tw.Flush()
}

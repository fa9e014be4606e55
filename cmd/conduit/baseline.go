package main

// conduit baseline save: the running sensor's communication matrix with
// its health figures, written to a file that learn --diff compares with
// what the plant does after insertion.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/conduit-ot/conduit/internal/atomicfile"
	"github.com/conduit-ot/conduit/learn"
)

func (o *ops) baselineHandler() (any, error) {
	if o.live == nil {
		return nil, errors.New("this daemon keeps no live matrix: conduit observe does")
	}
	m := o.live.Snapshot()
	since := o.liveSince.UTC().Format("2006-01-02T15:04:05Z")
	m.Sources = []string{fmt.Sprintf("conduit observe -i %s since %s", strings.Join(o.liveIfaces, ","), since)}
	if o.feed != nil {
		m.Sources = []string{fmt.Sprintf("conduit run (inline) since %s", since)}
	}
	var b bytes.Buffer
	if err := learn.WriteBaseline(&b, m); err != nil {
		return nil, err
	}
	return json.RawMessage(b.Bytes()), nil
}

func runBaseline(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "save" {
		fmt.Fprintln(stderr, "usage: conduit baseline save -o FILE [--socket PATH]")
		return 2
	}
	fs, cf := newClientFlags("baseline save", stderr)
	out := fs.String("o", "", "file to write the baseline to")
	if code := parseFlags(fs, args[1:]); code >= 0 {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: conduit baseline save -o FILE [--socket PATH]")
		return 2
	}
	var raw json.RawMessage
	if code := cf.call("baseline", nil, &raw, stderr); code != 0 {
		return code
	}
	m, err := learn.ReadBaseline(bytes.NewReader(raw))
	if err != nil {
		fmt.Fprintf(stderr, "conduit: the daemon's baseline does not read back: %v\n", err)
		return 1
	}
	// Written beside the target and renamed: a reader never sees half a file.
	err = atomicfile.Write(*out, append(raw, '\n'), 0o640)
	if err != nil {
		fmt.Fprintf(stderr, "conduit: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "baseline: %s, %s packets, saved to %s\n", plural(len(m.Services()), "service"), fmtCount(m.Packets), *out)
	return 0
}

// socketInput stands for the live matrix among learn's inputs; no path
// can be it.
const socketInput = "\x00socket"

// learnFromSocket adds the live matrix of the conduit observe serving
// socket to l (learn --socket).
func learnFromSocket(l *learn.Learner, socket string, stderr io.Writer) error {
	cf := &clientFlags{socket: socket}
	var raw json.RawMessage
	if code := cf.call("baseline", nil, &raw, stderr); code != 0 {
		return fmt.Errorf("no live matrix from %s", socket)
	}
	return l.Baseline(socket, bytes.NewReader(raw))
}

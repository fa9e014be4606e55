package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// reloadReply is the daemon's answer to "reload" and `reload --json`.
type reloadReply struct {
	Result     string   `json:"result"` // ok, unchanged or error
	File       string   `json:"file"`
	Generation uint64   `json:"generation"` // in force after the attempt
	SHA256     string   `json:"sha256"`
	Mode       string   `json:"mode"`
	Changes    []string `json:"mode_changes,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Errors     []string `json:"errors,omitempty"` // "file:line:col: message", when refused
}

func (o *ops) reload() reloadReply {
	res := o.reloader.Reload("control")
	cur := res.New
	r := reloadReply{File: o.reloader.Path, Generation: cur.Generation, SHA256: cur.Policy.SHA256, Mode: cur.Policy.Mode.String()}
	switch {
	case res.Err != nil:
		r.Result = "error"
		var perr *rules.Errors
		if errors.As(res.Err, &perr) {
			for _, d := range perr.List {
				r.Errors = append(r.Errors, d.String())
			}
		} else {
			r.Errors = []string{res.Err.Error()}
		}
	case res.Changed:
		r.Result = "ok"
		for _, c := range inforce.ModeChanges(res.Old.Policy, cur.Policy) {
			what := "global mode"
			if c.Conduit != "" {
				what = "conduit " + c.Conduit
			}
			r.Changes = append(r.Changes, fmt.Sprintf("%s: %s -> %s", what, c.Old, c.New))
		}
		for _, w := range cur.Policy.Warnings {
			r.Warnings = append(r.Warnings, w.String())
		}
	default:
		r.Result = "unchanged"
	}
	return r
}

func runReload(args []string, stdout, stderr io.Writer) int {
	fs, cf := newClientFlags("reload", stderr)
	if code := parseClient(fs, args); code >= 0 {
		return code
	}
	var r reloadReply
	if code := cf.call("reload", nil, &r, stderr); code != 0 {
		return code
	}
	code := 0
	if r.Result == "error" {
		code = 1
	}
	if cf.json {
		if c := printJSON(stdout, r); c != 0 {
			return c
		}
		return code
	}
	short := r.SHA256
	if len(short) > 12 {
		short = short[:12]
	}
	switch r.Result {
	case "ok":
		fmt.Fprintf(stdout, "reloaded %s: generation %d in force, sha256 %s, mode %s\n", r.File, r.Generation, short, r.Mode)
		for _, c := range r.Changes {
			fmt.Fprintf(stdout, "  %s\n", c)
		}
		for _, w := range r.Warnings {
			fmt.Fprintln(stdout, w)
		}
	case "unchanged":
		fmt.Fprintf(stdout, "unchanged: %s is the policy in force (generation %d, sha256 %s)\n", r.File, r.Generation, short)
	default:
		fmt.Fprintf(stderr, "reload refused; generation %d (sha256 %s) stays in force:\n", r.Generation, short)
		for _, e := range r.Errors {
			fmt.Fprintln(stderr, e)
		}
	}
	return code
}

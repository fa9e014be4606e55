package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want options
		err  string
	}{
		{nil, options{count: 1, install: true, bind: true, maxLen: 4096, rcvBuf: 8 << 20}, ""},
		{[]string{"-bind=false"}, options{count: 1, install: true, maxLen: 4096, rcvBuf: 8 << 20}, ""},
		{[]string{"-queue", "3", "-count", "2", "-gso", "-fail-open", "-install=false"},
			options{queue: 3, count: 2, gso: true, failOpen: true, bind: true, maxLen: 4096, rcvBuf: 8 << 20}, ""},
		{[]string{"-queue", "65535", "-count", "2"}, options{}, "out of range"},
		{[]string{"-count", "0"}, options{}, "out of range"},
		{[]string{"-maxlen", "0"}, options{}, "-maxlen"},
		{[]string{"stray"}, options{}, "unexpected arguments"},
		{[]string{"-nope"}, options{}, "not defined"},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		got, err := parseArgs(tt.args, &errb)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error()+errb.String(), tt.err) {
				t.Errorf("parseArgs(%q) err = %v, want %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v", tt.args, got, err, tt.want)
		}
	}
}

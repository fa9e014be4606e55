package opcua_test

import (
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/condtest"
	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// cond decodes an opcua condition on tcp/4840 through the policy decoder.
func cond(t *testing.T, c string) *opcua.Cond {
	t.Helper()
	return condtest.Cond[*opcua.Cond](t, "tcp", "4840", "    opcua: "+c+"\n")
}

func TestCondDecode(t *testing.T) {
	for _, tc := range []struct{ in, str string }{
		{"{}", "opcua: {}"},
		{"{services: read}", "opcua: {services: read}"},
		{"{services: [read, browse, 631, 12345]}", "opcua: {services: [read, browse, read, 12345]}"},
		{"{security_modes: [sign, sign_and_encrypt]}", "opcua: {security_modes: [sign, sign_and_encrypt]}"},
		{"{security_policies: [basic256sha256, \"http://opcfoundation.org/UA/SecurityPolicy#None\", \"urn:vendor:policy\"]}",
			"opcua: {security_policies: [Basic256Sha256, None, urn:vendor:policy]}"},
	} {
		if got := cond(t, tc.in).String(); got != tc.str {
			t.Errorf("%s: String() = %q, want %q", tc.in, got, tc.str)
		}
	}
}

func TestCondErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{services: [raed]}", `11:24: rule r: opcua.services: unknown opcua service "raed" (did you mean "read"?)`},
		{"{services: [open_secure_channel]}", `unknown opcua service "open_secure_channel"`},
		{"{security_modes: [sign_and_encrpyt]}", `11:30: rule r: opcua.security_modes must be none, sign or sign_and_encrypt, not "sign_and_encrpyt"`},
		{"{security_policies: [Basic256sha265]}", `unknown opcua security policy "Basic256sha265" (did you mean "Basic256Sha256"?)`},
		{"{service: [read]}", `unknown key "service"; did you mean "services"?`},
		{"[read]", "opcua"},
	} {
		_, err := condtest.Parse("tcp", "4840", "    opcua: "+tc.in+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestCondCheck(t *testing.T) {
	ch := opcuatest.Chan{ID: 1, Token: 1}
	parse := func(b []byte) *opcua.Message {
		var m opcua.Message
		if _, err := opcua.Parse(b, opcua.Hint{Mode: opcua.ModeNone}, &m); err != pdu.OK {
			t.Fatal(err)
		}
		return &m
	}
	c := cond(t, "{services: [create_session, read, 12345]}")
	for _, tc := range []struct {
		b    []byte
		want core.Failure
	}{
		{ch.Request(opcua.Read, 1, 1, nil), core.Pass},
		{ch.Request(opcua.CreateSession, 1, 1, nil), core.Pass},
		{ch.Request(opcua.Write, 1, 1, nil), core.FailService},
		{ch.RequestID(12345, 1, 1, nil), core.Pass},
		{ch.RequestID(12346, 1, 1, nil), core.FailService},
		{ch.Response(opcua.Read, 1, 1, 0, nil), core.FailService}, // a response is no request
	} {
		m := parse(tc.b)
		if got := c.CheckService(m); got != tc.want {
			t.Errorf("%v (%d): %v, want %v", m.Service, m.TypeID, got, tc.want)
		}
	}
	if f := cond(t, "{}").CheckService(parse(ch.Request(opcua.Write, 1, 1, nil))); f != core.Pass {
		t.Errorf("empty condition: %v", f)
	}
	m := cond(t, "{security_modes: [sign]}")
	for _, tc := range []struct {
		mode    opcua.Mode
		f       core.Failure
		pending bool
	}{
		{opcua.ModeNone, opcua.FailSecurityMode, false}, {opcua.ModeSign, core.Pass, false},
		{opcua.ModeSignAndEncrypt, opcua.FailSecurityMode, false}, {opcua.ModeUnknown, core.Pass, true},
	} {
		if f, pending := m.CheckMode(tc.mode); f != tc.f || pending != tc.pending {
			t.Errorf("mode %v: %v %v, want %v %v", tc.mode, f, pending, tc.f, tc.pending)
		}
	}
	if f, _ := cond(t, "{security_modes: [none]}").CheckMode(opcua.ModeUnknown); f != opcua.FailSecurityMode {
		t.Errorf("none only, secured channel: %v", f)
	}
	p := cond(t, "{security_policies: [Basic256Sha256]}")
	if p.CheckPolicy(opcuatest.Policy("Basic256Sha256")) != core.Pass || p.CheckPolicy(opcuatest.Policy("None")) != opcua.FailSecurityPolicy {
		t.Error("CheckPolicy")
	}
	if opcua.FailSecurityMode.String() != "security_modes" || opcua.FailSecurityPolicy.String() != "security_policies" {
		t.Errorf("failure names %q %q", opcua.FailSecurityMode, opcua.FailSecurityPolicy)
	}
}

func TestCondDescribeLint(t *testing.T) {
	c := cond(t, "{services: [read, browse], security_modes: [sign, sign_and_encrypt], security_policies: [Basic256Sha256]}")
	d := c.Describe()
	if len(d) != 1 || d[0].Key != "opcua" ||
		d[0].Text != "opcua: services read,browse; security_modes sign,sign_and_encrypt; security_policies Basic256Sha256" {
		t.Errorf("Describe = %+v", d)
	}
	lint := strings.Join(c.Lint(), "\n")
	if !strings.Contains(lint, "lack create_session, activate_session") || !strings.Contains(lint, "sign_and_encrypt") {
		t.Errorf("Lint = %q", lint)
	}
	if l := cond(t, "{services: [create_session, activate_session, read]}").Lint(); len(l) != 0 {
		t.Errorf("Lint of a complete list = %q", l)
	}
}

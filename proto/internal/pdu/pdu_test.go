package pdu

import "testing"

func TestDirString(t *testing.T) {
	if Request.String() != "request" || Response.String() != "response" {
		t.Errorf("Request %q, Response %q", Request, Response)
	}
}

func TestDirOf(t *testing.T) {
	if DirOf(true) != Response || DirOf(false) != Request {
		t.Errorf("DirOf(true) %v, DirOf(false) %v", DirOf(true), DirOf(false))
	}
}

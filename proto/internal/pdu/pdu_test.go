package pdu

import "testing"

func TestDirString(t *testing.T) {
	if Request.String() != "request" || Response.String() != "response" {
		t.Errorf("Request %q, Response %q", Request, Response)
	}
}

package s7

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The policy (this package's condition) takes its names from here, so
// the two cannot drift; rules' TestAppVocabulary writes every name into a
// policy.

func TestNames(t *testing.T) {
	parsetest.Vocab(t, "s7 function", FunctionNames(), FunctionCode, FunctionName, 0x42)
	if f, ok := FunctionCode("pi_service"); !ok || f != FuncPIService {
		t.Error("alias pi_service")
	}
	parsetest.Vocab(t, "s7 userdata group", GroupNames(), GroupCode, GroupName, 0x9)
	for _, tc := range []struct {
		g, sub uint8
		want   string
	}{{GroupCPU, 1, "read_szl"}, {GroupBlock, 3, "get_block_info"}, {GroupTime, 2, "set_clock"}, {GroupCPU, 0x99, ""}, {GroupTime, 3, "read_clock_following"}} {
		if got := SubfunctionName(tc.g, tc.sub); got != tc.want {
			t.Errorf("SubfunctionName(%d, %d) = %q, want %q", tc.g, tc.sub, got, tc.want)
		}
	}
	for r, want := range map[uint8]string{1: "job", 2: "ack", 3: "ack_data", 7: "userdata", 0: "", 5: "", 200: ""} {
		if got := ROSCTRName(r); got != want {
			t.Errorf("ROSCTRName(%d) = %q, want %q", r, got, want)
		}
	}
	for typ, want := range map[uint8]string{0: "push", 4: "request", 8: "response", 3: ""} {
		if got := UserdataTypeName(typ); got != want {
			t.Errorf("UserdataTypeName(%d) = %q", typ, got)
		}
	}
	for k, want := range map[Kind]string{KindCOTP: "cotp", KindFragment: "cotp-fragment", KindS7: "s7", KindS7Plus: "s7plus"} {
		if k.String() != want {
			t.Errorf("Kind %d = %q", k, k.String())
		}
	}
	if pdu.Request.String() != "request" || pdu.Response.String() != "response" {
		t.Error("Dir.String")
	}
}

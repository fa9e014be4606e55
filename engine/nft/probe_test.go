package nft

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"github.com/conduit-ot/conduit/rules"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The native queue expression as google/nftables writes it for queues
// 20..21 with the bypass flag: its name, then num, total and flags (be16,
// each attribute padded to 8 bytes).
var (
	nativeName = []byte{10, 0, unix.NFTA_EXPR_NAME, 0, 'q', 'u', 'e', 'u', 'e', 0}
	nativeData = []byte{
		6, 0, unix.NFTA_QUEUE_NUM, 0, 0, 20, 0, 0,
		6, 0, unix.NFTA_QUEUE_TOTAL, 0, 0, 2, 0, 0,
		6, 0, unix.NFTA_QUEUE_FLAGS, 0, 0, 1, 0, 0,
	}
	// xt_NFQ_info_v3 in host order: queuenum 20, queues_total 2, flags bypass.
	compatName = []byte("NFQUEUE\x00")
	compatInfo = []byte{20, 0, 2, 0, 1, 0, 0, 0}
	// The app queue, 22, alone and without bypass.
	nativeApp = []byte{
		6, 0, unix.NFTA_QUEUE_NUM, 0, 0, 22, 0, 0,
		6, 0, unix.NFTA_QUEUE_TOTAL, 0, 0, 1, 0, 0,
		6, 0, unix.NFTA_QUEUE_FLAGS, 0, 0, 0, 0, 0,
	}
	compatApp = []byte{22, 0, 1, 0, 0, 0, 0, 0}
)

// isBatch tells a transaction from a query (listing tables, counters).
func isBatch(req []netlink.Message) bool {
	return len(req) > 0 && req[0].Header.Type == netlink.HeaderType(unix.NFNL_MSG_BATCH_BEGIN)
}

func batchHas(req []netlink.Message, b []byte) bool {
	for _, m := range req {
		if bytes.Contains(m.Data, b) {
			return true
		}
	}
	return false
}

// batchKernel is a fake kernel: it refuses a request with the error
// refuse gives for it (nil: accept) and keeps each batch it accepts in
// *accepted.
func batchKernel(accepted *[][]netlink.Message, refuse func(req []netlink.Message) error) func([]netlink.Message) ([]netlink.Message, error) {
	return func(req []netlink.Message) ([]netlink.Message, error) {
		if len(req) == 0 {
			return nil, io.EOF // no more replies
		}
		if err := refuse(req); err != nil {
			return nil, err
		}
		if isBatch(req) {
			*accepted = append(*accepted, req)
		}
		return nil, nil
	}
}

// noInetCompat is a kernel without the native queue expression that
// refuses the compat target in an inet table too.
func noInetCompat(req []netlink.Message) bool {
	if batchHas(req, nativeName) {
		return true
	}
	for _, m := range req {
		// The nfgenmsg family of a rule with the target in an inet table.
		if len(m.Data) > 0 && m.Data[0] == unix.NFPROTO_INET && bytes.Contains(m.Data, compatName) {
			return true
		}
	}
	return false
}

// TestInstallProbe runs Install against fake kernels: one with the native
// queue expression (CONFIG_NFT_QUEUE), where it must be chosen and encoded
// with the queue range and bypass flag; one without (this machine's), which
// refuses it, where the xtables NFQUEUE target must follow in the same
// inet table; and one that refuses inet tables too.
func TestInstallProbe(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse func(req []netlink.Message) bool
		want   Method
		batch  [][]byte // what the accepted batch must contain
	}{
		{"native queue present", func([]netlink.Message) bool { return false },
			MethodNative, [][]byte{nativeName, nativeData}},
		{"compat only", func(req []netlink.Message) bool { return batchHas(req, nativeName) },
			MethodCompatInet, [][]byte{compatName, compatInfo}},
		{"compat without inet", noInetCompat, MethodCompatIP, [][]byte{compatName, compatInfo}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var accepted [][]netlink.Message
			kernel := batchKernel(&accepted, func(req []netlink.Message) error {
				if tc.refuse(req) {
					return unix.EOPNOTSUPP
				}
				return nil
			})
			pol, err := rules.Parse("plant.yaml", []byte(plantPolicy))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := Install(Config{Dial: kernel, QueueNum: 20, QueueCount: 2, Bypass: true, Policy: pol,
				Filter: FilterConfig{LogGroup: 9}, AppQueue: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if inst.Method != tc.want {
				t.Fatalf("method %s, want %s", inst.Method, tc.want)
			}
			if len(accepted) != 1 {
				t.Fatalf("%d batches accepted, want 1", len(accepted))
			}
			for _, b := range tc.batch {
				if !batchHas(accepted[0], b) {
					t.Errorf("accepted batch lacks % x", b)
				}
			}
			// Whichever way the queue is expressed, the batch carries the
			// pre-filter, its NFLOG statement, the app queue and the
			// unjudged counter.
			for _, b := range [][]byte{[]byte("prefilter\x00"), []byte("cls4\x00"), []byte("cls6\x00"),
				[]byte("log\x00"), []byte("deny-enterprise-to-plant\x00"), []byte("appqueue\x00"), []byte("unjudged\x00")} {
				if !batchHas(accepted[0], b) {
					t.Errorf("accepted batch lacks %q", b)
				}
			}
			app := nativeApp
			if tc.want != MethodNative {
				app = compatApp
			}
			if !batchHas(accepted[0], app) {
				t.Errorf("accepted batch lacks the app queue % x", app)
			}
		})
	}
	kernel := func(req []netlink.Message) ([]netlink.Message, error) {
		if len(req) == 0 {
			return nil, io.EOF
		}
		return nil, unix.EOPNOTSUPP
	}
	if _, err := Install(Config{Dial: kernel, QueueNum: 1}, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil ||
		!bytes.Contains([]byte(err.Error()), []byte("CONFIG_NFT_COMPAT")) {
		t.Errorf("a kernel refusing every method: %v", err)
	}
}

// TestInstallWithoutNFLOG: a kernel that refuses the log statement gets the
// same table without it: drops are then counted, not logged.
func TestInstallWithoutNFLOG(t *testing.T) {
	logName := []byte{8, 0, unix.NFTA_EXPR_NAME, 0, 'l', 'o', 'g', 0}
	var accepted [][]netlink.Message
	kernel := batchKernel(&accepted, func(req []netlink.Message) error {
		if batchHas(req, logName) {
			return unix.ENOENT
		}
		return nil
	})
	pol, err := rules.Parse("plant.yaml", []byte(plantPolicy))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := Install(Config{Dial: kernel, QueueNum: 20, Policy: pol, Filter: FilterConfig{LogGroup: 9}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if inst.Method != MethodNative || inst.Logging || len(accepted) != 1 {
		t.Fatalf("method %s logging %v, %d batches", inst.Method, inst.Logging, len(accepted))
	}
	if !batchHas(accepted[0], []byte("deny-enterprise-to-plant\x00")) {
		t.Error("the table without NFLOG lost its drop counters")
	}
}

// TestInstallWithoutPrefilter: a kernel that refuses the pre-filter (no
// interval maps, say) still gets the queue rule: every packet is queued,
// as before the pre-filter existed, rather than conduit not starting.
func TestInstallWithoutPrefilter(t *testing.T) {
	var accepted [][]netlink.Message
	kernel := batchKernel(&accepted, func(req []netlink.Message) error {
		if batchHas(req, []byte("prefilter\x00")) {
			return unix.EOPNOTSUPP
		}
		return nil
	})
	pol, err := rules.Parse("plant.yaml", []byte(plantPolicy))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := Install(Config{Dial: kernel, QueueNum: 20, Policy: pol, Filter: FilterConfig{LogGroup: 9}, AppQueue: true},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if inst.Method != MethodNative || inst.Prefilter || inst.Logging || len(accepted) != 1 {
		t.Fatalf("method %s prefilter %v logging %v, %d batches", inst.Method, inst.Prefilter, inst.Logging, len(accepted))
	}
	if !batchHas(accepted[0], nativeName) || batchHas(accepted[0], []byte("appqueue\x00")) {
		t.Error("the fallback table is not the queue rule alone")
	}
	n := len(accepted)
	if err := inst.Replace(pol); err != nil || len(accepted) <= n || !batchHas(accepted[len(accepted)-1], nativeName) {
		t.Errorf("a replace of the fallback table: %v", err)
	}
}

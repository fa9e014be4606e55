package learn

import (
	"bufio"
	"bytes"
	"fmt"
	"os"

	"github.com/conduit-ot/conduit/internal/atomicfile"
)

// WriteBaselineFile writes m as a baseline to path: to a file beside it,
// synced, then renamed over it, so a reader (or a crash) never sees half.
func WriteBaselineFile(path string, m *Matrix) error {
	var b bytes.Buffer
	if err := WriteBaseline(&b, m); err != nil {
		return err
	}
	return writeAtomic(path, b.Bytes())
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, data, 0o640); err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	return nil
}

// ReadBaselineFile reads a baseline from path.
func ReadBaselineFile(path string) (*Matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ReadBaseline(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load adds a saved matrix to the live one (its first shard): what a
// sensor saw before a restart goes on counting. Flows are not saved; the
// sessions still running start anew.
func (lv *Live) Load(m *Matrix) {
	sh := &lv.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	src := *m
	src.Sources = nil
	sh.l.m.Merge(&src)
}

package rules

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ParseDuration parses Go duration syntax ("90s", "1h30m") extended with a
// "d" (24h) unit, which may be combined with the others: "7d", "1d12h", "1.5d".
func ParseDuration(s string) (time.Duration, error) {
	if !strings.Contains(s, "d") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 2h, 7d)", s)
		}
		return d, nil
	}
	orig := s
	bad := fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 2h, 7d)", orig)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	for s != "" {
		// One segment: a number then a unit.
		i := 0
		for i < len(s) && (s[i] == '.' || s[i] >= '0' && s[i] <= '9') {
			i++
		}
		j := i
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		num, unit := s[:i], s[i:j]
		s = s[j:]
		if num == "" || unit == "" {
			return 0, bad
		}
		var seg time.Duration
		if unit == "d" {
			h, err := time.ParseDuration(num + "h")
			if err != nil || h > math.MaxInt64/24 {
				return 0, bad
			}
			seg = h * 24
		} else {
			d, err := time.ParseDuration(num + unit)
			if err != nil {
				return 0, bad
			}
			seg = d
		}
		if total > math.MaxInt64-seg {
			return 0, errors.New("duration " + orig + " is too long")
		}
		total += seg
	}
	if neg {
		total = -total
	}
	return total, nil
}

// FormatDuration prints d compactly, using days when it is a whole number of them.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	// "2h0m0s" reads better as "2h".
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

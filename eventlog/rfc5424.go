package eventlog

import (
	"bytes"
	"strconv"
	"time"
)

// Facilities by name, for the syslog URL's ?facility=.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// severity maps slog's level names to syslog severities.
func severity(level []byte) int {
	switch string(level) {
	case "ERROR":
		return 3
	case "WARN":
		return 4
	case "INFO":
		return 6
	case "DEBUG":
		return 7
	}
	if bytes.HasPrefix(level, []byte("ERROR")) {
		return 3
	}
	if bytes.HasPrefix(level, []byte("WARN")) {
		return 4
	}
	return 5 // notice: a level we do not know
}

// header is the fixed part of every message: HOSTNAME APP-NAME PROCID.
type header struct {
	facility int
	host     string
	app      string
	procID   string
}

// format appends the RFC 5424 message for one JSON record (its trailing
// newline removed) to dst:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
//
// PRI and TIMESTAMP come from the record's level and time, MSGID is its
// event field ("verdict", "flow_end", ...), and MSG is the record itself,
// so a SIEM gets the same JSON as the file log.
func (h *header) format(dst, rec []byte, now time.Time) []byte {
	rec = bytes.TrimRight(rec, "\n")
	pri := h.facility*8 + severity(field(rec, "level"))
	ts := now
	if t := field(rec, "time"); t != nil {
		if p, err := time.Parse(time.RFC3339Nano, string(t)); err == nil {
			ts = p
		}
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(pri), 10)
	dst = append(dst, ">1 "...)
	// TIME-SECFRAC allows at most 6 digits.
	dst = ts.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = append(dst, ' ')
	dst = append(dst, h.host...)
	dst = append(dst, ' ')
	dst = append(dst, h.app...)
	dst = append(dst, ' ')
	dst = append(dst, h.procID...)
	dst = append(dst, ' ')
	dst = appendName(dst, field(rec, "event"), 32)
	dst = append(dst, " - "...)
	return append(dst, rec...)
}

// field returns the string value of a top-level key of a slog JSON record,
// or nil. slog writes time, level and msg first and escapes every quote
// inside values, so the first `"key":"` is the key itself.
func field(rec []byte, key string) []byte {
	pat := make([]byte, 0, len(key)+5)
	pat = append(pat, '"')
	pat = append(pat, key...)
	pat = append(pat, `":"`...)
	i := bytes.Index(rec, pat)
	if i < 0 {
		return nil
	}
	v := rec[i+len(pat):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// appendName appends s as an RFC 5424 header field (PRINTUSASCII, no
// space, at most max octets), or "-" when empty.
func appendName(dst, s []byte, max int) []byte {
	n := 0
	for _, c := range s {
		if n == max {
			break
		}
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
		n++
	}
	if n == 0 {
		dst = append(dst, '-')
	}
	return dst
}

// sanitize makes a header field from a string.
func sanitize(s string, max int) string {
	return string(appendName(nil, []byte(s), max))
}

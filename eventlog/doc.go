// Package eventlog delivers the daemon's JSON log lines to their sinks:
// stdout or a file (reopened on SIGUSR1 for logrotate) and syslog RFC 5424
// over UDP, TCP (octet-counting framing, RFC 6587) or a unix datagram
// socket.
//
// A Mux is the io.Writer a slog JSON handler writes to: each Write is one
// record. It copies the record into one bounded queue per sink and returns
// at once, so a stalled SIEM neither holds up the file log nor the engine's
// log writer. Each sink drains its queue in its own goroutine; network
// sinks use write deadlines and reconnect with backoff, so a sink never
// blocks forever. Lines a full queue refused and lines a sink failed to
// deliver are counted per sink (Stats), never lost silently.
package eventlog

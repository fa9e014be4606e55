package learn

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
)

// Row is one service of the matrix as printed.
type Row struct {
	Client     string            `json:"client"`
	ClientZone string            `json:"client_zone"`
	Server     string            `json:"server"`
	ServerZone string            `json:"server_zone"`
	Proto      string            `json:"proto"`
	Port       int               `json:"port"` // ICMP: the type of the flows' first messages
	Service    string            `json:"service"`
	Flows      uint64            `json:"flows"`
	Packets    uint64            `json:"packets"`
	Bytes      uint64            `json:"bytes"`
	Replies    uint64            `json:"replies"` // packets from the server
	First      time.Time         `json:"first_seen"`
	Last       time.Time         `json:"last_seen"`
	MaxGapS    float64           `json:"max_gap_s"`
	Denied     uint64            `json:"denied,omitempty"` // flows a verdict log shows denied
	Functions  map[string]uint64 `json:"functions,omitempty"`
	// Unparsed counts, by reason, the packets the engine could not judge
	// as the port's protocol.
	Unparsed map[string]uint64 `json:"unparsed,omitempty"`
}

func rowOf(s *Service, zs *Zones) Row {
	return Row{
		Client: s.Client.Unmap().String(), ClientZone: zs.ZoneName(s.Client),
		Server: s.Server.Unmap().String(), ServerZone: zs.ZoneName(s.Server),
		Proto: packet.ProtoName(s.Proto), Port: int(s.Port), Service: label(s),
		Flows: s.Flows, Packets: s.Packets, Bytes: s.Bytes, Replies: s.ToClient,
		First: time.Unix(0, s.First).UTC(), Last: time.Unix(0, s.Last).UTC(),
		MaxGapS: time.Duration(s.MaxGap).Seconds(), Denied: s.Denied, Functions: s.Functions,
		Unparsed: s.Unparsed,
	}
}

// label is the service's name, unless its payload says otherwise: a row
// named by an industrial port whose traffic never parsed as that protocol
// says so ("dnp3 (does not parse)": plain text on tcp/20000 is not DNP3),
// and S7comm-plus on port 102 is named as such.
func label(s *Service) string {
	name := s.Name()
	for k := range s.Unparsed {
		if strings.Contains(k, "s7plus") {
			return "s7comm-plus"
		}
	}
	if len(s.Unparsed) > 0 && len(s.Functions) == 0 {
		return name + " (does not parse)"
	}
	return name
}

// Rows returns the matrix as rows, zones assigned by zs.
func Rows(m *Matrix, zs *Zones) []Row {
	var out []Row
	for _, s := range m.Services() {
		out = append(out, rowOf(s, zs))
	}
	return out
}

func functionsText(f map[string]uint64) string {
	if len(f) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(f))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", strings.ReplaceAll(k, " ", ":"), f[k])
	}
	return strings.Join(parts, " ")
}

// WriteTable prints rows for people.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT\tZONE\tSERVER\tZONE\tPROTO\tPORT\tSERVICE\tFLOWS\tPACKETS\tBYTES\tREPLIES\tFIRST SEEN\tLAST SEEN\tMAX GAP\tFUNCTIONS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n",
			r.Client, r.ClientZone, r.Server, r.ServerZone, r.Proto, r.Port, r.Service,
			r.Flows, r.Packets, r.Bytes, r.Replies, r.First.Format(time.RFC3339), r.Last.Format(time.RFC3339),
			shortDur(time.Duration(r.MaxGapS*float64(time.Second))), functionsText(r.Functions))
	}
	return tw.Flush()
}

// WriteCSV prints rows as CSV with a header line.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"client", "client_zone", "server", "server_zone", "proto", "port", "service",
		"flows", "packets", "bytes", "replies", "first_seen", "last_seen", "max_gap_s", "denied", "functions"})
	for _, r := range rows {
		cw.Write([]string{r.Client, r.ClientZone, r.Server, r.ServerZone, r.Proto, strconv.Itoa(r.Port), r.Service,
			u(r.Flows), u(r.Packets), u(r.Bytes), u(r.Replies), r.First.Format(time.RFC3339Nano), r.Last.Format(time.RFC3339Nano),
			strconv.FormatFloat(r.MaxGapS, 'f', 3, 64), u(r.Denied), functionsText(r.Functions)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON prints {"services": rows}.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Services []Row `json:"services"`
	}{rows})
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

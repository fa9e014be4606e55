package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Map is the zone map's geometry, computed here so that the template only
// places what it is given.
type Map struct {
	Width, Height int
	BandW         int // the bands' width, the unknown column beside them
	Bands         []Band
	Boxes         []Box
	Arrows        []Arrow
}

// Band is the horizontal strip of one Purdue level.
type Band struct {
	Label string
	Y, H  int
}

// Box is one zone.
type Box struct {
	Zone         string
	Level        string
	Lines        []string // name, CIDRs
	X, Y, W, H   float64
	TextX, TextY float64
	Flows        uint64
	Unknown      bool
	cx, cy       float64
	hw, hh       float64
}

// Arrow is one conduit.
type Arrow struct {
	Conduit string // "from->to"
	Num     int    // C1, C2 ... as the matrix names them
	Class   string
	Mode    string
	// Flows by class, as the label says them, and packets refused.
	Flows, Allowed, WouldDrop, Denied, Refused uint64
	Path                                       string
	LabelX                                     float64
	LabelY                                     float64
	LabelW                                     float64
	LabelH                                     float64
	Lines                                      []string
}

// Purdue levels from the top of the map down; 3.5 and dmz share a band.
var bandOrder = []string{"5", "4", "dmz", "3", "2", "1", "0"}

func bandOf(level string) string {
	if level == "3.5" {
		return "dmz"
	}
	return level
}

const (
	mapLeft   = 110.0  // room for the band labels
	mainWidth = 1000.0 // width of the banded area
	sideWidth = 240.0  // the unknown column
	bandH     = 200
	boxW      = 190.0
	boxH      = 58.0
	lineH     = 14.0
)

func layout(zones []Zone, conduits []Conduit) Map {
	var m Map
	byBand := map[string][]int{}
	var side []int
	for i, z := range zones {
		b := bandOf(z.Level)
		if z.Level == "unknown" || !contains(bandOrder, b) {
			side = append(side, i)
			continue
		}
		byBand[b] = append(byBand[b], i)
	}
	boxes := make([]Box, len(zones))
	y := 20
	for _, b := range bandOrder {
		idx := byBand[b]
		if len(idx) == 0 {
			continue
		}
		label := "Level " + b
		if b == "dmz" {
			label = "DMZ (3.5)"
		}
		m.Bands = append(m.Bands, Band{Label: label, Y: y, H: bandH})
		step := mainWidth / float64(len(idx))
		for k, i := range idx {
			cx := mapLeft + step*(float64(k)+0.5)
			boxes[i] = newBox(zones[i], cx, float64(y)+bandH/2)
		}
		y += bandH
	}
	if len(m.Bands) == 0 {
		y += bandH
	}
	for k, i := range side {
		cx := mapLeft + mainWidth + sideWidth/2
		cy := 20 + bandH/2 + float64(k)*bandH
		boxes[i] = newBox(zones[i], cx, cy)
		boxes[i].Unknown = true
		y = max(y, int(cy+bandH/2))
	}
	m.Boxes = boxes
	m.Width = int(mapLeft + mainWidth)
	if len(side) > 0 {
		m.Width += int(sideWidth)
	}
	m.BandW = int(mapLeft + mainWidth - 8)
	m.Height = y + 20

	at := map[string]*Box{}
	for i := range boxes {
		at[boxes[i].Zone] = &boxes[i]
	}
	ids := map[string]bool{}
	for _, c := range conduits {
		ids[c.ID()] = true
	}
	for n, c := range conduits {
		a, b := at[c.From], at[c.To]
		if a == nil || b == nil {
			continue
		}
		m.Arrows = append(m.Arrows, arrow(n+1, &c, a, b, ids[c.To+"->"+c.From]))
	}
	separate(m.Arrows)
	return m
}

func newBox(z Zone, cx, cy float64) Box {
	lines := []string{z.Name}
	if len(z.CIDRs) > 0 {
		c := strings.Join(z.CIDRs, ", ")
		if len(c) > 30 {
			c = z.CIDRs[0] + fmt.Sprintf(" +%d", len(z.CIDRs)-1)
		}
		lines = append(lines, c)
	}
	lines = append(lines, "level "+z.Level)
	return Box{Zone: z.Name, Level: z.Level, Lines: lines, Flows: z.Flows,
		X: cx - boxW/2, Y: cy - boxH/2, W: boxW, H: boxH, TextX: cx, TextY: cy - boxH/2 + 17,
		cx: cx, cy: cy, hw: boxW / 2, hh: boxH / 2}
}

// arrow draws conduit c from a to b; paired says the reverse conduit is
// drawn too, so the two bow apart far enough for both labels.
func arrow(num int, c *Conduit, a, b *Box, paired bool) Arrow {
	ar := Arrow{Conduit: c.ID(), Num: num, Class: c.Class(), Mode: c.Mode,
		Flows: c.Flows, Allowed: c.Allowed, WouldDrop: c.WouldDrop, Denied: c.Denied, Refused: c.Refused}
	ar.Lines = []string{
		fmt.Sprintf("C%d %s · %d flows", num, c.Mode, c.Flows),
		fmt.Sprintf("allowed %d · would-drop %d · denied %d", c.Allowed, c.WouldDrop, c.Denied),
	}
	if c.Refused > 0 {
		ar.Lines = append(ar.Lines, fmt.Sprintf("%d packets refused by a protocol condition", c.Refused))
	}
	if len(c.Functions) > 0 {
		// Refused functions first: they are what the label must show.
		f := append([]string(nil), c.Functions...)
		sort.SliceStable(f, func(i, j int) bool { return isRefused(f[i]) && !isRefused(f[j]) })
		more := ""
		if len(f) > 2 {
			f, more = f[:2], fmt.Sprintf(" +%d", len(c.Functions)-2)
		}
		ar.Lines = append(ar.Lines, strings.Join(f, ", ")+more)
	}
	width := 0
	for _, l := range ar.Lines {
		width = max(width, len([]rune(l)))
	}
	ar.LabelW = float64(width)*6.1 + 10
	ar.LabelH = float64(len(ar.Lines))*lineH + 6

	var lx, ly float64
	if a == b {
		// Traffic within one zone: a loop on the box's right.
		x0, y0 := a.cx+a.hw, a.cy-10
		x1, y1 := a.cx+a.hw, a.cy+10
		ar.Path = fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x0, y0, x0+60, y0-40, x1+60, y1+40, x1, y1)
		lx, ly = a.cx+a.hw+50, a.cy
	} else {
		// A quadratic curve bowed to the right of its direction, so that
		// the two directions of a pair do not overlap.
		dx, dy := b.cx-a.cx, b.cy-a.cy
		d := math.Hypot(dx, dy)
		bow := 20.0
		if paired {
			bow = 80
		}
		if dy == 0 {
			bow += 40 // along one band: over the boxes between
		}
		mx, my := (a.cx+b.cx)/2-dy/d*bow, (a.cy+b.cy)/2+dx/d*bow
		x0, y0 := edge(a, mx, my)
		x1, y1 := edge(b, mx, my)
		ar.Path = fmt.Sprintf("M%.1f %.1f Q%.1f %.1f %.1f %.1f", x0, y0, mx, my, x1, y1)
		// The label at the curve's middle.
		t := 0.5
		lx = (1-t)*(1-t)*x0 + 2*(1-t)*t*mx + t*t*x1
		ly = (1-t)*(1-t)*y0 + 2*(1-t)*t*my + t*t*y1
	}
	ar.LabelX, ar.LabelY = lx-ar.LabelW/2, ly-ar.LabelH/2
	return ar
}

// edge is where the line from the box's centre towards (px, py) leaves it.
func edge(b *Box, px, py float64) (float64, float64) {
	dx, dy := px-b.cx, py-b.cy
	t := math.Inf(1)
	if dx != 0 {
		t = b.hw / math.Abs(dx)
	}
	if dy != 0 {
		t = min(t, b.hh/math.Abs(dy))
	}
	if math.IsInf(t, 1) {
		return b.cx, b.cy
	}
	return b.cx + dx*t, b.cy + dy*t
}

func isRefused(function string) bool { return strings.HasSuffix(function, refusedSuffix) }

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// separate moves labels that would cover one another apart vertically,
// each against those placed before it.
func separate(as []Arrow) {
	for i := range as {
		for range 8 {
			moved := false
			for j := range i {
				a, b := &as[i], &as[j]
				if a.LabelX >= b.LabelX+b.LabelW || b.LabelX >= a.LabelX+a.LabelW ||
					a.LabelY >= b.LabelY+b.LabelH || b.LabelY >= a.LabelY+a.LabelH {
					continue
				}
				if a.LabelY >= b.LabelY {
					a.LabelY = b.LabelY + b.LabelH + 2
				} else {
					a.LabelY = b.LabelY - a.LabelH - 2
				}
				moved = true
			}
			if !moved {
				break
			}
		}
	}
}

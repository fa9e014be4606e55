package opcua

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The opcua: condition of a rule: its decoding from the policy, its
// checks of a secure channel and of a service request, and its rendering.

// Failures of the opcua condition's own keys (services share core's).
const (
	FailSecurityMode   core.Failure = 32
	FailSecurityPolicy core.Failure = 33
)

var (
	condKeys = []string{"services", "security_modes", "security_policies"}
	// serviceVoc names the services a MSG request carries: the secure
	// channel's own (OPN, CLO) are judged as the channel, ServiceFault is
	// only a response.
	serviceVoc = core.Vocab{What: "opcua service", Min: 0, Max: 0xffffffff, Names: RequestServiceNames,
		Code: func(s string) (int64, bool) {
			if v, ok := ServiceByName(s); ok && requestService(v) {
				return int64(v.RequestID()), true
			}
			return 0, false
		}}
	policyVoc = core.Vocab{What: "opcua security policy", Names: func() []string { return append([]string(nil), Policies...) }}
)

// requestService reports whether s is a service a MSG request names.
func requestService(s Service) bool {
	return s != ServiceUnknown && s != ServiceFault && s != OpenSecureChannel && s != CloseSecureChannel
}

// RequestServiceNames lists the names a condition's services may use,
// sorted.
func RequestServiceNames() []string {
	var out []string
	for _, n := range ServiceNames() {
		if s, _ := ServiceByName(n); requestService(s) {
			out = append(out, n)
		}
	}
	return out
}

// sessionServices open every session: a services list without them lets
// no client further than its secure channel.
var sessionServices = []Service{CreateSession, ActivateSession}

// Cond is an opcua: condition; an empty list matches anything.
type Cond struct {
	core.Sealed
	// Services are the request type ids as written (names resolved to
	// their request's DefaultBinary encoding id).
	Services []uint32
	// Modes are the security modes a channel may use.
	Modes []Mode
	// Policies are the security policy URIs a channel may use (short
	// names expanded), as written.
	Policies []string

	svc   [serviceCount]bool // services by name or by their request's number
	other []uint32           // numbers naming no service conduit knows
	modes [4]bool
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	f := d.Cond(n, "opcua", condKeys)
	c := &Cond{Services: core.Codes[uint32](d, f, "services", "opcua.services", &serviceVoc)}
	if v, ok := f["security_modes"]; ok {
		items, _ := d.Items(v.Val, "opcua.security_modes")
		for _, it := range items {
			if w, ok := d.Word(it, "opcua.security_modes", ModeNames()); ok {
				m, _ := ModeByName(w)
				c.Modes = append(c.Modes, m)
			}
		}
	}
	if v, ok := f["security_policies"]; ok {
		items, _ := d.Items(v.Val, "opcua.security_policies")
		for _, it := range items {
			s, ok := d.Scalar(it, "opcua.security_policies")
			if !ok {
				continue
			}
			uri, std := ExpandPolicy(s)
			if !std && !strings.Contains(s, ":") {
				d.UnknownName(it, s, "opcua.security_policies", &policyVoc)
				continue
			}
			c.Policies = append(c.Policies, uri)
		}
	}
	return c
}

// Build prepares the condition for its checks (again: it derives all it
// sets).
func (c *Cond) Build() {
	c.svc, c.other, c.modes = [serviceCount]bool{}, nil, [4]bool{}
	for _, id := range c.Services {
		if s, resp := ServiceOf(id); requestService(s) && !resp {
			c.svc[s] = true
		} else {
			c.other = append(c.other, id)
		}
	}
	for _, m := range c.Modes {
		c.modes[m&3] = true
	}
}

// NamesServices reports whether the condition judges requests by service.
func (c *Cond) NamesServices() bool { return len(c.Services) > 0 }

// CheckPolicy judges the security policy an OPN asks for.
func (c *Cond) CheckPolicy(uri []byte) core.Failure {
	if len(c.Policies) == 0 {
		return core.Pass
	}
	for _, p := range c.Policies {
		if string(uri) == p {
			return core.Pass
		}
	}
	return FailSecurityPolicy
}

// CheckMode judges a channel's security mode. ModeUnknown stands for a
// channel under a policy other than None whose mode its first MSG will
// tell (Sign or SignAndEncrypt): it passes if either may, and is refused
// only if neither may; pending reports that the mode must be judged again
// once known.
func (c *Cond) CheckMode(m Mode) (f core.Failure, pending bool) {
	if len(c.Modes) == 0 {
		return core.Pass, false
	}
	if m == ModeUnknown {
		sign, enc := c.modes[ModeSign], c.modes[ModeSignAndEncrypt]
		switch {
		case sign && enc:
			return core.Pass, false
		case sign || enc:
			return core.Pass, true
		}
		return FailSecurityMode, false
	}
	if c.modes[m&3] {
		return core.Pass, false
	}
	return FailSecurityMode, false
}

// CheckService judges a MSG request's service (its type NodeId).
func (c *Cond) CheckService(p *Message) core.Failure {
	if len(c.Services) == 0 {
		return core.Pass
	}
	if p.Service != ServiceUnknown && !p.Response && c.svc[p.Service] {
		return core.Pass
	}
	if p.TypeNS == 0 {
		for _, id := range c.other {
			if id == p.TypeID {
				return core.Pass
			}
		}
	}
	return core.FailService
}

// serviceNames renders the services as written: a name, or the number of
// an id no service has.
func (c *Cond) serviceNames() []string {
	var out []string
	for _, id := range c.Services {
		if s, resp := ServiceOf(id); requestService(s) && !resp {
			out = append(out, s.String())
		} else {
			out = append(out, strconv.FormatUint(uint64(id), 10))
		}
	}
	return out
}

func (c *Cond) modeNames() []string {
	var out []string
	for _, m := range c.Modes {
		out = append(out, m.String())
	}
	return out
}

// policyNames renders the policies as written: a standard URI by its
// short name.
func (c *Cond) policyNames() []string {
	var out []string
	for _, p := range c.Policies {
		out = append(out, string(PolicySuffix([]byte(p))))
	}
	return out
}

func (c *Cond) String() string {
	return core.Braced("opcua", "services", core.List(c.serviceNames()), "security_modes", core.List(c.modeNames()),
		"security_policies", core.List(c.policyNames()))
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	return []core.Section{core.Listed("opcua", []string{"services", "security_modes", "security_policies"},
		c.serviceNames(), c.modeNames(), c.policyNames())}
}

// Lint warns of a services list that lets no session open, and of
// services named for channels the condition allows to be encrypted,
// where they cannot be read.
func (c *Cond) Lint() []string {
	var out []string
	if len(c.Services) > 0 {
		var missing []string
		for _, s := range sessionServices {
			if !c.svc[s] {
				missing = append(missing, s.String())
			}
		}
		if len(missing) > 0 {
			out = append(out, "opcua services lack "+strings.Join(missing, ", ")+", which open every OPC UA session: its clients cannot get further")
		}
		if c.modes[ModeSignAndEncrypt] {
			out = append(out, "opcua services cannot be read on the sign_and_encrypt channels security_modes allows: their requests are unparsed-opcua (on_unparsed decides)")
		}
	}
	return out
}

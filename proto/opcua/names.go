package opcua

import (
	"sort"
	"strings"
)

// Service is an OPC UA service, an index into the services table (0: a
// type NodeId that names no service conduit knows). A request and its
// response are the same Service; Message.Response tells them apart.
type Service uint8

// The services of OPC UA Part 4 and the ServiceFault response.
const (
	ServiceUnknown Service = iota
	ServiceFault
	FindServers
	FindServersOnNetwork
	GetEndpoints
	RegisterServer
	RegisterServer2
	OpenSecureChannel
	CloseSecureChannel
	CreateSession
	ActivateSession
	CloseSession
	Cancel
	AddNodes
	AddReferences
	DeleteNodes
	DeleteReferences
	Browse
	BrowseNext
	TranslateBrowsePathsToNodeIds
	RegisterNodes
	UnregisterNodes
	QueryFirst
	QueryNext
	Read
	HistoryRead
	Write
	HistoryUpdate
	Call
	CreateMonitoredItems
	ModifyMonitoredItems
	SetMonitoringMode
	SetTriggering
	DeleteMonitoredItems
	CreateSubscription
	ModifySubscription
	SetPublishingMode
	Publish
	Republish
	TransferSubscriptions
	DeleteSubscriptions
	serviceCount
)

// services gives each Service its policy name and the numeric NodeIds (in
// namespace 0) of its request's and response's DefaultBinary encodings,
// from the specification's NodeIds.csv (Xxx{Request,Response}_Encoding_
// DefaultBinary). The names are the standard's in lower snake case.
var services = [serviceCount]struct {
	name     string
	req, rsp uint32
}{
	ServiceFault:                  {"service_fault", 0, 397},
	FindServers:                   {"find_servers", 422, 425},
	FindServersOnNetwork:          {"find_servers_on_network", 12208, 12209},
	GetEndpoints:                  {"get_endpoints", 428, 431},
	RegisterServer:                {"register_server", 437, 440},
	RegisterServer2:               {"register_server2", 12211, 12212},
	OpenSecureChannel:             {"open_secure_channel", 446, 449},
	CloseSecureChannel:            {"close_secure_channel", 452, 455},
	CreateSession:                 {"create_session", 461, 464},
	ActivateSession:               {"activate_session", 467, 470},
	CloseSession:                  {"close_session", 473, 476},
	Cancel:                        {"cancel", 479, 482},
	AddNodes:                      {"add_nodes", 488, 491},
	AddReferences:                 {"add_references", 494, 497},
	DeleteNodes:                   {"delete_nodes", 500, 503},
	DeleteReferences:              {"delete_references", 506, 509},
	Browse:                        {"browse", 527, 530},
	BrowseNext:                    {"browse_next", 533, 536},
	TranslateBrowsePathsToNodeIds: {"translate_browse_paths_to_node_ids", 554, 557},
	RegisterNodes:                 {"register_nodes", 560, 563},
	UnregisterNodes:               {"unregister_nodes", 566, 569},
	QueryFirst:                    {"query_first", 615, 618},
	QueryNext:                     {"query_next", 621, 624},
	Read:                          {"read", 631, 634},
	HistoryRead:                   {"history_read", 664, 667},
	Write:                         {"write", 673, 676},
	HistoryUpdate:                 {"history_update", 700, 703},
	Call:                          {"call", 712, 715},
	CreateMonitoredItems:          {"create_monitored_items", 751, 754},
	ModifyMonitoredItems:          {"modify_monitored_items", 763, 766},
	SetMonitoringMode:             {"set_monitoring_mode", 769, 772},
	SetTriggering:                 {"set_triggering", 775, 778},
	DeleteMonitoredItems:          {"delete_monitored_items", 781, 784},
	CreateSubscription:            {"create_subscription", 787, 790},
	ModifySubscription:            {"modify_subscription", 793, 796},
	SetPublishingMode:             {"set_publishing_mode", 799, 802},
	Publish:                       {"publish", 826, 829},
	Republish:                     {"republish", 832, 835},
	TransferSubscriptions:         {"transfer_subscriptions", 841, 844},
	DeleteSubscriptions:           {"delete_subscriptions", 847, 850},
}

// The dense range of encoding ids, looked up by index; the few above it
// (discovery services of later versions) by a switch.
const (
	denseLo = 397
	denseHi = 850
)

// byID maps a numeric type id in [denseLo, denseHi] to its service; the
// high bit marks a response encoding.
var byID [denseHi - denseLo + 1]uint8

const respBit = 0x80

func init() {
	for s := Service(1); s < serviceCount; s++ {
		for i, id := range [2]uint32{services[s].req, services[s].rsp} {
			if id == 0 || id > denseHi {
				continue
			}
			v := uint8(s)
			if i == 1 {
				v |= respBit
			}
			byID[id-denseLo] = v
		}
	}
}

// ServiceOf returns the service whose request or response encoding has
// the numeric NodeId id in namespace 0, and whether id is the response's.
func ServiceOf(id uint32) (s Service, response bool) {
	if id >= denseLo && id <= denseHi {
		v := byID[id-denseLo]
		return Service(v &^ respBit), v&respBit != 0
	}
	switch id {
	case 12208:
		return FindServersOnNetwork, false
	case 12209:
		return FindServersOnNetwork, true
	case 12211:
		return RegisterServer2, false
	case 12212:
		return RegisterServer2, true
	}
	return ServiceUnknown, false
}

// String returns the service's policy name, "" for ServiceUnknown.
func (s Service) String() string {
	if s < serviceCount {
		return services[s].name
	}
	return ""
}

// RequestID returns the numeric NodeId of the service's request encoding
// (0 for ServiceFault and ServiceUnknown): the number a policy names a
// service by when it has no name.
func (s Service) RequestID() uint32 {
	if s < serviceCount {
		return services[s].req
	}
	return 0
}

// ServiceByName returns the service of a policy name.
func ServiceByName(name string) (Service, bool) {
	if name == "" {
		return ServiceUnknown, false
	}
	for s := Service(1); s < serviceCount; s++ {
		if services[s].name == name {
			return s, true
		}
	}
	return ServiceUnknown, false
}

// ServiceNames lists the services' policy names, sorted.
func ServiceNames() []string {
	out := make([]string, 0, serviceCount-1)
	for s := Service(1); s < serviceCount; s++ {
		out = append(out, services[s].name)
	}
	sort.Strings(out)
	return out
}

// Mode is a secure channel's MessageSecurityMode (Part 4, 7.20) with its
// wire values; ModeUnknown (the wire's Invalid) also stands for "not known
// yet" in a Parse hint.
type Mode uint8

const (
	ModeUnknown        Mode = 0
	ModeNone           Mode = 1
	ModeSign           Mode = 2
	ModeSignAndEncrypt Mode = 3
)

var modeNames = [...]string{ModeUnknown: "", ModeNone: "none", ModeSign: "sign", ModeSignAndEncrypt: "sign_and_encrypt"}

// String returns the mode's policy name, "" for ModeUnknown or a value
// outside the enumeration.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return ""
}

// ModeByName returns the mode of a policy name.
func ModeByName(name string) (Mode, bool) {
	for m := ModeNone; m <= ModeSignAndEncrypt; m++ {
		if modeNames[m] == name {
			return m, true
		}
	}
	return ModeUnknown, false
}

// ModeNames lists the modes' policy names in the standard's order.
func ModeNames() []string { return []string{"none", "sign", "sign_and_encrypt"} }

// PolicyPrefix begins the URI of every standard security policy.
const PolicyPrefix = "http://opcfoundation.org/UA/SecurityPolicy#"

// Policies are the suffixes of the standard security policies' URIs
// (Part 7), the short names a policy file may use.
var Policies = []string{
	"None", "Basic128Rsa15", "Basic256", "Basic256Sha256",
	"Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss",
	"ECC_nistP256", "ECC_nistP384", "ECC_brainpoolP256r1", "ECC_brainpoolP384r1",
	"ECC_curve25519", "ECC_curve448",
}

// PolicySuffix returns a policy URI's short name: the part after
// PolicyPrefix for a standard URI, else the URI itself.
func PolicySuffix(uri []byte) []byte {
	if len(uri) > len(PolicyPrefix) && string(uri[:len(PolicyPrefix)]) == PolicyPrefix {
		return uri[len(PolicyPrefix):]
	}
	return uri
}

// PolicyNone reports whether uri is the None security policy's.
func PolicyNone(uri []byte) bool { return string(uri) == PolicyPrefix+"None" }

// ExpandPolicy returns the full URI of a short policy name (one of
// Policies, compared case-insensitively) and true, or name itself and
// false when it is not a standard short name (a full URI stays as it is).
func ExpandPolicy(name string) (string, bool) {
	for _, p := range Policies {
		if strings.EqualFold(p, name) {
			return PolicyPrefix + p, true
		}
	}
	return name, false
}

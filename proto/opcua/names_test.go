package opcua

import "testing"

// The request ids and their responses' (+3) are the specification's
// NodeIds.csv (XxxRequest_Encoding_DefaultBinary); the cases below are
// the services the policy reference names.
func TestServiceIDs(t *testing.T) {
	for _, c := range []struct {
		s    Service
		name string
		req  uint32
	}{
		{CreateSession, "create_session", 461}, {ActivateSession, "activate_session", 467},
		{CloseSession, "close_session", 473}, {Read, "read", 631}, {Write, "write", 673},
		{Browse, "browse", 527}, {BrowseNext, "browse_next", 533}, {Call, "call", 712},
		{CreateSubscription, "create_subscription", 787}, {Publish, "publish", 826},
		{CreateMonitoredItems, "create_monitored_items", 751}, {GetEndpoints, "get_endpoints", 428},
		{FindServers, "find_servers", 422}, {TranslateBrowsePathsToNodeIds, "translate_browse_paths_to_node_ids", 554},
		{RegisterNodes, "register_nodes", 560}, {HistoryRead, "history_read", 664},
		{HistoryUpdate, "history_update", 700}, {AddNodes, "add_nodes", 488}, {DeleteNodes, "delete_nodes", 500},
		{ModifySubscription, "modify_subscription", 793}, {DeleteSubscriptions, "delete_subscriptions", 847},
		{SetPublishingMode, "set_publishing_mode", 799}, {Republish, "republish", 832},
		{DeleteMonitoredItems, "delete_monitored_items", 781}, {ModifyMonitoredItems, "modify_monitored_items", 763},
		{SetMonitoringMode, "set_monitoring_mode", 769}, {CloseSecureChannel, "close_secure_channel", 452},
		{OpenSecureChannel, "open_secure_channel", 446},
	} {
		if c.s.String() != c.name || c.s.RequestID() != c.req {
			t.Errorf("%d: %q %d, want %q %d", c.s, c.s, c.s.RequestID(), c.name, c.req)
		}
		if s, resp := ServiceOf(c.req); s != c.s || resp {
			t.Errorf("ServiceOf(%d) = %v %v", c.req, s, resp)
		}
		if s, resp := ServiceOf(c.req + 3); s != c.s || !resp {
			t.Errorf("ServiceOf(%d) = %v %v", c.req+3, s, resp)
		}
		if s, ok := ServiceByName(c.name); !ok || s != c.s {
			t.Errorf("ServiceByName(%q) = %v %v", c.name, s, ok)
		}
	}
	if s, resp := ServiceOf(397); s != ServiceFault || !resp {
		t.Errorf("ServiceOf(397) = %v %v", s, resp)
	}
	for _, id := range []uint32{0, 396, 423, 851, 12210, 1 << 31} {
		if s, _ := ServiceOf(id); s != ServiceUnknown {
			t.Errorf("ServiceOf(%d) = %v", id, s)
		}
	}
	for _, name := range []string{"", "Read", "readx", "service"} {
		if _, ok := ServiceByName(name); ok {
			t.Errorf("ServiceByName(%q) found", name)
		}
	}
	if n := ServiceNames(); len(n) != int(serviceCount)-1 || n[0] != "activate_session" {
		t.Errorf("ServiceNames = %v", n)
	}
}

// Every service has a distinct name and distinct ids, each found back.
func TestServiceTable(t *testing.T) {
	names, ids := map[string]bool{}, map[uint32]bool{}
	for s := Service(1); s < serviceCount; s++ {
		e := services[s]
		if e.name == "" || names[e.name] {
			t.Errorf("service %d: name %q empty or repeated", s, e.name)
		}
		names[e.name] = true
		for i, id := range []uint32{e.req, e.rsp} {
			if id == 0 {
				continue
			}
			if ids[id] {
				t.Errorf("service %q: id %d repeated", e.name, id)
			}
			ids[id] = true
			if got, resp := ServiceOf(id); got != s || resp != (i == 1) {
				t.Errorf("ServiceOf(%d) = %v %v, want %v", id, got, resp, s)
			}
		}
	}
}

func TestModesAndPolicies(t *testing.T) {
	for _, m := range []Mode{ModeNone, ModeSign, ModeSignAndEncrypt} {
		if got, ok := ModeByName(m.String()); !ok || got != m {
			t.Errorf("mode %d: %q round trip %v", m, m, got)
		}
	}
	if _, ok := ModeByName(""); ok || ModeUnknown.String() != "" || Mode(9).String() != "" {
		t.Error("unknown mode named")
	}
	if s := PolicySuffix([]byte(PolicyPrefix + "Basic256Sha256")); string(s) != "Basic256Sha256" {
		t.Errorf("suffix %q", s)
	}
	if s := PolicySuffix([]byte("urn:vendor:policy")); string(s) != "urn:vendor:policy" {
		t.Errorf("suffix of a vendor URI %q", s)
	}
	if u, ok := ExpandPolicy("aes128_sha256_rsaoaep"); !ok || u != PolicyPrefix+"Aes128_Sha256_RsaOaep" {
		t.Errorf("expand %q %v", u, ok)
	}
	if u, ok := ExpandPolicy("urn:x"); ok || u != "urn:x" {
		t.Errorf("expand of a URI %q %v", u, ok)
	}
	if !PolicyNone([]byte(PolicyPrefix+"None")) || PolicyNone([]byte("None")) {
		t.Error("PolicyNone")
	}
}

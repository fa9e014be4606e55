// Package e2e is the harness of conduit's network-namespace end-to-end
// tests: it builds the binaries once per test binary, builds a plant
// (internal/plant) per test with echo servers on the PLC, starts `conduit
// run` in the firewall namespace, collects its JSON log lines and waits on
// them, drives probes and long-lived sessions between the zone hosts, and
// inspects or removes the conduit table the daemon leaves. Everything a
// test starts it also stops, through t.Cleanup. The tests of the other
// commands (nfq-accept, plant, plantpeer) use it to run their own test
// binary as the command inside a plant (RunAs, Self) and to check their
// usage errors (Usage).
//
// It is an ordinary package that imports testing, so that tests of any
// package can use it; no binary imports it.
package e2e

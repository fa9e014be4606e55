// Command nfq-accept is the benchmark baseline: the plainest go-nfqueue
// program that can sit where conduit sits. It installs the same nftables
// queue rule as conduit (engine/nft), accepts every packet, and on SIGINT
// or SIGTERM removes the rule and prints what it handled as one JSON line:
//
//	ip netns exec FW nfq-accept -queue 0 -gso
//
// Anything conduit costs beyond this loop is conduit's own work.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	nfqueue "github.com/florianl/go-nfqueue/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/engine/nft"
)

// options are the command-line settings.
type options struct {
	queue    uint16
	count    uint16
	gso      bool
	failOpen bool
	bypass   bool
	install  bool
	bind     bool
	maxLen   uint32
	rcvBuf   int
	dur      time.Duration
}

func parseArgs(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("nfq-accept", flag.ContinueOnError)
	fs.SetOutput(stderr)
	queue := fs.Uint("queue", 0, "first queue number")
	count := fs.Uint("count", 1, "queues, one reader each (flow-balanced by the rule)")
	gso := fs.Bool("gso", false, "set NFQA_CFG_F_GSO: receive unsegmented GSO packets")
	failOpen := fs.Bool("fail-open", false, "set NFQA_CFG_F_FAIL_OPEN: accept when the queue is full")
	bypass := fs.Bool("bypass", false, "queue rule bypass: accept while no reader is bound")
	install := fs.Bool("install", true, "install the conduit nftables table (and remove it at exit)")
	bind := fs.Bool("bind", true, "bind and serve the queues; -bind=false only installs the rule, for another reader (the bench's C loop)")
	maxLen := fs.Uint("maxlen", 4096, "packets the kernel holds per queue")
	rcvBuf := fs.Int("rcvbuf", 8<<20, "netlink receive buffer bytes")
	dur := fs.Duration("for", 0, "exit after this long (0: until signalled)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *count < 1 || *queue+*count > 65536 {
		return options{}, fmt.Errorf("queues %d..%d out of range", *queue, *queue+*count-1)
	}
	if *maxLen < 1 || *maxLen > 1<<20 || *rcvBuf < 0 || *dur < 0 {
		return options{}, errors.New("-maxlen must be 1..1048576, -rcvbuf and -for non-negative")
	}
	return options{
		queue: uint16(*queue), count: uint16(*count), gso: *gso, failOpen: *failOpen, bypass: *bypass,
		install: *install, bind: *bind, maxLen: uint32(*maxLen), rcvBuf: *rcvBuf, dur: *dur,
	}, nil
}

// result is printed at exit.
type result struct {
	Packets       uint64  `json:"packets"`
	VerdictErrors uint64  `json:"verdict_errors"`
	RecvErrors    uint64  `json:"recv_errors"`
	Seconds       float64 `json:"seconds"`
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	opts, err := parseArgs(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "nfq-accept:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if opts.dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.dur)
		defer cancel()
	}
	res, err := run(ctx, opts, log)
	if err != nil {
		log.Error("nfq-accept failed", "err", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context, opts options, log *slog.Logger) (res result, err error) {
	if os.Geteuid() != 0 {
		return res, errors.New("needs root (CAP_NET_ADMIN) to bind NFQUEUE and install nftables rules")
	}
	var counts struct{ packets, verdictErrs, recvErrs atomic.Uint64 }
	// The readers get their own context: it must end before their sockets
	// close on every return path, or a reader would spin on a closed socket.
	rctx, cancel := context.WithCancel(ctx)
	var queues []*nfqueue.Nfqueue
	defer func() {
		cancel()
		for _, q := range queues {
			q.Close() // waits for the reader goroutine, unbinding the queue
		}
	}()
	start := time.Now()
	// Bind the readers before the rule exists, so that no packet is queued
	// to a queue nobody reads.
	for i := uint16(0); opts.bind && i < opts.count; i++ {
		q, err := openQueue(rctx, opts, opts.queue+i, &counts.packets, &counts.verdictErrs, &counts.recvErrs)
		if err != nil {
			return res, err
		}
		queues = append(queues, q)
	}
	if opts.install {
		inst, err := nft.Install(nft.Config{QueueNum: opts.queue, QueueCount: opts.count, Bypass: opts.bypass}, log)
		if err != nil {
			return res, err
		}
		defer func() {
			if rerr := inst.Remove(); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}()
	}
	log.Info("nfq-accept ready", "queue", opts.queue, "count", opts.count, "gso", opts.gso, "fail_open", opts.failOpen)
	<-ctx.Done()
	res = result{
		Packets:       counts.packets.Load(),
		VerdictErrors: counts.verdictErrs.Load(),
		RecvErrors:    counts.recvErrs.Load(),
		Seconds:       time.Since(start).Seconds(),
	}
	return res, nil
}

// openQueue binds one queue with an accept-everything hook.
func openQueue(ctx context.Context, opts options, num uint16, packets, verdictErrs, recvErrs *atomic.Uint64) (*nfqueue.Nfqueue, error) {
	var flags uint32
	if opts.gso {
		flags |= nfqueue.NfQaCfgFlagGSO
	}
	if opts.failOpen {
		flags |= nfqueue.NfQaCfgFlagFailOpen
	}
	q, err := nfqueue.Open(&nfqueue.Config{
		NfQueue:      num,
		MaxPacketLen: 0xffff,
		MaxQueueLen:  opts.maxLen,
		Copymode:     nfqueue.NfQnlCopyPacket,
		Flags:        flags,
	})
	if err != nil {
		return nil, fmt.Errorf("open nfqueue %d: %w", num, err)
	}
	// Same socket tuning as conduit: overload shows as kernel drops instead
	// of ENOBUFS errors, and a large buffer absorbs bursts.
	if err := q.SetOption(netlink.NoENOBUFS, true); err != nil {
		q.Close()
		return nil, fmt.Errorf("nfqueue %d: NETLINK_NO_ENOBUFS: %w", num, err)
	}
	if opts.rcvBuf > 0 {
		if err := forceRcvBuf(q.Con, opts.rcvBuf); err != nil {
			q.Close()
			return nil, fmt.Errorf("nfqueue %d: receive buffer: %w", num, err)
		}
	}
	hook := func(a nfqueue.Attribute) int {
		if a.PacketID == nil {
			return 0
		}
		packets.Add(1)
		if err := q.SetVerdict(*a.PacketID, nfqueue.NfAccept); err != nil {
			verdictErrs.Add(1)
		}
		return 0
	}
	onErr := func(err error) int {
		if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return 1 // shutting down: the deadline was moved into the past
		}
		recvErrs.Add(1)
		return 0 // never let a recoverable error end the loop
	}
	if err := q.RegisterWithErrorFunc(ctx, hook, onErr); err != nil {
		q.Close()
		// The kernel answers EPERM (older kernels EBUSY) when another
		// netlink socket owns the queue; we are root, so it is not privilege.
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("bind nfqueue %d: queue already bound by another process: %w", num, err)
		}
		return nil, fmt.Errorf("bind nfqueue %d: %w", num, err)
	}
	return q, nil
}

// forceRcvBuf sets SO_RCVBUFFORCE (root may exceed rmem_max), falling back
// to SO_RCVBUF.
func forceRcvBuf(c *netlink.Conn, n int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		if serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
	}); err != nil {
		return err
	}
	return serr
}

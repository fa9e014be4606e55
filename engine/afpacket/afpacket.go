// Package afpacket reads copies of an interface's frames through an
// AF_PACKET socket with a memory-mapped TPACKET_V3 receive ring, for a
// passive sensor on a TAP or SPAN port (conduit observe).
//
// The socket is receive-only by construction: it has no transmit ring and
// the package has no call that sends, so nothing a sensor does can put a
// frame on the wire it watches. Outgoing frames of the host itself are
// ignored (PACKET_IGNORE_OUTGOING), the interface is put in promiscuous
// mode for the socket's lifetime (a SPAN port delivers frames addressed to
// other stations), and sockets of one interface can share its traffic
// through PACKET_FANOUT_HASH, whose hash is symmetric: both directions of
// a flow reach the same member.
//
// It uses golang.org/x/sys/unix only (no cgo): gopacket's afpacket needs
// cgo for its ring headers.
package afpacket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Config opens one socket on one interface.
type Config struct {
	Iface string
	// Fanout joins the socket to a fanout group of the interface (see
	// Group); nil reads every frame.
	Fanout *Group
	// BlockSize is the size of a ring block, a multiple of the page size;
	// default 1 MiB. Blocks is how many; default 16 (16 MiB per socket).
	BlockSize, Blocks int
	// RetireMS is how long the kernel fills a block before handing it over
	// partly filled; default 8 ms, which bounds the delay a sensor adds to
	// what it sees at low rates.
	RetireMS int
}

// Group is a fanout group of one interface. The first socket asks the
// kernel for an unused id; the others join it, in the order they open, so
// socket i of every interface's group gets the same flows when the groups
// have the same size.
type Group struct {
	mu     sync.Mutex
	id     int // the kernel's id, once joined
	joined bool
}

// Frame is one received frame, valid until the block it is in is released.
type Frame struct {
	Data    []byte // the frame from its link header, cut to the captured length
	WireLen int    // its length on the wire
	Sec     uint32 // kernel receive time
	Nsec    uint32
	// VLAN is the 802.1Q tag the interface took off the frame, when
	// VLANValid (the frame in Data then has no tag).
	VLAN      uint16
	VLANValid bool
}

// Time is the kernel's receive time in ns since the epoch.
func (f *Frame) Time() int64 { return int64(f.Sec)*1e9 + int64(f.Nsec) }

// Stats are the kernel's counters of a socket since it opened
// (PACKET_STATISTICS): frames it received, and those it dropped because
// the ring was full.
type Stats struct {
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"drops"`
	// FreezeQueue counts the times the ring was full and the queue froze
	// (TPACKET_V3).
	FreezeQueue uint64 `json:"freeze_queue"`
}

// Socket is a receive ring on one interface. Its reading methods are for
// one goroutine; Stats may be called from any.
type Socket struct {
	fd        int
	iface     *net.Interface
	ring      []byte
	blockSize int
	blocks    int
	cur       int // block in hand or next to wait for

	// The block in hand, while its frames are read.
	blk       []byte
	remaining uint32
	next      uint32 // offset of the next frame in blk

	statsMu sync.Mutex
	stats   Stats
	closed  atomic.Bool
}

const (
	tpStatusVLANValid = 1 << 4
	tpacketAlign      = 16
	blockHdrStatus    = 8  // offset of block_status in tpacket_block_desc
	blockHdrNumPkts   = 12 // num_pkts
	blockHdrFirst     = 16 // offset_to_first_pkt
)

// Open opens a receive-only ring on cfg.Iface. It needs CAP_NET_RAW.
func Open(cfg Config) (*Socket, error) {
	ifi, err := net.InterfaceByName(cfg.Iface)
	if err != nil {
		return nil, fmt.Errorf("afpacket: interface %q: %w", cfg.Iface, err)
	}
	if cfg.BlockSize <= 0 {
		cfg.BlockSize = 1 << 20
	}
	if cfg.Blocks <= 0 {
		cfg.Blocks = 16
	}
	if cfg.RetireMS <= 0 {
		cfg.RetireMS = 8
	}
	page := os.Getpagesize()
	if cfg.BlockSize%page != 0 {
		return nil, fmt.Errorf("afpacket: block size %d is not a multiple of the page size %d", cfg.BlockSize, page)
	}
	// Protocol 0: nothing is queued to the socket before bind names the
	// interface, so no frame of another interface is ever read.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: socket: %w", err)
	}
	s := &Socket{fd: fd, iface: ifi, blockSize: cfg.BlockSize, blocks: cfg.Blocks}
	if err := s.setup(cfg); err != nil {
		s.Close()
		return nil, fmt.Errorf("afpacket: %s: %w", cfg.Iface, err)
	}
	return s, nil
}

func (s *Socket) setup(cfg Config) error {
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("TPACKET_V3: %w", err)
	}
	// The host's own transmissions on the port are not the plant's traffic.
	// Kernels before 4.20 lack the option; the reader skips outgoing
	// frames by their packet type anyway.
	_ = unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1)
	req := unix.TpacketReq3{
		Block_size:       uint32(cfg.BlockSize),
		Block_nr:         uint32(cfg.Blocks),
		Frame_size:       1 << 11, // V3 packs frames of any size; this only has to divide the block
		Frame_nr:         uint32(cfg.BlockSize / (1 << 11) * cfg.Blocks),
		Retire_blk_tov:   uint32(cfg.RetireMS),
		Sizeof_priv:      0,
		Feature_req_word: 0,
	}
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("PACKET_RX_RING: %w", err)
	}
	ring, err := unix.Mmap(s.fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_LOCKED|unix.MAP_POPULATE)
	if err != nil {
		// MAP_LOCKED needs memlock headroom; a plain mapping serves too.
		ring, err = unix.Mmap(s.fd, 0, cfg.BlockSize*cfg.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			return fmt.Errorf("mmap ring: %w", err)
		}
	}
	s.ring = ring
	mreq := unix.PacketMreq{Ifindex: int32(s.iface.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(s.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("promiscuous mode: %w", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: s.iface.Index}
	if err := unix.Bind(s.fd, sa); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if cfg.Fanout != nil {
		if err := cfg.Fanout.join(s.fd); err != nil {
			return err
		}
	}
	return nil
}

func (g *Group) join(fd int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	const typ = unix.PACKET_FANOUT_HASH | unix.PACKET_FANOUT_FLAG_DEFRAG
	if g.joined {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, g.id|typ<<16); err != nil {
			return fmt.Errorf("join fanout group %d: %w", g.id, err)
		}
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, (typ|unix.PACKET_FANOUT_FLAG_UNIQUEID)<<16); err != nil {
		return fmt.Errorf("fanout group: %w", err)
	}
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return fmt.Errorf("fanout group id: %w", err)
	}
	g.id, g.joined = v&0xffff, true
	return nil
}

// Iface is the interface the socket reads.
func (s *Socket) Iface() *net.Interface { return s.iface }

// FD is the socket, for poll(2) over several rings.
func (s *Socket) FD() int { return s.fd }

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// blockStatus is the status word of block i, which the kernel and the
// reader hand back and forth.
func (s *Socket) blockStatus(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.ring[i*s.blockSize+blockHdrStatus]))
}

// Ready reports whether the next block is the reader's (the kernel
// retired it), taking it in hand if so. It does not wait: poll FD for
// POLLIN to wait.
func (s *Socket) Ready() bool {
	if s.blk != nil {
		return true
	}
	if atomic.LoadUint32(s.blockStatus(s.cur))&unix.TP_STATUS_USER == 0 {
		return false
	}
	off := s.cur * s.blockSize
	s.blk = s.ring[off : off+s.blockSize : off+s.blockSize]
	s.remaining = hostU32(s.blk[blockHdrNumPkts:])
	s.next = hostU32(s.blk[blockHdrFirst:])
	return true
}

// Next fills f with the next frame of the block in hand and reports
// whether there was one. After the last frame it gives the block back to
// the kernel. Call Ready first.
func (s *Socket) Next(f *Frame) bool {
	for s.blk != nil {
		if s.remaining == 0 || int(s.next)+unix.SizeofTpacket3Hdr > len(s.blk) {
			s.release()
			return false
		}
		h := (*unix.Tpacket3Hdr)(unsafe.Pointer(&s.blk[s.next]))
		off := s.next
		s.remaining--
		s.next += h.Next_offset
		if h.Next_offset == 0 {
			s.remaining = 0 // the last frame of the block
		}
		mac, snap := int(off)+int(h.Mac), int(h.Snaplen)
		if mac+snap > len(s.blk) {
			continue // never past the block, whatever the header says
		}
		// struct sockaddr_ll follows the header: skip the host's own frames
		// where the kernel could not leave them out.
		ll := int(off) + (unix.SizeofTpacket3Hdr+tpacketAlign-1)&^(tpacketAlign-1)
		if ll+11 <= len(s.blk) && s.blk[ll+10] == unix.PACKET_OUTGOING {
			continue
		}
		*f = Frame{Data: s.blk[mac : mac+snap : mac+snap], WireLen: int(h.Len), Sec: h.Sec, Nsec: h.Nsec}
		if h.Status&tpStatusVLANValid != 0 {
			f.VLAN, f.VLANValid = uint16(h.Hv1.Vlan_tci), true
		}
		return true
	}
	return false
}

// release gives the block in hand back to the kernel.
func (s *Socket) release() {
	atomic.StoreUint32(s.blockStatus(s.cur), unix.TP_STATUS_KERNEL)
	s.blk = nil
	s.cur = (s.cur + 1) % s.blocks
}

// Wait blocks until one of the sockets has a block to read or timeoutMS
// passes. fds is scratch space of len(socks).
func Wait(socks []*Socket, fds []unix.PollFd, timeoutMS int) error {
	for i, s := range socks {
		if s.Ready() {
			return nil
		}
		fds[i] = unix.PollFd{Fd: int32(s.fd), Events: unix.POLLIN | unix.POLLERR}
	}
	_, err := unix.Poll(fds[:len(socks)], timeoutMS)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

// Stats returns the kernel's counters since the socket opened. The kernel
// resets its own at each read; the socket keeps the sums.
func (s *Socket) Stats() (Stats, error) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.closed.Load() {
		return s.stats, nil
	}
	st, err := unix.GetsockoptTpacketStatsV3(s.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return s.stats, fmt.Errorf("afpacket: %s: PACKET_STATISTICS: %w", s.iface.Name, err)
	}
	s.stats.Packets += uint64(st.Packets)
	s.stats.Drops += uint64(st.Drops)
	s.stats.FreezeQueue += uint64(st.Freeze_q_cnt)
	return s.stats, nil
}

// Close unmaps the ring and closes the socket; the interface leaves
// promiscuous mode when its last such socket closes.
func (s *Socket) Close() error {
	s.Stats() // keep the last counts
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if s.ring != nil {
		unix.Munmap(s.ring)
		s.ring = nil
	}
	return unix.Close(s.fd)
}

// hostU32 reads a ring header word, which the kernel writes in host order.
func hostU32(b []byte) uint32 { return *(*uint32)(unsafe.Pointer(&b[0])) }

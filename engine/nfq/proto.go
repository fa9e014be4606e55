package nfq

import (
	nfqueue "github.com/florianl/go-nfqueue/v2"
)

// nfnetlink_queue message types and attributes (linux/netfilter/nfnetlink_queue.h)
// that go-nfqueue does not export.
const (
	subsysQueue = 3 // NFNL_SUBSYS_QUEUE

	msgPacket       = 0 // NFQNL_MSG_PACKET
	msgVerdict      = 1 // NFQNL_MSG_VERDICT
	msgConfig       = 2 // NFQNL_MSG_CONFIG
	msgVerdictBatch = 3 // NFQNL_MSG_VERDICT_BATCH

	attrPacketHdr  = 1  // NFQA_PACKET_HDR: be32 id, be16 hw_protocol, u8 hook
	attrVerdictHdr = 2  // NFQA_VERDICT_HDR: be32 verdict, be32 id
	attrMark       = 3  // NFQA_MARK
	attrInDev      = 5  // NFQA_IFINDEX_INDEV
	attrOutDev     = 6  // NFQA_IFINDEX_OUTDEV
	attrPhysInDev  = 7  // NFQA_IFINDEX_PHYSINDEV
	attrPhysOutDev = 8  // NFQA_IFINDEX_PHYSOUTDEV
	attrHWAddr     = 9  // NFQA_HWADDR: be16 hw_addrlen, u16 pad, u8 hw_addr[8]
	attrPayload    = 10 // NFQA_PAYLOAD
	attrCapLen     = 13 // NFQA_CAP_LEN
	attrSkbInfo    = 14 // NFQA_SKB_INFO

	cfgCmd    = 1 // NFQA_CFG_CMD: u8 command, u8 pad, be16 pf
	cfgParams = 2 // NFQA_CFG_PARAMS: be32 copy_range, u8 copy_mode
	cfgMaxLen = 3 // NFQA_CFG_QUEUE_MAXLEN
	cfgMask   = 4 // NFQA_CFG_MASK
	cfgFlags  = 5 // NFQA_CFG_FLAGS

	cmdBind   = 1 // NFQNL_CFG_CMD_BIND
	cmdUnbind = 2 // NFQNL_CFG_CMD_UNBIND

	skbInfoGSO = 0x2 // NFQA_SKB_GSO
)

// Verdicts, as the kernel numbers them.
const (
	Drop   = uint32(nfqueue.NfDrop)
	Accept = uint32(nfqueue.NfAccept)
	repeat = uint32(nfqueue.NfRepeat)
)

const (
	flagFailOpen = uint32(nfqueue.NfQaCfgFlagFailOpen)
	flagGSO      = uint32(nfqueue.NfQaCfgFlagGSO)
	copyPacket   = uint8(nfqueue.NfQnlCopyPacket)
)

package nft

// Mark bits conduit owns. Other software on a box may use packet and
// connection marks too, so conduit claims two high bits and changes no other.
const (
	// MarkJudged is set in the packet mark (skb->mark) of a packet conduit
	// gave a verdict to. A chain after the queue counts accepted packets
	// without it: those the kernel passed on its own (queue full with the
	// fail-open flag, or no reader bound with bypass).
	MarkJudged uint32 = 0x8000_0000
	// CtMarkFastpath is set in the connection mark of a flow conduit has
	// decided for good (allowed, no protocol condition, both directions
	// seen). The table accepts established packets of such a flow without
	// queueing them; conduit clears it when a reload stops allowing the flow.
	CtMarkFastpath uint32 = 0x4000_0000
)

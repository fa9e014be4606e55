package inspect

import "github.com/conduit-ot/conduit/proto"

// Application-layer reassembly buffers (a PDU spread over segments or
// transport pieces).

// AsmStart (proto.Judge) begins a reassembly at stream offset off, behind the bytes the
// stored one keeps.
func (in *Follower) AsmStart(off uint32) {
	in.cur.Asm = assembly{Buf: in.cur.Asm.Buf, Active: true, At: off}
	in.asmOff = in.asmBase
}

// AsmAppend (proto.Judge) adds b to the reassembly, up to limit bytes in all, borrowing
// a large buffer for the first bytes; it returns why it could not ("").
func (in *Follower) AsmAppend(b []byte, limit int) string {
	a := &in.cur.Asm
	if int(a.N)+len(b) > limit {
		return proto.DetailTooLarge
	}
	if len(b) == 0 {
		return ""
	}
	if a.Buf == 0 {
		if a.Buf = in.pool.borrow(); a.Buf == 0 {
			return proto.DetailNoLarge
		}
	}
	copy(in.pool.lend(a.Buf)[int(in.asmOff)+int(a.N):], b)
	a.N += uint16(len(b))
	return ""
}

// AsmBytes (proto.Judge) returns the bytes gathered.
func (in *Follower) AsmBytes() []byte {
	if in.cur.Asm.Buf == 0 {
		return nil
	}
	return in.pool.lend(in.cur.Asm.Buf)[in.asmOff : in.asmOff+in.cur.Asm.N]
}

// loadAsm takes the working copies of st's state for the packet's side.
func (in *Follower) loadAsm(st *Stream) {
	in.cur.Asm, in.cur.Word = st.asm[in.side], st.word
	in.asmBase = in.cur.Asm.N
}

// settle stores the working copies when the packet passes (keep), and
// gives back the large buffers it borrowed and no longer needs.
func (in *Follower) settle(st *Stream, keep bool) {
	a := &in.cur.Asm
	if st != nil && *a == st.asm[in.side] && in.asmOff == 0 && in.cur.Word == st.word {
		return // unchanged (a protocol without reassembly, or a whole PDU)
	}
	var held uint16
	if st != nil {
		held = st.asm[in.side].Buf
	}
	if !keep || st == nil {
		if a.Buf != held {
			in.pool.release(&a.Buf)
		}
		return
	}
	if !a.Active || a.Decided {
		a.N = 0
		in.pool.release(&a.Buf)
	} else if in.asmOff != 0 && a.N > 0 {
		buf := in.pool.lend(a.Buf)
		copy(buf, buf[in.asmOff:in.asmOff+a.N])
	}
	st.asm[in.side], st.word = *a, in.cur.Word
}

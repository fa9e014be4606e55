package engine

// Application-layer reassembly buffers (a PDU spread over segments or
// transport pieces).

// Why an application-layer reassembly could not go on (AsmAppend).
const (
	detailTooLarge = "pdu-larger-than-reassembly-buffer"
	detailNoLarge  = "no-large-buffer-free"
)

// AsmStart (proto.Judge) begins a reassembly at stream offset off, behind the bytes the
// stored one keeps.
func (in *inspection) AsmStart(off uint32) {
	in.asm = assembly{Buf: in.asm.Buf, Active: true, At: off}
	in.asmOff = in.asmBase
}

// AsmAppend (proto.Judge) adds b to the reassembly, up to limit bytes in all, borrowing
// a large buffer for the first bytes; it returns why it could not ("").
func (in *inspection) AsmAppend(b []byte, limit int) string {
	a := &in.asm
	if int(a.N)+len(b) > limit {
		return detailTooLarge
	}
	if len(b) == 0 {
		return ""
	}
	if a.Buf == 0 {
		if a.Buf = in.w.streams.borrow(); a.Buf == 0 {
			return detailNoLarge
		}
	}
	copy(in.w.streams.lend(a.Buf)[int(in.asmOff)+int(a.N):], b)
	a.N += uint16(len(b))
	return ""
}

// AsmBytes (proto.Judge) returns the bytes gathered.
func (in *inspection) AsmBytes() []byte {
	if in.asm.Buf == 0 {
		return nil
	}
	return in.w.streams.lend(in.asm.Buf)[in.asmOff : in.asmOff+in.asm.N]
}

// loadAsm takes the working copies of st's state for the packet's side.
func (in *inspection) loadAsm(st *flowStream) {
	in.asm, in.word = st.asm[in.side], st.word
	in.asmBase = in.asm.N
}

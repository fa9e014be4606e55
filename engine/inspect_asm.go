package engine

import "github.com/conduit-ot/conduit/proto"

// Application-layer reassembly buffers (a PDU spread over segments or
// transport pieces).

// Why an application-layer reassembly could not go on (asmAppend).
const (
	detailTooLarge = "pdu-larger-than-reassembly-buffer"
	detailNoLarge  = "no-large-buffer-free"
)

// asmStart begins a reassembly at stream offset off, behind the bytes the
// stored one keeps.
func (in *inspection) asmStart(off uint32) {
	in.asm = assembly{large: in.asm.large, Asm: proto.Asm{Active: true, At: off}}
	in.asmOff = in.asmBase
}

// asmAppend adds b to the reassembly, up to limit bytes in all, borrowing
// a large buffer for the first bytes; it returns why it could not ("").
func (in *inspection) asmAppend(b []byte, limit int) string {
	a := &in.asm
	if int(a.N)+len(b) > limit {
		return detailTooLarge
	}
	if len(b) == 0 {
		return ""
	}
	if a.large == 0 {
		if a.large = in.w.streams.borrow(); a.large == 0 {
			return detailNoLarge
		}
	}
	copy(in.w.streams.lend(a.large)[int(in.asmOff)+int(a.N):], b)
	a.N += uint16(len(b))
	return ""
}

// asmBytes returns the bytes gathered.
func (in *inspection) asmBytes() []byte {
	if in.asm.large == 0 {
		return nil
	}
	return in.w.streams.lend(in.asm.large)[in.asmOff : in.asmOff+in.asm.N]
}

// loadAsm takes the working copies of st's state for the packet's side.
func (in *inspection) loadAsm(st *flowStream) {
	in.asm, in.word = st.asm[in.side], st.word
	in.asmBase = in.asm.N
}

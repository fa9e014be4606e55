package s7

import (
	"fmt"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// captureWant counts each capture's TPKTs by what they carry. The figures
// come from tshark 4.0, not from this parser:
//
//	tshark -r F -o tcp.desegment_tcp_streams:FALSE -Y 'tcp.len>0 && tcp.port==102' -T fields \
//	  -e cotp.type -e cotp.eot -e s7comm.header.rosctr -e s7comm.param.func \
//	  -e s7comm.param.userdata.type -e s7comm.param.userdata.funcgroup \
//	  -e s7comm.param.userdata.subfunc -e s7comm.param.pistart.servicename \
//	  -e s7comm.param.itemcount | sort | uniq -c
//
// with block file names from s7comm.param.blockcontrol.filename and the
// PLC-stop service names read from the frames' hex. Keys: "cotp cr|cc|dt"
// for TPDUs without S7 data; "<rosctr> <function> [items=N] [name]";
// "userdata <type> <group> <subfunction>".
var captureWant = map[string]map[string]int{
	"s7comm_downloading_block_db1.pcap": {
		"cotp cr": 3, "cotp cc": 3, "cotp dt": 24,
		"job setup_communication": 3, "ack_data setup_communication": 3,
		"job request_download _0A00001P": 1, "ack_data request_download": 1,
		"job download_block _0A00001P": 3, "ack_data download_block": 3,
		"job download_ended _0A00001P": 1, "ack_data download_ended": 1,
		"job plc_control _INSE": 1, "ack_data plc_control": 1,
		"userdata request cpu_functions read_szl": 7, "userdata response cpu_functions read_szl": 7,
		"userdata request block_functions list_blocks": 5, "userdata response block_functions list_blocks": 5,
		"userdata request block_functions list_blocks_of_type": 2, "userdata response block_functions list_blocks_of_type": 2,
		"userdata request block_functions get_block_info": 1, "userdata response block_functions get_block_info": 1,
	},
	"s7comm_varservice_libnodavedemo.pcap": {
		"cotp cr": 1, "cotp cc": 1,
		"job setup_communication": 1, "ack_data setup_communication": 1,
		"job read_var items=1": 3, "ack_data read_var items=1": 3,
		"job write_var items=1": 4, "ack_data write_var items=1": 4,
	},
	"snap7_s300_everything.pcapng": {
		"job setup_communication": 1, "ack_data setup_communication": 1,
		"job read_var items=1": 1, "job read_var items=5": 1, "ack_data read_var items=1": 1, "ack_data read_var items=5": 1,
		"job write_var items=1": 1, "job write_var items=5": 1, "ack_data write_var items=1": 1, "ack_data write_var items=5": 1,
		"job start_upload _0B00000A": 4, "job start_upload _0800000A": 1, "ack_data start_upload": 4, "ack": 1,
		"job upload": 4, "ack_data upload": 4, "job end_upload": 4, "ack_data end_upload": 4,
		"job plc_control P_PROGRAM": 1, "job plc_control _GARB": 1, "job plc_control _MODU": 1, "ack_data plc_control": 3,
		"job plc_stop P_PROGRAM": 1, "ack_data plc_stop": 1,
		"userdata request cpu_functions read_szl": 6, "userdata response cpu_functions read_szl": 6,
		"userdata request block_functions list_blocks": 1, "userdata response block_functions list_blocks": 1,
		"userdata request block_functions get_block_info": 1, "userdata response block_functions get_block_info": 1,
		"userdata request time_functions read_clock": 1, "userdata response time_functions read_clock": 1,
		"userdata request time_functions set_clock": 1, "userdata response time_functions set_clock": 1,
	},
	"snap7_s300_stop.pcapng": {"job plc_stop P_PROGRAM": 1, "ack_data plc_stop": 1},
}

// captureKey names a decoded TPKT as captureWant counts it.
func captureKey(p *PDU) string {
	switch p.Kind {
	case KindS7Plus:
		return "s7plus"
	case KindFragment:
		return "cotp fragment"
	case KindCOTP:
		switch p.COTP.Type {
		case COTPConnectRequest:
			return "cotp cr"
		case COTPConnectConfirm:
			return "cotp cc"
		case COTPData:
			return "cotp dt"
		}
		return fmt.Sprintf("cotp %02x", p.COTP.Type)
	}
	if p.ROSCTR == ROSCTRUserdata {
		return fmt.Sprintf("userdata %s %s %s", UserdataTypeName(p.UserdataType), GroupName(p.Group), SubfunctionName(p.Group, p.Subfunction))
	}
	k := ROSCTRName(p.ROSCTR)
	if !p.HasFunction {
		return k
	}
	k += " " + FunctionName(p.Function)
	if p.Function == FuncReadVar || p.Function == FuncWriteVar {
		k += fmt.Sprintf(" items=%d", p.ItemCount)
	}
	if p.Filename != nil {
		k += " " + string(p.Filename)
	}
	if p.PIService != nil {
		k += " " + string(p.PIService)
	}
	return k
}

func TestCaptures(t *testing.T) {
	pcaptest.Table(t, "s7", captureWant, func(t *testing.T, path string, want map[string]int) {
		got := map[string]int{}
		var p PDU
		pcaptest.EachPDU(t, path, Port, func(b []byte, fromPort bool) (int, pdu.Error) {
			n, err := Parse(b, pdu.DirOf(fromPort), &p)
			if err == pdu.OK {
				got[captureKey(&p)]++
			}
			return n, err
		})
		pcaptest.DiffCounts(t, got, want)
	})
}

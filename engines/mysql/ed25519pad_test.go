package mysql

import (
	"bytes"
	"testing"
)

// switchPacket is an authentication switch to plugin with data, as the
// server sends it (sequence number 2).
func switchPacket(plugin string, data []byte) []byte {
	payload := append(append(append([]byte{pktSwitch}, plugin...), 0), data...)
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), 2}, payload...)
}

// driverAuthData is what go-sql-driver/mysql (v1.10.1, readAuthResult)
// takes as the switch's data: after the plugin name, one trailing NUL
// stripped.
func driverAuthData(pkt []byte) []byte {
	payload := pkt[4:]
	i := bytes.IndexByte(payload, 0)
	data := payload[i+1:]
	if len(data) > 0 && data[len(data)-1] == 0 {
		data = data[:len(data)-1]
	}
	return data
}

func TestPadEd25519Nonce(t *testing.T) {
	nonce := func(last byte) []byte {
		b := bytes.Repeat([]byte{0x5a}, 32)
		b[31] = last
		return b
	}
	cases := []struct {
		name string
		pkt  []byte
		want []byte // what the driver must see
		same bool   // the packet passes unchanged
	}{
		{name: "nonce ending in NUL", pkt: switchPacket("client_ed25519", nonce(0)), want: nonce(0)},
		{name: "ordinary nonce", pkt: switchPacket("client_ed25519", nonce(7)), want: nonce(7), same: true},
		{name: "nonce sent with a terminator", pkt: switchPacket("client_ed25519", append(nonce(0), 0)), want: nonce(0), same: true},
		{name: "another plugin", pkt: switchPacket("mysql_native_password", append(bytes.Repeat([]byte{1}, 20), 0)), want: bytes.Repeat([]byte{1}, 20), same: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := padEd25519Nonce(append([]byte(nil), c.pkt...))
			if c.same && !bytes.Equal(got, c.pkt) {
				t.Fatalf("packet changed: %x", got)
			}
			n := int(got[0]) | int(got[1])<<8 | int(got[2])<<16
			if n != len(got)-4 || got[3] != c.pkt[3] {
				t.Fatalf("header %x does not describe the %d-byte payload", got[:4], len(got)-4)
			}
			if d := driverAuthData(got); !bytes.Equal(d, c.want) {
				t.Fatalf("the driver would see %d bytes %x, want %x", len(d), d, c.want)
			}
		})
	}
	if ok := padEd25519Nonce([]byte{1, 0, 0, 2, pktOK}); len(ok) != 5 {
		t.Fatal("an OK packet changed")
	}
}

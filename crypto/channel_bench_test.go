package crypto_test

import (
	"testing"

	"noroshi/crypto/cryptotest"
)

// BenchmarkChannelHandshake runs whole handshakes, both sides, over net.Pipe.
func BenchmarkChannelHandshake(b *testing.B) {
	alice, bob := cryptotest.Device(b, "alice"), cryptotest.Device(b, "bob")
	for b.Loop() {
		c, s := handshake(b, alice, bob, channelCommunity, channelCommunity, allowAll, allowAll)
		if c.err != nil || s.err != nil {
			b.Fatalf("handshake: %v, %v", c.err, s.err)
		}
	}
}

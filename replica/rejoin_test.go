package replica_test

import (
	"fmt"
	"net"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// A node whose first join failed (its peer was not up yet) and whom nobody
// else knows joins its configured peer again on a later round: without
// it, the node stays alone for good, which a big cluster on a loaded
// machine showed (a few of 64 nodes never met anyone).
func TestAloneNodeJoinsAgain(t *testing.T) {
	c := replicatest.New(t, "join again")
	devs, certs := c.Members("node", 2, crypto.RoleMember)
	base := append(append(certs[:0:0], c.Genesis), certs...)
	open := func(i int) *replicatest.Replica {
		return replicatest.OpenReplica(t, devs[i], replicatest.Config(t, devs[i].ID(), nil), base...)
	}
	// A port with nothing behind it yet: the late node takes it later.
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	start := func(r *replicatest.Replica, bindPort int, join []string) *replica.Node {
		n, err := replica.StartNode(r.Store, replica.NodeConfig{
			Device:              r.Dev.Dev,
			BindAddr:            "127.0.0.1",
			BindPort:            bindPort,
			SyncPort:            0,
			Join:                join,
			TransportKeys:       [][]byte{c.TransportKey()},
			AntiEntropyInterval: 200 * time.Millisecond,
			Test:                true,
		})
		if err != nil {
			t.Fatalf("start %s: %v", r.Dev.Name, err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	early := start(open(0), 0, []string{fmt.Sprintf("127.0.0.1:%d", port)})
	late := start(open(1), port, nil) // joins nobody: only the early node's retry can bring them together
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if alive(early) == 1 && alive(late) == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the early node never joined the late one: early sees %d alive, late sees %d", alive(early), alive(late))
}

func alive(n *replica.Node) int {
	k := 0
	for _, p := range n.Peers() {
		if p.State == "alive" {
			k++
		}
	}
	return k
}

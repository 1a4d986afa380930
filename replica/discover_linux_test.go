package replica_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
	"noroshi/replica/replicatest"
)

// TestDiscoverNetns runs real nodes with mDNS on, each alone in a network
// namespace this test creates, on one bridged link 10.99.0.0/24 that exists
// only inside those namespaces:
//
//	hub namespace:  br0 -- pa, pb, pc (veth ends)
//	namespace a:    eth0 10.99.0.1/24   community "games"  (every interface)
//	namespace b:    eth0 10.99.0.2/24   community "games"  (MDNSInterface eth0)
//	namespace c:    eth0 10.99.0.3/24   community "other"  (another transport key)
//
// Each node runs in a copy of this test binary started by `ip netns exec`
// (TestDiscoverNetnsHelper), with no Join list; it writes its state to a
// JSON file in a shared temp dir every 100 ms. The test waits until a and b
// are members of each other's gossip and hold each other's post, and c has
// heard both of them and ignored them; then it checks that nobody joined c.
//
// Multicast cannot leave the namespaces: the nodes have no other interface
// than lo and eth0 (each helper checks that before it starts), and the link
// has no way out of the hub. Skipped where namespaces cannot be made (not
// root, no `ip`, no netns or bridge support).
func TestDiscoverNetns(t *testing.T) {
	start := time.Now()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces not available: not root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("network namespaces not available: no `ip` command (apt-get install iproute2)")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("network namespaces not available: cannot find the test binary: %v", err)
	}
	prefix := fmt.Sprintf("nrs%d", os.Getpid())
	hub := prefix + "h"
	nodes := []struct {
		name, community, iface string
		ns, addr               string
	}{
		{"a", "games", "", prefix + "a", "10.99.0.1/24"},
		{"b", "games", "eth0", prefix + "b", "10.99.0.2/24"},
		{"c", "other", "", prefix + "c", "10.99.0.3/24"},
	}
	ipCmd := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
		}
		return nil
	}
	addNS := func(name string) error {
		if err := ipCmd("netns", "add", name); err != nil {
			return err
		}
		t.Cleanup(func() {
			if err := ipCmd("netns", "del", name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		return nil
	}
	if err := addNS(hub); err != nil {
		t.Skipf("network namespaces not available: %v", err)
	}
	if err := ipCmd("-n", hub, "link", "add", "br0", "type", "bridge"); err != nil {
		t.Skipf("network namespaces not available: no bridge: %v", err)
	}
	must := func(args ...string) {
		t.Helper()
		if err := ipCmd(args...); err != nil {
			t.Fatal(err)
		}
	}
	must("-n", hub, "link", "set", "br0", "up")
	for _, n := range nodes {
		if err := addNS(n.ns); err != nil {
			t.Fatal(err)
		}
		port := "p" + n.name
		must("-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
		must("-n", hub, "link", "set", port, "master", "br0")
		must("-n", hub, "link", "set", port, "up")
		must("-n", n.ns, "link", "set", "lo", "up")
		must("-n", n.ns, "addr", "add", n.addr, "dev", "eth0")
		must("-n", n.ns, "link", "set", "eth0", "multicast", "on")
		must("-n", n.ns, "link", "set", "eth0", "up")
	}
	t.Logf("namespaces ready in %v", time.Since(start).Round(time.Millisecond))

	// The communities are built here, once (memberships hold age
	// recipients drawn at random): each helper gets its device's key file
	// and the envelopes of its store (genesis, memberships, its own post).
	dir := t.TempDir()
	communities := map[string]*replicatest.Community{}
	for _, n := range nodes {
		if communities[n.community] == nil {
			communities[n.community] = replicatest.New(t, n.community)
		}
	}
	for name, c := range communities {
		envs := []*envelope.Envelope{c.Genesis}
		devs := map[string]*replicatest.Device{}
		for _, n := range nodes {
			d, m := c.Join("lap-"+n.name, "venue", crypto.RoleMember)
			envs = append(envs, m)
			devs[n.name] = d
		}
		for _, n := range nodes {
			if n.community != name {
				continue
			}
			var buf bytes.Buffer
			for _, e := range append(envs, devs[n.name].Post("hello from "+n.name)) {
				b, err := e.Encode()
				if err != nil {
					t.Fatal(err)
				}
				buf.Write(b)
			}
			if err := os.WriteFile(filepath.Join(dir, n.name+".envs"), buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			buf.Reset()
			if err := crypto.WriteKeyFile(&buf, devs[n.name].Dev, "test", 1, replicatest.Start); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, n.name+".key"), buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	var wg sync.WaitGroup
	procs := map[string]*exec.Cmd{}
	exited := map[string]chan error{}
	for _, n := range nodes {
		out, err := os.Create(filepath.Join(dir, n.name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(ip, "netns", "exec", n.ns, exe, "-test.run=^TestDiscoverNetnsHelper$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "NOROSHI_DISCOVER_DIR="+dir, "NOROSHI_DISCOVER_NODE="+n.name,
			"NOROSHI_DISCOVER_COMMUNITY="+n.community, "NOROSHI_DISCOVER_IFACE="+n.iface)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[n.name] = cmd
		done := make(chan error, 1)
		exited[n.name] = done
		wg.Add(1)
		go func() {
			defer wg.Done()
			done <- cmd.Wait()
			out.Close()
		}()
	}
	// Runs before the namespaces are deleted (cleanups run last first).
	t.Cleanup(func() {
		for _, cmd := range procs {
			cmd.Process.Kill()
		}
		wg.Wait()
		if t.Failed() {
			for _, n := range nodes {
				for _, ext := range []string{".out", ".log"} {
					b, _ := os.ReadFile(filepath.Join(dir, n.name+ext))
					t.Logf("--- node %s%s:\n%s", n.name, ext, b)
				}
			}
		}
	})

	read := func(name string) (discoverStatus, bool) {
		var s discoverStatus
		b, err := os.ReadFile(filepath.Join(dir, name+".json"))
		return s, err == nil && json.Unmarshal(b, &s) == nil
	}
	deadline := time.Now().Add(40 * time.Second)
	var a, b, c discoverStatus
	for {
		var okA, okB, okC bool
		a, okA = read("a")
		b, okB = read("b")
		c, okC = read("c")
		for name, s := range map[string]discoverStatus{"a": a, "b": b, "c": c} {
			if s.Err != "" {
				t.Fatalf("node %s: %s", name, s.Err)
			}
		}
		if okA && okB && okC &&
			slices.Contains(a.Peers, b.Device) && slices.Contains(b.Peers, a.Device) &&
			a.Envelopes == 6 && b.Envelopes == 6 &&
			a.Stats.Foreign > 0 && b.Stats.Foreign > 0 && c.Stats.Foreign >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 40 s:\na: %+v\nb: %+v\nc: %+v", a, b, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	found := time.Since(start)
	t.Logf("a and b found each other and synced, c ignored: %v after start", found.Round(time.Millisecond))
	t.Logf("a: %+v", a.Stats)
	t.Logf("b: %+v", b.Stats)
	t.Logf("c: %+v", c.Stats)

	// Another community's node is never joined, nor does it join anyone:
	// its tag matches none of their keys (and its gossip key neither).
	if len(c.Peers) != 0 || c.Stats.Joined != 0 || c.Stats.Found != 0 {
		t.Errorf("node c of another community: peers %v, stats %+v; want alone", c.Peers, c.Stats)
	}
	for name, s := range map[string]discoverStatus{"a": a, "b": b} {
		if slices.Contains(s.Peers, c.Device) || len(s.Peers) != 1 {
			t.Errorf("node %s: peers %v, want only the other node of its community", name, s.Peers)
		}
	}
	if a.Stats.Joined+b.Stats.Joined == 0 {
		t.Errorf("neither a nor b joined the other through mDNS: %+v, %+v", a.Stats, b.Stats)
	}

	// Stop: every node closes cleanly (Close stops discovery too).
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		select {
		case err := <-exited[n.name]:
			if err != nil {
				t.Errorf("node %s: %v", n.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("node %s did not stop within 20 s", n.name)
			continue
		}
		s, _ := read(n.name)
		if !s.Closed {
			t.Errorf("node %s did not report a clean close: %+v", n.name, s)
		}
		t.Logf("node %s closed in %v", n.name, s.CloseTime)
	}
	t.Logf("total %v (discovery and sync %v)", time.Since(start).Round(time.Millisecond), found.Round(time.Millisecond))
}

// discoverStatus is what a helper node reports.
type discoverStatus struct {
	Node       string
	Device     string
	Gossip     string
	Interfaces []string
	Peers      []string // devices of alive gossip peers
	Envelopes  int
	Stats      replica.DiscoveryStats
	Closed     bool
	CloseTime  time.Duration
	Err        string
}

// TestDiscoverNetnsHelper is one node of TestDiscoverNetns, inside its
// namespace. It does nothing when run by itself.
func TestDiscoverNetnsHelper(t *testing.T) {
	dir := os.Getenv("NOROSHI_DISCOVER_DIR")
	if dir == "" {
		t.Skip("helper process of TestDiscoverNetns")
	}
	name := os.Getenv("NOROSHI_DISCOVER_NODE")
	st := discoverStatus{Node: name}
	write := func() {
		b, _ := json.Marshal(st)
		tmp := filepath.Join(dir, name+".json.tmp")
		if err := os.WriteFile(tmp, b, 0o600); err == nil {
			os.Rename(tmp, filepath.Join(dir, name+".json"))
		}
	}
	fail := func(format string, args ...any) {
		st.Err = fmt.Sprintf(format, args...)
		write()
		t.Fatal(st.Err)
	}

	// Never multicast on a real network: refuse to run unless this is a
	// namespace of the test's (lo and eth0 on 10.99.0.0/24 only).
	ifs, err := net.Interfaces()
	if err != nil {
		fail("interfaces: %v", err)
	}
	for _, ifi := range ifs {
		st.Interfaces = append(st.Interfaces, ifi.Name)
		if ifi.Name != "lo" && ifi.Name != "eth0" {
			fail("not in a test namespace: interface %s", ifi.Name)
		}
		addrs, _ := ifi.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !strings.HasPrefix(ipn.IP.String(), "10.99.0.") {
				fail("not in a test namespace: address %v on %s", ipn.IP, ifi.Name)
			}
		}
	}

	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		fail("%v", err)
	}
	defer logf.Close()
	var logMu sync.Mutex
	logger := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(logf, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
	}

	// The device and the envelopes of its store, from the parent.
	kf, err := os.Open(filepath.Join(dir, name+".key"))
	if err != nil {
		fail("%v", err)
	}
	me, err := crypto.ReadKeyFile(kf, "test")
	kf.Close()
	if err != nil {
		fail("key file: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".envs"))
	if err != nil {
		fail("%v", err)
	}
	var envs []*envelope.Envelope
	for len(b) > 0 {
		e, n, err := envelope.DecodePrefix(b)
		if err != nil {
			fail("envelopes: %v", err)
		}
		envs = append(envs, e)
		b = b[n:]
	}
	store := replicatest.Open(t, replicatest.Config(t, me.ID(), nil))
	replicatest.MustAdmit(t, store, envs...)
	st.Device = me.ID().String()
	key := sha256.Sum256([]byte("noroshi-test/transport/" + os.Getenv("NOROSHI_DISCOVER_COMMUNITY")))

	node, err := replica.StartNode(store, replica.NodeConfig{
		Device: me, BindAddr: "0.0.0.0", BindPort: 7946, TransportKeys: [][]byte{key[:]},
		Test: true, AntiEntropyInterval: 300 * time.Millisecond,
		MDNS: true, MDNSInterface: os.Getenv("NOROSHI_DISCOVER_IFACE"), MDNSInterval: 250 * time.Millisecond,
		Logf: logger,
	})
	if err != nil {
		fail("StartNode: %v", err)
	}
	st.Gossip = node.GossipAddr()
	stop := time.Now().Add(60 * time.Second)
	for time.Now().Before(stop) {
		if _, err := os.Stat(filepath.Join(dir, "stop")); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			fail("%v", err)
		}
		st.Peers = nil
		for _, p := range node.Peers() {
			if p.State == "alive" {
				st.Peers = append(st.Peers, p.Device.String())
			}
		}
		st.Envelopes = len(replicatest.Since(t, store))
		st.Stats = node.Discovery()
		write()
		time.Sleep(100 * time.Millisecond)
	}
	t0 := time.Now()
	if err := node.Close(); err != nil {
		logger("close: %v", err)
	}
	st.CloseTime = time.Since(t0)
	st.Closed = true
	st.Stats = node.Discovery()
	write()
}

// TestDiscoverLoopbackIdle starts a node with mDNS on but bound to
// 127.0.0.1: discovery runs its rounds on no interface at all (nothing is
// advertised nor sent), and Close stops it promptly. An unknown interface
// is refused at start.
func TestDiscoverLoopbackIdle(t *testing.T) {
	c := replicatest.New(t, "games")
	d, m := c.Join("lap", "venue", crypto.RoleMember)
	store := replicatest.Open(t, replicatest.Config(t, d.ID(), nil))
	replicatest.MustAdmit(t, store, c.Genesis, m)
	key := sha256.Sum256([]byte("noroshi-test/transport/games"))
	cfg := replica.NodeConfig{Device: d.Dev, BindAddr: "127.0.0.1", TransportKeys: [][]byte{key[:]}, Test: true,
		MDNS: true, MDNSInterval: 20 * time.Millisecond, Logf: t.Logf}

	bad := cfg
	bad.MDNSInterface = "no-such-if0"
	if n, err := replica.StartNode(store, bad); err == nil {
		n.Close()
		t.Fatal("StartNode with an unknown mDNS interface: no error")
	}

	n, err := replica.StartNode(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for n.Discovery().Rounds < 3 {
		if time.Now().After(deadline) {
			n.Close()
			t.Fatalf("discovery: %+v after 10 s, want 3 rounds", n.Discovery())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if err := n.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if s := n.Discovery(); s.Interfaces != 0 || s.Found+s.Foreign+s.Joined+s.Failed+s.Malformed != 0 {
		t.Errorf("bound to loopback: %+v, want no interface and nothing heard", s)
	}
}

package replica

import (
	"errors"
	"sort"
	"time"

	"noroshi/crypto"
)

// The node's loops, each a goroutine of its own that Close stops:
//
//	acceptLoop       answers sync streams (a goroutine per stream, within
//	                 the handshake and sync budgets)
//	pullLoop         syncs with the holders of announced envelopes
//	antiEntropyLoop  syncs with a random peer every AntiEntropyInterval,
//	                 rejoins peers declared dead, remembers peers
//	announceLoop     announces this device's writes (announce.go)
//
// Every sync, whoever opened it, ends in afterSync, which updates the peer
// table, the strikes and what was dropped. What a sync admits, the store
// announces itself (Store.Changed); that a peer now holds more of this
// device's chain, Delivered.

// SyncWith runs one anti-entropy round with the peer at a sync address.
func (n *Node) SyncWith(addr string) (SyncStats, error) {
	conn, err := n.cfg.Dial(addr)
	if err != nil {
		return SyncStats{}, err
	}
	defer conn.Close()
	conn.SetDeadline(n.now().Add(syncDeadline))
	ch, err := n.dev.Dial(n.rand(), conn, n.store.Community(), n.ownProof(), n.checkStream)
	if err != nil {
		n.refused(addr, crypto.DeviceID{}, err)
		return SyncStats{}, err
	}
	mine := n.store.Head(n.dev.ID()).Seq
	st, err := n.store.SyncInitiateWithin(ch, ch.Peer(), n.bud.sendLimit())
	n.afterSync(ch.Peer(), addr, mine, st, err)
	return st, err
}

// afterSync records a sync with peer at addr: mine is the head of this
// device's chain when it began (the peer holds it after a sync that
// succeeded).
func (n *Node) afterSync(peer crypto.DeviceID, addr string, mine uint64, st SyncStats, err error) {
	now := n.now()
	if brokeProtocol(err) {
		n.drop(DropStreamProtocol, 1)
	}
	n.drop(DropEnvelopeBad, st.Bad)
	n.drop(DropEnvelopeDup, st.Duplicates)
	if st.Capped {
		n.drop(BudgetResponseCapped, 1)
	}
	n.mu.Lock()
	heldMore := err == nil && mine > n.held[peer]
	if heldMore {
		n.held[peer] = mine
		n.delivered()
	}
	n.strike(peer, st, err)
	p := n.streamPeer(peer, addr)
	if errors.Is(err, ErrBusy) {
		// Reached, and asked to come back later (its budgets): the
		// link is fine, the next round syncs.
		p.LastContact = now
		n.mu.Unlock()
		return
	}
	p.LastSync, p.LastContact = now, now
	if m, ok := n.store.Trust().Member(peer); ok {
		p.Role = m.Role
	}
	if err != nil {
		p.Err = err.Error()
	} else {
		p.Err, p.Sent, p.Received, p.InSync = "", st.Sent, st.Received, st.InSync
		p.Refused = nil
	}
	n.mu.Unlock()
	if err != nil {
		n.logf("sync with %s: %v", addr, err)
	}
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		conn, err := n.ln.Accept()
		if err != nil {
			return
		}
		// A bounded number of streams may be in their handshake, each
		// for HandshakeTimeout (see handshakeSlot).
		release, ok := n.handshakeSlot(conn)
		if !ok {
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer conn.Close()
			defer release()
			ch, err := n.dev.Accept(n.rand(), conn, n.store.Community(), n.ownProof(), n.checkStream)
			if err != nil {
				var r *crypto.Refusal
				if !errors.As(err, &r) {
					n.drop(DropHandshake, 1)
				}
				n.refused("", crypto.DeviceID{}, err)
				n.logf("sync from %s refused: %v", conn.RemoteAddr(), err)
				return
			}
			release()
			conn.SetDeadline(n.now().Add(syncDeadline))
			lim, done, ok := n.syncSlot(ch.Peer())
			if !ok {
				n.store.SyncBusy(ch)
				return
			}
			mine := n.store.Head(n.dev.ID()).Seq
			st, err := n.store.SyncRespondWithin(ch, ch.Peer(), lim)
			done(st.SentBytes)
			n.afterSync(ch.Peer(), conn.RemoteAddr().String(), mine, st, err)
		}()
	}
}

// pullLoop syncs with peers that announced something this node lacks. It
// coalesces: several announcements from one peer cost one sync, and one
// whose envelope arrived meanwhile costs nothing. The store is read here,
// not in handleAnnounce, which runs on memberlist's receive path.
func (n *Node) pullLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case p := <-n.pulls:
			batch := []pull{p}
		drain:
			for {
				select {
				case p := <-n.pulls:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			pending := map[string]bool{}
			var order []string
			for _, p := range batch {
				if pending[p.addr] || n.store.Head(p.author).Seq >= p.seq {
					continue
				}
				pending[p.addr] = true
				order = append(order, p.addr)
			}
			for _, a := range order {
				switch n.bud.pulls.allow(a, n.now()) {
				case limitPeer:
					n.drop(BudgetPullRate, 1)
				case limitTotal:
					n.drop(BudgetPullTotal, 1)
				default:
					n.SyncWith(a)
				}
			}
		}
	}
}

// rememberEvery is how many anti-entropy rounds pass between two saves of
// the peers' addresses.
const rememberEvery = 20

func (n *Node) antiEntropyLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.AntiEntropyInterval)
	defer t.Stop()
	for round := 1; ; round++ {
		select {
		case <-n.stop:
			return
		case <-t.C:
			if addr := n.randomPeer(); addr != "" {
				n.SyncWith(addr)
			}
			n.reconnect()
			if round%rememberEvery == 0 {
				n.rememberPeers()
			}
		}
	}
}

// reconnect now and then joins again a peer that memberlist declared dead
// or that left, as Serf does: memberlist forgets a dead peer after
// GossipToTheDeadTime, so without it the two sides of a partition that
// lasted longer would never merge again. Each round tries one such peer
// with probability failed/(failed+alive), one join at a time, in a
// goroutine of its own so that anti-entropy never waits for it.
func (n *Node) reconnect() {
	now := n.now()
	n.mu.Lock()
	var failed []string
	alive := 0
	for _, p := range n.peers {
		switch {
		case p.State == "alive":
			alive++
			continue
		case p.Addr == "" || (p.State != "dead" && p.State != "left"):
			continue
		}
		if n.ignoredAt(p.Device, now) {
			continue
		}
		failed = append(failed, p.Addr)
	}
	sort.Strings(failed)
	addr := ""
	switch {
	case len(failed) > 0 && n.rng.IntN(len(failed)+alive) < len(failed):
		addr = failed[n.rng.IntN(len(failed))]
	case alive == 0 && len(failed) == 0 && len(n.cfg.Join) > 0:
		// Alone, with no peer ever seen: the first join failed (the
		// peer was not up yet, or the packets were lost on a loaded
		// machine) and nobody knows this node to contact it. Try a
		// configured peer again, one a round.
		addr = n.cfg.Join[n.rng.IntN(len(n.cfg.Join))]
	}
	n.mu.Unlock()
	if addr == "" || !n.joining.CompareAndSwap(false, true) {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer n.joining.Store(false)
		if _, err := n.ml.Join([]string{addr}); err == nil {
			n.logf("rejoined %s", addr)
		}
	}()
}

package replica

import (
	"net"
	"sync"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
)

// Budgets of a Node: what a peer, honest or not, can make this node hold
// or do. Each queue, cache and rate has a count, a byte bound, a share per
// peer, a total, and an expiry; past a budget the excess is dropped or
// refused and counted under its reason (Node.Dropped), never queued.
// Defaults (DefaultBudget), by field:
//
//	what                    count            bytes              per peer                total                 expiry
//	broadcast queue         QueueMax 1,024   110 B a message    -                       1,024                 sent out, or pruned (most sent, oldest)
//	announcement IDs heard  SeenMax 16,384   32 B an ID         -                       16,384                SeenFor 10 min (two 5-min generations)
//	announcements taken     Announce*        -                  200, +20/s (holder)     2,000, +500/s         token buckets
//	pulls after announces   Pull*            -                  4, +1/s                 32, +8/s; 256 queued  token buckets
//	sync requests answered  Sync*            -                  20, +10/s               200, +100/s           token buckets; else busy
//	bytes of answers        Send*            see per peer       32 MiB, +4 MiB/s        128 MiB, +32 MiB/s    token buckets; else busy
//	one answer              ResponseEnvelopes 16,384  ResponseBytes 16 MiB  per request  -                     the rest at the next round
//	syncs answered at once  SyncsAtOnce 16   ~22 MiB a sync     2 (SyncsAtOncePerPeer)  16                    the stream's 2 min deadline
//	handshakes in progress  Handshakes 128   ~10 KiB each       16 per source IP        128                   HandshakeTimeout 5 s
//	peers a rate tracks     Peers 1,024      ~150 B a peer      -                       1,024 a rate          swept once idle (bucket full)
//
// A sync request costs its responder little when both sides agree (one
// round trip); what a request can cost is what the answer sends, so
// answers are rated in bytes: an answer sends at most what the peer's and
// the total byte buckets hold (and ResponseBytes, ResponseEnvelopes), at
// least one envelope.
//
// Announcement budgets are keyed by the holder the announcement names (the
// gossip carries no proven sender): a hostile member that names an honest
// holder only delays that holder's announcements to the next anti-entropy
// round, which needs no announcement.
//
// Heap: the gossip's structures stay under about 2 MiB whatever a peer
// sends (queue 1,024 x ~300 B, seen set 16,384 x ~60 B, three rates of
// 1,024 peers x ~150 B, 256 queued pulls); each sync in progress holds at
// most one frame read (crypto.MaxFrame, 8 MiB), its decoded envelopes (as
// much again) and one frame being written (1 MiB plus one envelope), about
// 22 MiB: 44 MiB for one peer's two syncs, and 18 x 22 MiB in all (the 16
// answered and this node's own anti-entropy and pull). Handshakes in
// progress hold a goroutine and the channel's buffers each. Envelopes held
// back by admission have budgets of their own (Config).
type Budget struct {
	QueueMax int           // announcements in memberlist's broadcast queue
	SeenMax  int           // announcement IDs remembered
	SeenFor  time.Duration // how long an announcement ID is remembered

	AnnounceRate, AnnounceTotalRate   float64 // per second
	AnnounceBurst, AnnounceTotalBurst int

	PullRate, PullTotalRate   float64 // per second
	PullBurst, PullTotalBurst int

	SyncRate, SyncTotalRate   float64 // sync requests answered per second
	SyncBurst, SyncTotalBurst int
	// SendRate and SendBurst rate the bytes of envelopes sent in answers
	// to one peer; SendTotalRate and SendTotalBurst to all.
	SendRate, SendTotalRate   float64 // bytes per second
	SendBurst, SendTotalBurst int
	// SyncsAtOnce bounds the syncs this node answers at the same time,
	// SyncsAtOncePerPeer those of one peer.
	SyncsAtOnce, SyncsAtOncePerPeer int

	// ResponseEnvelopes and ResponseBytes bound what one sync sends.
	ResponseEnvelopes, ResponseBytes int

	// Handshakes bounds the sync streams accepted but not yet
	// authenticated, HandshakesPerIP those from one address; each must
	// authenticate within HandshakeTimeout.
	Handshakes, HandshakesPerIP int
	HandshakeTimeout            time.Duration

	// Peers bounds the peers each per-peer rate tracks.
	Peers int
}

// DefaultBudget returns the budgets documented above.
func DefaultBudget() Budget {
	return Budget{
		QueueMax: 1024, SeenMax: 16384, SeenFor: 10 * time.Minute,
		AnnounceRate: 20, AnnounceBurst: 200, AnnounceTotalRate: 500, AnnounceTotalBurst: 2000,
		PullRate: 1, PullBurst: 4, PullTotalRate: 8, PullTotalBurst: 32,
		SyncRate: 10, SyncBurst: 20, SyncTotalRate: 100, SyncTotalBurst: 200,
		SendRate: 4 << 20, SendBurst: 32 << 20, SendTotalRate: 32 << 20, SendTotalBurst: 128 << 20,
		SyncsAtOnce: 16, SyncsAtOncePerPeer: 2,
		ResponseEnvelopes: DefaultSendLimit.Envelopes, ResponseBytes: DefaultSendLimit.Bytes,
		Handshakes: 128, HandshakesPerIP: 16, HandshakeTimeout: 5 * time.Second,
		Peers: 1024,
	}
}

// fill sets the fields left zero to their defaults.
func (b *Budget) fill() {
	d := DefaultBudget()
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setRate := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&b.QueueMax, d.QueueMax)
	setInt(&b.SeenMax, d.SeenMax)
	if b.SeenFor <= 0 {
		b.SeenFor = d.SeenFor
	}
	setRate(&b.AnnounceRate, d.AnnounceRate)
	setRate(&b.AnnounceTotalRate, d.AnnounceTotalRate)
	setInt(&b.AnnounceBurst, d.AnnounceBurst)
	setInt(&b.AnnounceTotalBurst, d.AnnounceTotalBurst)
	setRate(&b.PullRate, d.PullRate)
	setRate(&b.PullTotalRate, d.PullTotalRate)
	setInt(&b.PullBurst, d.PullBurst)
	setInt(&b.PullTotalBurst, d.PullTotalBurst)
	setRate(&b.SyncRate, d.SyncRate)
	setRate(&b.SyncTotalRate, d.SyncTotalRate)
	setInt(&b.SyncBurst, d.SyncBurst)
	setInt(&b.SyncTotalBurst, d.SyncTotalBurst)
	setRate(&b.SendRate, d.SendRate)
	setRate(&b.SendTotalRate, d.SendTotalRate)
	setInt(&b.SendBurst, d.SendBurst)
	setInt(&b.SendTotalBurst, d.SendTotalBurst)
	setInt(&b.SyncsAtOnce, d.SyncsAtOnce)
	setInt(&b.SyncsAtOncePerPeer, d.SyncsAtOncePerPeer)
	setInt(&b.ResponseEnvelopes, d.ResponseEnvelopes)
	setInt(&b.ResponseBytes, d.ResponseBytes)
	setInt(&b.Handshakes, d.Handshakes)
	setInt(&b.HandshakesPerIP, d.HandshakesPerIP)
	if b.HandshakeTimeout <= 0 {
		b.HandshakeTimeout = d.HandshakeTimeout
	}
	setInt(&b.Peers, d.Peers)
}

// Budget reasons, among those of Node.Dropped.
const (
	BudgetAnnounceRate    DropReason = "announce-rate"    // one holder's announcements
	BudgetAnnounceTotal   DropReason = "announce-total"   // all announcements
	BudgetAnnounceHolder  DropReason = "announce-holder"  // names a holder that is no gossip peer: not pulled
	BudgetQueuePruned     DropReason = "queue-pruned"     // broadcasts dropped from a full queue
	BudgetPullRate        DropReason = "pull-rate"        // pulls from one peer
	BudgetPullTotal       DropReason = "pull-total"       // all pulls
	BudgetPullQueue       DropReason = "pull-queue"       // the pulls channel was full
	BudgetSyncRate        DropReason = "sync-rate"        // one peer's sync requests
	BudgetSyncTotal       DropReason = "sync-total"       // all sync requests
	BudgetSendBytes       DropReason = "send-bytes"       // bytes sent to one peer
	BudgetSendTotal       DropReason = "send-total"       // bytes sent to all
	BudgetSyncsAtOnce     DropReason = "syncs-at-once"    // syncs in progress
	BudgetResponseCapped  DropReason = "response-capped"  // a response stopped at its budget
	BudgetHandshakes      DropReason = "handshake-slots"  // handshakes in progress
	BudgetHandshakesPerIP DropReason = "handshake-per-ip" // handshakes from one address
)

// BudgetStats is what a Node holds against its budgets, and what it
// dropped since it started (Node.Dropped: budgets and malformed messages).
type BudgetStats struct {
	Budget     Budget
	Queue      int // announcements in the broadcast queue
	Seen       int // announcement IDs remembered
	Handshakes int // sync streams not yet authenticated
	Syncs      int // syncs being answered
	Dropped    map[DropReason]uint64
}

// Budgets returns what this node holds against its budgets.
func (n *Node) Budgets() BudgetStats {
	b := n.bud
	st := BudgetStats{Budget: b.cfg, Queue: n.queue.NumQueued(), Dropped: b.dropped()}
	b.mu.Lock()
	st.Seen = b.seen.len()
	b.mu.Unlock()
	st.Handshakes = b.handshakes.inUse()
	st.Syncs = b.syncs.inUse()
	return st
}

// nodeBudget holds a Node's budgets and the state they keep.
type nodeBudget struct {
	cfg Budget

	mu   sync.Mutex // guards seen
	seen *seenSet

	announce *limiter[crypto.DeviceID]
	pulls    *limiter[string]
	syncReqs *limiter[crypto.DeviceID]
	sent     *limiter[crypto.DeviceID] // bytes

	syncs      *slots[crypto.DeviceID]
	handshakes *slots[string]

	cmu   sync.Mutex
	drops map[DropReason]uint64 // see dropped.go
}

func newNodeBudget(cfg Budget) *nodeBudget {
	cfg.fill()
	return &nodeBudget{
		cfg:        cfg,
		seen:       newSeenSet(cfg.SeenMax, cfg.SeenFor),
		announce:   newLimiter[crypto.DeviceID](cfg.AnnounceRate, cfg.AnnounceBurst, cfg.AnnounceTotalRate, cfg.AnnounceTotalBurst, cfg.Peers),
		pulls:      newLimiter[string](cfg.PullRate, cfg.PullBurst, cfg.PullTotalRate, cfg.PullTotalBurst, cfg.Peers),
		syncReqs:   newLimiter[crypto.DeviceID](cfg.SyncRate, cfg.SyncBurst, cfg.SyncTotalRate, cfg.SyncTotalBurst, cfg.Peers),
		sent:       newLimiter[crypto.DeviceID](cfg.SendRate, cfg.SendBurst, cfg.SendTotalRate, cfg.SendTotalBurst, cfg.Peers),
		syncs:      newSlots[crypto.DeviceID](cfg.SyncsAtOnce, cfg.SyncsAtOncePerPeer),
		handshakes: newSlots[string](cfg.Handshakes, cfg.HandshakesPerIP),
		drops:      map[DropReason]uint64{},
	}
}

// sendLimit is what one response of this node may send.
func (b *nodeBudget) sendLimit() SendLimit {
	return SendLimit{Envelopes: b.cfg.ResponseEnvelopes, Bytes: b.cfg.ResponseBytes}
}

// handshakeSlot takes a slot for an accepted sync stream that has not
// authenticated yet, and gives it HandshakeTimeout to do so. When none is
// free (in total, or for its source address) the stream is closed and
// counted. release frees the slot; it may be called more than once.
func (n *Node) handshakeSlot(conn net.Conn) (release func(), ok bool) {
	b := n.bud
	ip := conn.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if why := b.handshakes.acquire(ip); why != slotFree {
		conn.Close()
		if why == slotKeyFull {
			b.count(BudgetHandshakesPerIP, 1)
		} else {
			b.count(BudgetHandshakes, 1)
		}
		return nil, false
	}
	conn.SetDeadline(n.now().Add(b.cfg.HandshakeTimeout))
	var once sync.Once
	return func() { once.Do(func() { b.handshakes.release(ip) }) }, true
}

// syncSlot admits one sync request of an authenticated peer: within its
// request rate, its bytes and the syncs answered at once. It returns what
// the answer may send, taken from the byte buckets; done gives back what
// was not sent.
// When the request is not admitted the reason is counted and the caller
// answers busy.
func (n *Node) syncSlot(peer crypto.DeviceID) (lim SendLimit, done func(sent int), ok bool) {
	b := n.bud
	now := n.now()
	avail, why := b.sent.available(peer, now)
	switch {
	case why == limitPeer:
		b.count(BudgetSendBytes, 1)
		return lim, nil, false
	case why == limitTotal:
		b.count(BudgetSendTotal, 1)
		return lim, nil, false
	}
	switch b.syncReqs.allow(peer, now) {
	case limitPeer:
		b.count(BudgetSyncRate, 1)
		return lim, nil, false
	case limitTotal:
		b.count(BudgetSyncTotal, 1)
		return lim, nil, false
	}
	if b.syncs.acquire(peer) != slotFree {
		b.count(BudgetSyncsAtOnce, 1)
		return lim, nil, false
	}
	// The bytes are taken now and what was not sent given back at the
	// end, so that a request that comes meanwhile sees them spent.
	lim = b.sendLimit()
	lim.Bytes = min(lim.Bytes, int(avail))
	b.sent.spend(peer, float64(lim.Bytes), now)
	return lim, func(sent int) {
		b.syncs.release(peer)
		b.sent.spend(peer, float64(sent-lim.Bytes), n.now())
	}, true
}

// A bucket is a token bucket: burst tokens, refilled at rate per second.
type bucket struct {
	tokens float64
	last   time.Time
}

// refill brings the bucket to now, and reports whether it is full.
func (b *bucket) refill(now time.Time, rate float64, burst int) bool {
	if b.last.IsZero() {
		b.tokens = float64(burst)
	} else if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
	}
	b.last = now
	return b.tokens >= float64(burst)
}

func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	b.refill(now, rate, burst)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// available returns the tokens k may spend now, the lesser of its own
// and the total's; when either has none, which.
func (l *limiter[K]) available(k K, now time.Time) (float64, limitVerdict) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketOf(k, now)
	b.refill(now, l.rate, l.burst)
	l.total.refill(now, l.totalRate, l.totalBurst)
	switch {
	case b.tokens < 1:
		return 0, limitPeer
	case l.total.tokens < 1:
		return 0, limitTotal
	}
	return min(b.tokens, l.total.tokens), limitOK
}

// spend takes n tokens from k's bucket and the total's; they may go below
// zero, a debt repaid by their refill before k is allowed again.
func (l *limiter[K]) spend(k K, n float64, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketOf(k, now)
	b.refill(now, l.rate, l.burst)
	l.total.refill(now, l.totalRate, l.totalBurst)
	b.tokens -= n
	l.total.tokens -= n
}

type limitVerdict int

const (
	limitOK limitVerdict = iota
	limitPeer
	limitTotal
)

// A limiter rates events per key and in total. It tracks at most maxKeys
// keys: a key whose bucket refilled completely holds nothing worth keeping
// and is swept when room is needed; a new key that finds no room counts
// against the total only, with the total's burst shared by all such keys.
type limiter[K comparable] struct {
	mu                sync.Mutex
	rate, totalRate   float64
	burst, totalBurst int
	maxKeys           int
	total             bucket
	overflow          bucket // shared by keys that found no room
	keys              map[K]*bucket
	lastSweep         time.Time
}

func newLimiter[K comparable](rate float64, burst int, totalRate float64, totalBurst, maxKeys int) *limiter[K] {
	return &limiter[K]{rate: rate, burst: burst, totalRate: totalRate, totalBurst: totalBurst, maxKeys: maxKeys, keys: map[K]*bucket{}}
}

// bucketOf returns k's bucket, making one if there is room. The caller
// holds l.mu.
func (l *limiter[K]) bucketOf(k K, now time.Time) *bucket {
	if b := l.keys[k]; b != nil {
		return b
	}
	if len(l.keys) >= l.maxKeys && now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for key, kb := range l.keys {
			if kb.refill(now, l.rate, l.burst) {
				delete(l.keys, key)
			}
		}
	}
	if len(l.keys) >= l.maxKeys {
		return &l.overflow
	}
	b := &bucket{}
	l.keys[k] = b
	return b
}

// allow takes one token of k's bucket and one of the total.
func (l *limiter[K]) allow(k K, now time.Time) limitVerdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucketOf(k, now)
	// Refill both first, so that a refused event costs nothing.
	b.refill(now, l.rate, l.burst)
	l.total.refill(now, l.totalRate, l.totalBurst)
	if b.tokens < 1 {
		return limitPeer
	}
	if l.total.tokens < 1 {
		return limitTotal
	}
	b.tokens--
	l.total.tokens--
	return limitOK
}

type slotVerdict int

const (
	slotFree slotVerdict = iota
	slotKeyFull
	slotAllFull
)

// slots bounds things in progress, per key and in total.
type slots[K comparable] struct {
	mu          sync.Mutex
	max, perKey int
	n           int
	keys        map[K]int
}

func newSlots[K comparable](max, perKey int) *slots[K] {
	return &slots[K]{max: max, perKey: perKey, keys: map[K]int{}}
}

func (s *slots[K]) acquire(k K) slotVerdict {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.keys[k] >= s.perKey:
		return slotKeyFull
	case s.n >= s.max:
		return slotAllFull
	}
	s.n++
	s.keys[k]++
	return slotFree
}

func (s *slots[K]) release(k K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[k] == 0 {
		return
	}
	s.n--
	if s.keys[k]--; s.keys[k] == 0 {
		delete(s.keys, k)
	}
}

func (s *slots[K]) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// A seenSet remembers announcement IDs in two generations: lookups and
// inserts are O(1), it holds at most max IDs, and an ID is forgotten after
// between ttl/2 and ttl (sooner when max newer ones came since). The
// caller serialises access.
type seenSet struct {
	max       int
	ttl       time.Duration
	cur, prev map[envelope.Hash]struct{}
	curStart  time.Time
}

func newSeenSet(max int, ttl time.Duration) *seenSet {
	return &seenSet{max: max, ttl: ttl, cur: map[envelope.Hash]struct{}{}}
}

// has reports whether id is remembered.
func (s *seenSet) has(id envelope.Hash, now time.Time) bool {
	if now.Sub(s.curStart) >= s.ttl {
		return false
	}
	if _, ok := s.cur[id]; ok {
		return true
	}
	_, ok := s.prev[id]
	return ok
}

// add remembers id: in a new generation when the current one is full or
// half the expiry old; both are forgotten after the whole expiry.
func (s *seenSet) add(id envelope.Hash, now time.Time) {
	switch age := now.Sub(s.curStart); {
	case age >= s.ttl:
		s.prev, s.cur, s.curStart = nil, map[envelope.Hash]struct{}{}, now
	case age >= s.ttl/2 || len(s.cur) >= s.max/2:
		s.prev, s.cur, s.curStart = s.cur, map[envelope.Hash]struct{}{}, now
	}
	s.cur[id] = struct{}{}
}

func (s *seenSet) len() int { return len(s.cur) + len(s.prev) }

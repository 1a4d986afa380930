package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"noroshi/crypto"
	"noroshi/internal/proofdoc"
)

// The phases of a hostile run after set-up: a probe of each attack kind on
// its own (so that each kind's count is told apart from the others'), then
// every kind at once at full speed while the honest devices write.

// others returns the honest victims other than v.
func (r *hostileReport) others(v hVictim) []hVictim {
	var out []hVictim
	for _, h := range r.honest {
		if h.v.id != v.id {
			out = append(out, h.v)
		}
	}
	return out
}

// bundleAttack writes the file of one bundle attack kind (the i-th of its
// kind) for the importing node, and returns its path.
func (r *hostileReport) bundleAttack(at *attacker, key string, imp *hostileHonest, i int) (string, error) {
	var b []byte
	switch key {
	case "bundle-replayed":
		b = at.bundle
	case "bundle-forged":
		b = at.bundleForged(i)
	case "bundle-envelopes":
		var err error
		if b, err = at.bundleEnvelopes(imp.v); err != nil {
			return "", err
		}
	case "bundle-malformed":
		b = at.bundleMalformed(i)
	case "bundle-oversized":
		return at.bundleOversized()
	case "bundle-large":
		b = append([]byte("age-encryption.org/v1\n"), hRand(largeBundle)...)
	}
	if mb := float64(len(b)) / (1 << 20); mb > r.bundleMB {
		r.bundleMB = mb
	}
	return at.writeFile(fmt.Sprintf("%s-%d.bundle", key, i), b)
}

// largeBundle is the size of the largest file given to import within its
// limit: random bytes behind an age header.
const largeBundle = 32 << 20

// importAttack has imp import one bundle attack's file and counts what it
// answered.
func (r *hostileReport) importAttack(ctx context.Context, at *attacker, key string, imp *hostileHonest, i int) (hostileCounters, error) {
	p, err := r.bundleAttack(at, key, imp, i)
	if err != nil {
		return nil, err
	}
	defer os.Remove(p)
	o := hImportFile(ctx, imp.node, p)
	at.count(key, 1)
	c := hostileCounters{}
	for k, v := range o.reasons {
		c["import:"+k] += uint64(v)
	}
	at.mu.Lock()
	for k, v := range c {
		r.imports[k] += v
	}
	at.mu.Unlock()
	return c, nil
}

// streamOp runs one stream attack of kind key against v.
func (r *hostileReport) streamOp(at *attacker, key string, v hVictim, stranger *crypto.Device, i int) error {
	switch key {
	case "stream-silent":
		var ips []string
		for k := range 2 {
			ips = append(ips, fmt.Sprintf("127.0.0.%d", 20+(i+k)%40))
		}
		return at.silent(v, ips, 17, 500*time.Millisecond)
	case "stream-stranger":
		return at.handshakeAs(key, v, stranger, nil)
	case "stream-revoked":
		return at.handshakeAs(key, v, at.dev2, at.proof2)
	case "stream-malformed":
		return at.streamMalformed(v)
	case "stream-oversized":
		return at.streamOversized(v)
	case "stream-replayed-frames":
		return at.streamReplayed(v)
	case "stream-bad-signature":
		return at.pushKind(key, v, at.badSignatures(2))
	case "stream-replayed-envelopes":
		return at.pushKind(key, v, at.replays(100))
	case "stream-equivocation":
		return at.pushKind(key, v, at.equivocating(2))
	case "stream-revoked-author":
		return at.pushKind(key, v, at.revokedAuthor(3))
	case "stream-sync-flood":
		return at.syncFlood(v, 5)
	}
	return fmt.Errorf("no stream attack %s", key)
}

// runProbes sends each attack kind once, on its own, and keeps what the
// victim counted for it. Stream attacks that cost the attacker strikes go
// last and cost fewer than the 50 that get it ignored.
func (r *hostileReport) runProbes(ctx context.Context, at *attacker, logf func(string, ...any)) error {
	v := r.honest[1]
	imp := r.honest[2]
	stranger, err := crypto.NewDevice(rand.Reader, "stranger")
	if err != nil {
		return err
	}
	replay := hAnnounce(at.dev.ID(), 1, hRand(32), crypto.DeviceID(hRand(32)))
	net := []struct {
		key string
		run func() error
	}{
		{"gossip-forged", func() error { return at.gossipForged(v.v, r.others(v.v), 300) }},
		{"gossip-replayed", func() error {
			at.ml.SendToAddress(at.toAddr(v.v), replay)
			time.Sleep(300 * time.Millisecond)
			return at.gossipReplayed(v.v, replay, 50)
		}},
		{"gossip-malformed", func() error { return at.gossipMalformed(v.v, 30) }},
		{"gossip-unknown-type", func() error { return at.gossipUnknown(v.v, 30) }},
		{"gossip-oversized", func() error { return at.gossipOversized(v.v) }},
		{"gossip-bad-meta", func() error { at.gossipBadMeta(v.v, 0); return at.gossipBadMeta(v.v, 1) }},
		{"gossip-revoked", func() error { return at.gossipRevoked(v.v) }},
		{"stream-silent", func() error {
			var ips []string
			for k := range 9 {
				ips = append(ips, fmt.Sprintf("127.0.0.%d", 2+k))
			}
			return at.silent(v.v, ips, 17, time.Second)
		}},
		{"stream-stranger", func() error { return r.streamOp(at, "stream-stranger", v.v, stranger, 0) }},
		{"stream-revoked", func() error { return r.streamOp(at, "stream-revoked", v.v, stranger, 0) }},
		{"stream-replayed-envelopes", func() error {
			if err := at.learn(v.v); err != nil {
				return fmt.Errorf("an honest sync first: %w", err)
			}
			return r.streamOp(at, "stream-replayed-envelopes", v.v, stranger, 0)
		}},
		{"stream-equivocation", func() error { return r.streamOp(at, "stream-equivocation", v.v, stranger, 0) }},
		{"stream-revoked-author", func() error { return r.streamOp(at, "stream-revoked-author", v.v, stranger, 0) }},
		{"stream-bad-signature", func() error { return r.streamOp(at, "stream-bad-signature", v.v, stranger, 0) }},
		{"stream-malformed", func() error { return r.streamOp(at, "stream-malformed", v.v, stranger, 0) }},
		{"stream-oversized", func() error { return r.streamOp(at, "stream-oversized", v.v, stranger, 0) }},
		{"stream-replayed-frames", func() error { return r.streamOp(at, "stream-replayed-frames", v.v, stranger, 0) }},
		// Last: the flood spends the victim's sync budget for this device
		// (a burst of 20, 10 a second), which would turn the probes after
		// it away as busy before they say anything.
		{"stream-sync-flood", func() error { return at.syncFlood(v.v, 40) }},
	}
	for _, p := range net {
		k := kindOf(p.key)
		before, err := readCounters(ctx, v.node)
		if err != nil {
			return err
		}
		err = p.run()
		// The probe before (a sync flood) may have spent the victim's
		// sync budget: a busy answer means this probe was not sent yet.
		// Try again once the budget refills, as an attacker would.
		for tries := 0; errors.Is(err, errHBusy) && tries < 30; tries++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
			err = p.run()
		}
		if err != nil {
			r.errs = append(r.errs, fmt.Sprintf("probe %s: %v", p.key, err))
		}
		var d hostileCounters
		for deadline, retries := time.Now().Add(15*time.Second), 0; ; {
			after, err := readCounters(ctx, v.node)
			if err != nil {
				return err
			}
			d = after.delta(before)
			if _, ok := k.counted(d); ok {
				break
			}
			if time.Now().After(deadline) {
				// Turned away by the victim's sync budget before it was
				// heard: not a verdict on the attack. Send it again once
				// the budget refills (a few times at most).
				if d["dropped:sync-rate"] == 0 || retries == 3 || p.key == "stream-sync-flood" {
					break
				}
				retries++
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(3 * time.Second):
				}
				if err := p.run(); err != nil && !errors.Is(err, errHBusy) {
					r.errs = append(r.errs, fmt.Sprintf("probe %s (again): %v", p.key, err))
				}
				deadline = time.Now().Add(15 * time.Second)
			}
			time.Sleep(300 * time.Millisecond)
		}
		r.probe[p.key] = d
		logf("probe %-26s %s counted: %s", p.key, v.Name, d)
	}
	for _, key := range []string{"bundle-replayed", "bundle-forged", "bundle-envelopes", "bundle-malformed", "bundle-oversized", "bundle-large"} {
		c := hostileCounters{}
		n := 1
		if key == "bundle-malformed" {
			n = 3
		}
		for i := range n {
			d, err := r.importAttack(ctx, at, key, imp, i)
			if err != nil {
				return err
			}
			for k, v := range d {
				c[k] += v
			}
		}
		r.probe[key] = c
		logf("probe %-26s %s answered: %s", key, imp.Name, c)
	}
	return nil
}

// hostileWrite is an honest post and when its writer had it acknowledged.
type hostileWrite struct {
	title, by string
	at        time.Time
}

// attack runs every attack kind at full speed for the duration while each
// honest device posts once a second, then waits (within the bound) until
// every post is on every honest device.
func (r *hostileReport) attack(ctx context.Context, at *attacker, logf func(string, ...any)) {
	actx, cancel := context.WithTimeout(ctx, r.opts.duration)
	defer cancel()
	stranger, _ := crypto.NewDevice(rand.Reader, "stranger")
	var mu sync.Mutex
	var writes []hostileWrite
	seen := map[string]map[string]time.Time{} // title -> reader -> first seen
	var wg sync.WaitGroup

	for _, h := range r.honest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; actx.Err() == nil; i++ {
				title := fmt.Sprintf("hostile-proof %s #%04d", h.Name, i)
				if _, err := h.Run(ctx, "post", "--type", "alert", "--tag", "info", "--tlp", "green", "--title", title, "--body", "written under attack"); err != nil {
					mu.Lock()
					r.errs = append(r.errs, fmt.Sprintf("%s: post: %v", h.Name, err))
					mu.Unlock()
				} else {
					mu.Lock()
					writes = append(writes, hostileWrite{title, h.Name, time.Now()})
					h.written++
					mu.Unlock()
				}
				select {
				case <-actx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	stopCheck := make(chan struct{})
	var cwg sync.WaitGroup
	for _, h := range r.honest {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				out, err := h.Run(ctx, "--json", "feed", "--limit", "0")
				now := time.Now()
				if err == nil {
					mu.Lock()
					for _, w := range writes {
						if w.by == h.Name || seen[w.title][h.Name] != (time.Time{}) {
							continue
						}
						if strings.Contains(out, `"`+w.title+`"`) {
							if seen[w.title] == nil {
								seen[w.title] = map[string]time.Time{}
							}
							seen[w.title][h.Name] = now
						}
					}
					mu.Unlock()
				}
				select {
				case <-stopCheck:
					return
				case <-ctx.Done():
					return
				case <-time.After(500 * time.Millisecond):
				}
			}
		}()
	}

	// Gossip, at full speed, to every honest device.
	replay := hAnnounce(at.dev.ID(), 1, hRand(32), crypto.DeviceID(hRand(32)))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; actx.Err() == nil; i++ {
			for _, h := range r.honest {
				v := h.v
				at.gossipForged(v, r.others(v), 50)
				at.gossipReplayed(v, replay, 50)
				at.gossipMalformed(v, 10)
				at.gossipUnknown(v, 10)
				if i%20 == 0 {
					at.gossipOversized(v)
				}
				if i%10 == 0 {
					at.gossipBadMeta(v, i/10)
				}
				if i%20 == 5 {
					at.gossipRevoked(v)
				}
			}
		}
	}()
	// Streams: every kind in turn, to each honest device. A connection
	// every 10 ms per device at most: the attacker's connections must not
	// use up the loopback's ephemeral ports that honest peers dial from.
	streamKinds := []string{"stream-bad-signature", "stream-replayed-envelopes", "stream-equivocation", "stream-revoked-author",
		"stream-malformed", "stream-oversized", "stream-replayed-frames", "stream-stranger", "stream-revoked", "stream-sync-flood"}
	for _, h := range r.honest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; actx.Err() == nil; i++ {
				key := streamKinds[i%len(streamKinds)]
				if i%50 == 49 {
					key = "stream-silent"
				}
				r.streamOp(at, key, h.v, stranger, i)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	// Bundles, one import after another, to venue-2.
	wg.Add(1)
	go func() {
		defer wg.Done()
		imp := r.honest[2]
		kinds := []string{"bundle-replayed", "bundle-forged", "bundle-envelopes", "bundle-malformed", "bundle-oversized", "bundle-large"}
		for i := 0; actx.Err() == nil; i++ {
			key := kinds[i%len(kinds)]
			if _, err := r.importAttack(ctx, at, key, imp, i); err != nil {
				mu.Lock()
				r.errs = append(r.errs, fmt.Sprintf("%s: %v", key, err))
				mu.Unlock()
			}
		}
	}()
	<-actx.Done()
	wg.Wait()
	logf("attack stopped: %d posts written", len(writes))

	end := time.Now()
	for {
		mu.Lock()
		done := true
		for _, w := range writes {
			for _, h := range r.honest {
				if h.Name != w.by && seen[w.title][h.Name].IsZero() {
					done = false
				}
			}
		}
		mu.Unlock()
		if done || time.Since(end) > r.opts.bound || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stopCheck)
	cwg.Wait()
	mu.Lock()
	defer mu.Unlock()
	r.posts = len(writes)
	for _, w := range writes {
		for _, h := range r.honest {
			if h.Name == w.by {
				continue
			}
			t := seen[w.title][h.Name]
			if t.IsZero() {
				r.missing = append(r.missing, fmt.Sprintf("%q on %s", w.title, h.Name))
				continue
			}
			r.lat = append(r.lat, t.Sub(w.at))
		}
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
}

// tally sums, per attack kind, what every honest device counted under its
// reasons over the run (probe included).
func (r *hostileReport) tally() {
	all := hostileCounters{}
	for _, h := range r.honest {
		for k, v := range h.end.delta(h.start) {
			all[k] += v
		}
	}
	for k, v := range r.imports {
		all[k] += v
	}
	r.final = map[string]uint64{}
	for _, k := range hostileKinds {
		r.final[k.key], _ = k.counted(all)
	}
	r.final["ignored"] = all["refusals:refused"]
}

// budget is a node's memory budget (see peerMemBudget).
func (r *hostileReport) budget(h *hostileHonest) uint64 {
	return h.rssStart + peerMemBudget + uint64(2*r.bundleMB*(1<<20))
}

// overBudget reports whether h held more than its budget during the
// attack: its sampled VmRSS, or its VmHWM if the attack raised it.
func (r *hostileReport) overBudget(h *hostileHonest) bool {
	b := r.budget(h)
	return h.rssMax > b || (h.hwm > h.hwmStart && h.hwm > b)
}

// failures lists what makes the run fail.
func (r *hostileReport) failures() []string {
	var f []string
	for _, h := range r.honest {
		if !h.alive {
			f = append(f, h.Name+": serve died")
		}
		if !h.answers {
			f = append(f, h.Name+": its control socket does not answer")
		}
		if r.overBudget(h) {
			f = append(f, fmt.Sprintf("%s: memory over its budget %s (VmRSS max %s, VmHWM %s, VmHWM before the attack %s)", h.Name, mib(r.budget(h)), mib(h.rssMax), mib(h.hwm), mib(h.hwmStart)))
		}
	}
	if len(r.missing) > 0 {
		f = append(f, fmt.Sprintf("%d honest writes did not reach every honest peer within %s: %s", len(r.missing), r.opts.bound, strings.Join(r.missing[:min(5, len(r.missing))], ", ")))
	}
	if r.posts == 0 {
		f = append(f, "no honest write went through during the attack")
	}
	for _, k := range hostileKinds {
		if _, ok := k.counted(r.probe[k.key]); !ok {
			f = append(f, fmt.Sprintf("%s: its probe was not counted under %s (counted: %s)", k.key, strings.Join(k.reasons, " / "), r.probe[k.key]))
		}
		if r.final[k.key] == 0 {
			f = append(f, fmt.Sprintf("%s: nothing counted under %s over the run", k.key, strings.Join(k.reasons, " / ")))
		}
	}
	return f
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// markdown renders the report; with doc, as the "hostile" section of
// docs/reliability.md.
func (r *hostileReport) markdown(doc bool) string {
	var b strings.Builder
	if doc {
		b.WriteString("## Hostile peer\n\n")
		b.WriteString(r.machine.Markdown() + "\n\n")
		fmt.Fprintf(&b, "Three honest devices serve on loopback (`noroshi serve`, homes made with the CLI); a fourth is a real invited member, holding its membership and the community transport key, run by `noroshi-proof hostile` itself: it loads its own keys and forges. A second device it held was revoked by the coordinator (`noroshi member revoke`) first. Each attack kind is first sent once on its own (the probe: what the victim counted for it alone), then all of them at once for %s at full speed (gossip without pause; a stream every 10 ms per honest device, so as not to use up the loopback's ephemeral ports; bundle imports one after another), while every honest device posts once a second through the CLI. Counts are from `noroshi --json peers` (`dropped`, `refusals`, `refused_envelopes`) and from what `noroshi --json import` answered.\n\n", r.opts.duration)
	}
	rows := [][]string{}
	p50, max := pct(r.lat, 0.5), pct(r.lat, 1)
	for _, h := range r.honest {
		verdict := "ok"
		if !h.alive || !h.answers || r.overBudget(h) {
			verdict = "FAIL"
		}
		rows = append(rows, []string{h.Name, yes(h.alive), yes(h.answers), fmt.Sprint(h.written), mib(h.rssStart), mib(h.rssMax), mib(h.hwmStart) + " / " + mib(h.hwm), mib(r.budget(h)), verdict})
	}
	b.WriteString(proofdoc.Table([]string{"honest peer", "alive", "control socket answers", "posts written", "VmRSS before", "VmRSS max (sampled every 250 ms)", "VmHWM before / after", "budget", ""}, rows))
	fmt.Fprintf(&b, "\nConvergence: %d posts written under attack, %d arrivals at the other honest peers, p50 %s, p95 %s, max %s (bound %s); %d never arrived.\n\n",
		r.posts, len(r.lat), p50.Round(10*time.Millisecond), pct(r.lat, 0.95).Round(10*time.Millisecond), max.Round(10*time.Millisecond), r.opts.bound, len(r.missing))
	fmt.Fprintf(&b, "Memory budget of a peer: its VmRSS before the attack + %s (replica/budget.go and replica.Config: gossip structures 2 MiB, 18 syncs in progress x 22 MiB, 128 handshakes x 10 KiB, held envelopes 48 MiB) + twice the largest bundle file it was given (%.0f MiB). It is checked against VmRSS sampled every 250 ms, and against VmHWM where the attack raised it: VmHWM before the attack is serve unlocking its key file (scrypt, 256 MiB, given back at once).\n\n", mib(peerMemBudget), r.bundleMB)
	rows = rows[:0]
	for _, k := range hostileKinds {
		_, ok := k.counted(r.probe[k.key])
		verdict := "counted"
		if !ok || r.final[k.key] == 0 {
			verdict = "NOT COUNTED"
		}
		rows = append(rows, []string{k.channel, k.what, fmt.Sprint(r.sent[k.key]), strings.Join(k.reasons, ", "), r.probe[k.key].String(), fmt.Sprint(r.final[k.key]), verdict})
	}
	b.WriteString(proofdoc.Table([]string{"channel", "attack", "sent (messages, connections, envelopes or files)", "counted under", "its probe alone counted (one victim)", "counted under those reasons over the run (all honest peers, all kinds)", ""}, rows))
	fmt.Fprintf(&b, "\nStreams refused because the attacker was ignored for its strikes (`refusals: refused`): %d.\n", r.final["ignored"])
	if len(r.errs) > 0 {
		fmt.Fprintf(&b, "\nErrors on the way (%d): %s\n", len(r.errs), strings.Join(r.errs[:min(5, len(r.errs))], "; "))
	}
	if doc {
		fmt.Fprintf(&b, "\nRegenerate: `%s` (or `make hostile`); took %s.\n", r.opts.command, r.elapsed.Round(time.Second))
	}
	return b.String()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

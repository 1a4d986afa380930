package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"noroshi/crypto"
	"noroshi/crypto/envelope"
	"noroshi/replica"
)

// DemoPassphrase unlocks the demo community's key file. The demo holds no
// real information, so its passphrase is published.
const DemoPassphrase = "noroshi-demo"

type demoOrg struct {
	name, sector string
	kind         OrgKind
}

type demoPerson struct {
	name, org string
	role      crypto.Role
}

var (
	demoOrgs = []demoOrg{
		{name: "Organising Committee", kind: KindOrganising},
		{name: "Venue North", kind: KindVenue},
		{name: "Metro Power", kind: KindCriticalService, sector: "electricity"},
		{name: "Capital Railways", kind: KindCriticalService, sector: "railways"},
		{name: "National Athletics Federation", kind: KindSportsBody},
		{name: "National CSIRT", kind: KindSecurityAgency},
		{name: "Metropolitan Police Cyber Unit", kind: KindLawEnforcement},
	}
	demoPeople = []demoPerson{
		// A second coordinator: revoking or demoting a coordinator takes
		// two (docs/threat-model.md).
		{name: "Deputy Duty Officer", org: "Coordination Centre", role: crypto.RoleCoordinator},
		{name: "Venue Lead", org: "Venue North", role: crypto.RoleOrgAdmin},
		{name: "Power SOC Analyst", org: "Metro Power", role: crypto.RoleMember},
		{name: "Railway IT Lead", org: "Capital Railways", role: crypto.RoleOrgAdmin},
		{name: "Federation IT", org: "National Athletics Federation", role: crypto.RoleMember},
		{name: "CSIRT Analyst", org: "National CSIRT", role: crypto.RoleMember},
		{name: "Committee Security", org: "Organising Committee", role: crypto.RoleOrgAdmin},
	}
)

// Demo creates the demo community in cfg.Home: this home's device is the
// coordination centre's duty officer, and seven other members of the seed
// report's kinds of organisation, each on its own device in a scratch home,
// post, comment, read and report incidents. Their envelopes are then held
// here, as replication would bring them. The community is marked as a demo
// everywhere it shows. Demo refuses a home that already holds anything.
func Demo(cfg Config) (*App, error) {
	cfg.fill()
	if HasIdentity(cfg.Home) {
		return nil, fmt.Errorf("%w (%s): the demo needs a home of its own", ErrHasIdentity, cfg.Home)
	}
	if _, err := Init(cfg, "Duty Officer", DemoPassphrase); err != nil {
		return nil, err
	}
	centre, err := Open(cfg, DemoPassphrase)
	if err != nil {
		return nil, err
	}
	if err := buildDemo(cfg, centre); err != nil {
		centre.Close()
		return nil, fmt.Errorf("build demo community: %w", err)
	}
	return centre, nil
}

func buildDemo(cfg Config, centre *App) error {
	if _, err := centre.CreateCommunity(CommunityOptions{Name: "Games 2026 (demo)", OrgName: "Coordination Centre", OrgKind: KindCoordination, Demo: true}); err != nil {
		return err
	}
	for _, o := range demoOrgs {
		if _, err := centre.AddOrg(o.name, o.kind, o.sector); err != nil {
			return err
		}
	}
	scratch, err := os.MkdirTemp("", "noroshi-demo-members-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)

	members := map[string]*App{}
	for i, p := range demoPeople {
		mcfg := cfg
		mcfg.Home = filepath.Join(scratch, fmt.Sprint(i))
		if err := os.MkdirAll(mcfg.Home, 0o700); err != nil {
			return err
		}
		dev, err := crypto.NewDevice(cfg.Rand, p.name)
		if err != nil {
			return err
		}
		m, err := OpenDevice(mcfg, dev)
		if err != nil {
			return err
		}
		defer m.Close()
		req, err := m.JoinRequest()
		if err != nil {
			return err
		}
		inv, _, err := centre.Invite(req, InviteOptions{Org: p.org, Role: p.role})
		if err != nil {
			return err
		}
		if _, err := m.Join(inv); err != nil {
			return err
		}
		members[p.name] = m
	}
	// Everyone sees everyone's membership before writing.
	all := append([]*App{centre}, mapValues(members)...)
	if err := exchange(all); err != nil {
		return err
	}

	type post struct {
		by string
		d  PostDraft
	}
	posts := []post{
		{"", PostDraft{Type: TypeMalware, Tag: TagImportant, TLP: TLPGreen, Channel: ChannelPro,
			Title: "Malware disguised as a damage report about the Games",
			Body: "An e-mail campaign sends a Word document posing as a report of damage caused by the Games.\n" +
				"Opening it with macros enabled installs a downloader.\n\n" +
				"**Action:** block the sender domains below and search mail logs since 19 July.\n\n" +
				"- hxxp://damage-report[.]example/upload\n- 198.51.100.23",
			Files:      []File{{Name: "iocs.txt", Data: []byte("198.51.100.23\ndamage-report.example\n3f786850e387550fdab836ed7e6dc881de23001b\n")}},
			Indicators: []string{"hxxp://damage-report[.]example/upload", "198.51.100[.]23", "damage-report[.]example", "3f786850e387550fdab836ed7e6dc881de23001b"}}},
		{"CSIRT Analyst", PostDraft{Type: TypeForeshadowing, Tag: TagImportant, TLP: TLPAmber, Channel: ChannelPro,
			Title:  "DDoS campaign #OpBoycottOlympics announced against Games sites",
			Body:   "A hacktivist group calls for DDoS attacks on official sites from 23 July, the day of the opening ceremony.\nTarget list includes ticketing and broadcasting sites.",
			ToOrgs: []string{"Organising Committee", "Venue North", "Metro Power", "Capital Railways"}}},
		{"", PostDraft{Type: TypeVulnerability, Tag: TagImportant, TLP: TLPClear, Channel: ChannelGeneral,
			Title: "iOS/iPadOS zero-day exploited in the wild: update all staff devices",
			Body:  "Apple released fixes for a WebKit vulnerability that is being exploited. Update iPhones and iPads used by staff today."}},
		{"", PostDraft{Type: TypeAlert, Tag: TagCaution, TLP: TLPClear, Channel: ChannelGeneral,
			Title: "Fake live-streaming sites for the opening ceremony",
			Body:  "36 fake streaming sites were found so far. They collect card numbers. Tell staff and visitors to use the official broadcaster only."}},
		{"", PostDraft{Type: TypeObservation, Tag: TagCaution, TLP: TLPAmber, Channel: ChannelObservation,
			Title:  "Malicious traffic towards your registered address 203.0.113.17",
			Body:   "Security agencies observed scanning of 203.0.113.17 (your ticket gate server) from 45 addresses since 02:10 JST. Check the exposed admin interface.",
			ToOrgs: []string{"Venue North"}}},
		{"Railway IT Lead", PostDraft{Type: TypeIncident, Tag: TagInfo, TLP: TLPGreen, Channel: ChannelPro,
			Title: "Anonymised: cloud service outage at a timetable provider",
			Body:  "A cloud service used for passenger information failed for 40 minutes. Not an attack. Shared so others check their own dependency on it."}},
		{"Committee Security", PostDraft{Type: TypeSchedule, Tag: TagInfo, TLP: TLPGreen, Channel: ChannelGeneral,
			Title: "Schedule change: athletics evening session starts 19:30",
			Body:  "Expect the traffic peak on ticketing and streaming 30 minutes later than planned."}},
		{"Venue Lead", PostDraft{Type: TypeEmergency, Tag: TagImportant, TLP: TLPGreen, Channel: ChannelPro,
			Title: "Earthquake: Venue North on generator power, network up",
			Body:  "Mains power lost at 14:02. Generators running; core network and Wi-Fi up. Reply here before sending staff."}},
		{"", PostDraft{Type: TypeAlert, Tag: TagImportant, TLP: TLPRed, Channel: ChannelPro,
			Title:     "Suspected insider access at a venue contractor",
			Body:      "For the named recipients only. Do not forward. Call the duty officer before acting.",
			ToMembers: []string{"Venue Lead"}}},
	}
	// A GitHub security advisory that two organisations imported, each on
	// its own device: one post, two versions (sources.go).
	log4shell := func() PostDraft {
		return PostDraft{Type: TypeVulnerability, Tag: TagImportant, TLP: TLPClear, Channel: ChannelGeneral,
			Title: "GHSA-jfh8-c2jp-5v3q (CVE-2021-44228): Remote code injection in Log4j",
			Body: "Apache Log4j2 JNDI features do not protect against attacker-controlled LDAP and other JNDI endpoints.\n\n" +
				"**Action:** find every Java service that logs user input (ticketing, accreditation, streaming back ends) and update Log4j to 2.17.1 or later.",
			Source: &PostSource{ID: "ghsa:GHSA-jfh8-c2jp-5v3q", Modified: time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC), URL: "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q"},
			Advisory: &AdvisoryFields{GHSA: "GHSA-jfh8-c2jp-5v3q", CVEs: []string{"CVE-2021-44228"}, Severity: "critical", CVSSScore: 10,
				CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", CWEs: []string{"CWE-502", "CWE-917"},
				Packages:   []AdvisoryPackage{{Ecosystem: "maven", Name: "org.apache.logging.log4j:log4j-core", Vulnerable: ">= 2.0-beta9, < 2.15.0", Patched: "2.15.0"}},
				References: []string{"https://nvd.nist.gov/vuln/detail/CVE-2021-44228", "https://logging.apache.org/log4j/2.x/security.html"},
				URL:        "https://github.com/advisories/GHSA-jfh8-c2jp-5v3q",
				Published:  time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC), Updated: time.Date(2021, 12, 10, 0, 0, 0, 0, time.UTC)}}
	}
	posts = append(posts, post{"CSIRT Analyst", log4shell()}, post{"", log4shell()})
	var ids []string
	for _, p := range posts {
		a := centre
		if p.by != "" {
			a = members[p.by]
		}
		s, err := a.Post(p.d)
		if err != nil {
			return fmt.Errorf("post %q: %w", p.d.Title, err)
		}
		ids = append(ids, s.ID)
	}
	if err := exchange(all); err != nil {
		return err
	}
	// Comments and reads.
	if _, err := members["Power SOC Analyst"].Comment(ids[0], "Blocked at our mail gateway. Two hits on 20 July, both quarantined."); err != nil {
		return err
	}
	if _, err := members["Venue Lead"].Comment(ids[1], "Venue North ticketing is behind the CDN. Can the centre confirm the peak hours?"); err != nil {
		return err
	}
	for _, name := range []string{"Venue Lead", "Power SOC Analyst", "Railway IT Lead", "CSIRT Analyst"} {
		for _, id := range ids[:4] {
			if _, err := members[name].MarkRead(id); err != nil && !isNotFound(err) {
				return err
			}
		}
		if _, err := members[name].FlushReads(true); err != nil {
			return err
		}
	}
	// Topic views, and Venue North's consent to be named (metrics.go).
	if err := demoMetrics(members, ids); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if _, err := centre.Bookmark(ids[1], true); err != nil {
		return err
	}

	// Incidents in several states, from the Games' reports.
	type inc struct {
		by     string
		d      IncidentDraft
		status []Status
		note   string
	}
	incs := []inc{
		{"Railway IT Lead", IncidentDraft{Category: CatOutage, Title: "Passenger information site unreachable", Affects: AffectsNo,
			Body: "Cloud hosting outage, provider confirms. No sign of attack."}, []Status{StatusTriaged, StatusResolved, StatusClosed}, "Provider restored service at 11:40."},
		{"Committee Security", IncidentDraft{Category: CatTrafficSurge, Title: "Traffic surge on the official online shop after the opening", Affects: AffectsUnknown, SupportRequested: true,
			Body: "Requests up 40x since 22:00. Looks like genuine demand but we cannot rule out L7 DDoS."}, []Status{StatusTriaged, StatusCoordinating, StatusResponding}, "CDN provider engaged; rate limits in place."},
		{"Venue Lead", IncidentDraft{Category: CatDoS, Title: "UDP flood against venue Wi-Fi controller", Affects: AffectsYes, SupportRequested: true,
			Body: "Controller CPU at 100%, guest Wi-Fi down in the east stand."}, []Status{StatusTriaged, StatusCoordinating}, "Upstream filtering requested from the ISP through the centre."},
		{"Federation IT", IncidentDraft{Category: CatDefacement, Title: "Federation results page defaced", Affects: AffectsNo,
			Body: "A results page shows a political message. Page taken offline."}, nil, ""},
		{"Power SOC Analyst", IncidentDraft{Category: CatConsultation, Title: "Advice: suspicious scan of our SCADA VPN gateway", Affects: AffectsNo},
			[]Status{StatusTriaged, StatusResolved}, "Scans match a known research scanner; no action needed."},
	}
	for _, i := range incs {
		r, err := members[i.by].ReportIncident(i.d)
		if err != nil {
			return fmt.Errorf("incident %q: %w", i.d.Title, err)
		}
		if err := exchange(all); err != nil {
			return err
		}
		for k, s := range i.status {
			ch := IncidentChange{Status: s}
			if k == 0 {
				ch.Assign = "Duty Officer"
			}
			if k == len(i.status)-1 {
				ch.Note = i.note
			}
			if _, err := centre.UpdateIncident(r.ID, ch); err != nil {
				return err
			}
		}
	}
	// One-stop support: the venue's flood routed to two support
	// organisations (support_demo.go).
	if err := demoSupport(centre, members, all); err != nil {
		return fmt.Errorf("support requests: %w", err)
	}
	// The fifth joint exercise's first injects, kept apart from the real
	// feed (exercise_demo.go).
	if err := demoExercise(centre, members["Power SOC Analyst"], members["Railway IT Lead"]); err != nil {
		return fmt.Errorf("exercise: %w", err)
	}

	// 24-hour contacts.
	contacts := []struct {
		org, by string
		e       ContactEntry
	}{
		{"Coordination Centre", "", ContactEntry{Role: "Duty officer", Name: "Coordination desk", Phone: "+81-3-0000-0001", Email: "duty@centre.example", Hours: "24/7"}},
		{"Venue North", "Venue Lead", ContactEntry{Role: "Venue IT on call", Name: "Venue Lead", Phone: "+81-3-0000-0201", Email: "it-oncall@venue-north.example", Hours: "24/7 during the Games"}},
		{"Capital Railways", "Railway IT Lead", ContactEntry{Role: "CSIRT duty", Name: "Railway CSIRT", Phone: "+81-3-0000-0301", Email: "csirt@railways.example", Hours: "24/7"}},
		{"Metro Power", "", ContactEntry{Role: "SOC", Name: "Metro Power SOC", Phone: "+81-3-0000-0401", Email: "soc@metro-power.example", Hours: "24/7"}},
		{"Organising Committee", "Committee Security", ContactEntry{Role: "Security operations", Name: "Committee SOC", Phone: "+81-3-0000-0501", Email: "soc@committee.example", Hours: "24/7"}},
	}
	for _, c := range contacts {
		a := centre
		if c.by != "" {
			a = members[c.by]
		}
		if _, err := a.SetContact(c.org, c.e, false); err != nil {
			return fmt.Errorf("contact of %s: %w", c.org, err)
		}
	}
	// Registered assets, a post that concerns two of them and one
	// observation notice sent (assets.go).
	if err := demoAssets(centre, members); err != nil {
		return fmt.Errorf("assets: %w", err)
	}
	return exchange(all)
}

func isNotFound(err error) bool {
	return err != nil && (errors.Is(err, ErrNotFound) || errors.Is(err, ErrRetracted))
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// exchange gives every app every envelope the others hold, as replication
// would.
func exchange(apps []*App) error {
	var envs []*envelope.Envelope
	for _, a := range apps {
		if err := a.store.Since(0, func(_ uint64, e *envelope.Envelope) error {
			envs = append(envs, e)
			return nil
		}); err != nil {
			return err
		}
	}
	for _, a := range apps {
		var mine []*envelope.Envelope
		community := a.store.Community()
		for _, e := range envs {
			c := *e
			if !replica.MayHoldPayload(e.Header, community, a.dev.ID()) {
				c.Payload = nil
			}
			mine = append(mine, &c)
		}
		if _, err := a.store.Add(mine...); err != nil {
			return err
		}
		if err := a.refresh(); err != nil {
			return err
		}
	}
	return nil
}

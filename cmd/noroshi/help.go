package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"noroshi/app"
)

// help is what `--help` shows of a command beyond its one-line summary:
// what it does, first (Long), and an example (Example). Usage lines show
// every optional flag in brackets. Commands are named by their path under
// noroshi; TestHelp checks that every command has both.
type help struct {
	use     string // replaces the command's Use when set
	long    string
	example string
}

var helpTexts = map[string]help{
	"noroshi": {example: `  noroshi                          # the desktop app
  noroshi demo                     # the demo community, on the command line
  noroshi init --name "Duty Officer"
  noroshi feed --unread`},
	"init": {long: `Create this device's identity: its signing and encryption keys, in a key
file (key.age in the home) protected by the passphrase, asked twice.
Then create a community (noroshi community create) or ask to join one
(noroshi request).`,
		example: `  noroshi init --name "Duty Officer"
  NOROSHI_PASSPHRASE=... noroshi --home ./venue-laptop init --name "Venue Lead"`},
	"community": {long: `Found a community: this device becomes its first coordinator.`,
		example: `  noroshi community create --name "Games 2026" --org "Coordination Centre"`},
	"community create": {use: "create --name NAME --org ORG [--org-kind KIND] [--org-sector SECTOR]",
		long: `Found a community with this device as its first coordinator, in an
organisation of its own (a coordination centre unless --org-kind says
otherwise).
Kinds: ` + joinEnum(app.OrgKinds) + `.`,
		example: `  noroshi community create --name "Games 2026" --org "Coordination Centre"
  noroshi community create --name "Games 2026" --org "Organising Committee" --org-kind organising-committee`},
	"org": {long: `Organisations of the community: coordinators add them; everyone lists them.`,
		example: `  noroshi org add --name "Venue North" --kind venue
  noroshi org list`},
	"org add": {use: "add --name NAME --kind KIND [--sector SECTOR]",
		long: `Add an organisation to the community (coordinators). Kinds: ` + joinEnum(app.OrgKinds) + `.
Sectors (critical-service only): ` + strings.Join(app.Sectors, ", ") + `.`,
		example: `  noroshi org add --name "Venue North" --kind venue
  noroshi org add --name "Metro Power" --kind critical-service --sector electricity`},
	"org list": {long: `List the organisations of the community with their kinds, sectors and
number of members.`,
		example: `  noroshi org list
  noroshi org list --json`},
	"request": {use: "request [--out FILE]",
		long: `Write a join request: this device's public keys and name, nothing secret.
Give it to a coordinator or org admin, who answers with an invite
(noroshi invite); then run noroshi join INVITE.`,
		example: `  noroshi request --out venue-lead.request`},
	"endorse": {use: "endorse --request FILE --out FILE [--role ROLE]",
		long: `Vouch that a join request comes from another device of your own person.
An org admin adds a device to an existing person only with an endorsement
signed by one of that person's own devices (a coordinator needs none). Run
this on a device you already have, then give the file to your org admin:
noroshi invite --request FILE --endorsement FILE --out INVITE.`,
		example: `  noroshi endorse --request laptop.request --out laptop.endorsement`},
	"invite": {use: "invite --request FILE --org ORG --out INVITE [--role ROLE] [--same-person-as PERSON] [--endorsement FILE]",
		long: `Admit the device of a join request into the community: the invite file
opens only on that device. The device joins --org as a member unless --role
says otherwise; --same-person-as makes it another device of an existing
person. Making a coordinator takes two coordinators where two others exist.`,
		example: `  noroshi invite --request venue-lead.request --org "Venue North" --role org-admin --out venue-lead.invite
  noroshi invite --request laptop.request --same-person-as 5e6f7a8b --out laptop.invite`},
	"join": {long: `Join the community of an invite that a coordinator or org admin made for
this device's join request.`,
		example: `  noroshi join venue-lead.invite`},
	"whoami": {long: `Show this device: its name and ID, and once it has joined, its community,
organisation and role (and whether it was revoked).`,
		example: `  noroshi whoami
  noroshi whoami --json`},
	"member": {long: `People of the community, their devices and who admitted them; revocation.`,
		example: `  noroshi member list
  noroshi member revoke 3fa9c2 --reason "laptop lost"`},
	"member list": {long: `List each person with their organisation, role, person ID and devices,
and who admitted or revoked each device.`,
		example: `  noroshi member list
  noroshi member list --json`},
	"member revoke": {long: `Revoke a device (coordinators): every peer refuses what it writes from now
on, and the keys it held are rotated. DEVICE is a device ID from noroshi
member list (at least 6 hex digits), or a person ID (or a name no one else
bears) whose only active device it is.`,
		example: `  noroshi member revoke 3fa9c2 --reason "laptop left in a taxi"`},
	"post": {use: "post --type TYPE --tag TAG --tlp TLP --title TITLE [--body TEXT | --body-file FILE] [--to ORG | --to-member PERSON] [--attach FILE] [--indicator IOC]",
		example: `  noroshi post --type malware --tag important --tlp green --title "Malware disguised as a damage report" --body-file report.md --attach iocs.txt
  noroshi post --type alert --tag important --tlp red --title "Insider access" --to-member 5e6f7a8b`},
	"feed": {use: "feed [--unread] [--bookmarked] [--type T] [--tag T] [--tlp T] [--channel C] [--search Q] [--limit N] [--before ID]",
		long: `List the posts this device can read, newest first, a page at a time: the
newest 50 unless --limit says otherwise (0: all). At the end of a full page
it says, on standard error, how to get the next one (--before the last ID).
With --json it prints the page as a JSON array; the next page is
--before the "id" of its last element.`,
		example: `  noroshi feed --unread
  noroshi feed --tag important --search 203.0.113.17
  noroshi feed --limit 100 --before 9c1e4d2a...   # the next page
  noroshi feed --json --limit 0                    # every post, as JSON`},
	"show": {long: `Show a post: its body, indicators, attachments, comments, who read it
(to its author, org admins and coordinators) and, to its author, how far
it has gone.`,
		example: `  noroshi show 9c1e4d2a
  noroshi show 9c1e4d2a --json`},
	"read": {long: `Mark a post as read. Read receipts are sent in batches, a minute
after the first one.`,
		example: `  noroshi read 9c1e4d2a`},
	"comment": {long: `Comment on a post; the comment is shared with the post's audience.`,
		example: `  noroshi comment 9c1e4d2a --body "Blocked at our gateway"`},
	"bookmark": {use: "bookmark ID [--remove]",
		long: `Bookmark a post on this device, or remove the bookmark; never shared.`,
		example: `  noroshi bookmark 9c1e4d2a
  noroshi bookmark 9c1e4d2a --remove`},
	"retract": {long: `Retract a post: honest peers drop its payload (what others already read
stays read). Its author may retract it; a coordinator may too, with a reason.`,
		example: `  noroshi retract 9c1e4d2a --reason "posted to the wrong audience"`},
	"attachment": {long: `Attachments of posts and incidents: saved to a file, never opened.`,
		example: `  noroshi attachment save 9c1e4d2a iocs.txt --out iocs.txt`},
	"attachment save": {use: "save ID NAME --out FILE [--force]",
		long: `Save an attachment of a post or an incident report to a file; it is never
opened automatically.`,
		example: `  noroshi attachment save 9c1e4d2a iocs.txt --out iocs.txt`},
	"incident": {long: `The consultation window: report incidents or ask for advice, and follow
them through their statuses: ` + joinEnum(app.Statuses) + `.`,
		example: `  noroshi incident report --category dos --title "UDP flood on venue Wi-Fi" --support-requested
  noroshi incident list`},
	"incident report": {use: "report --category CATEGORY --title TITLE [--affects-event yes|no|unknown] [--support-requested] [--body TEXT | --body-file FILE] [--attach FILE]",
		long:    `Report an incident or ask for advice. Categories: ` + joinEnum(app.Categories) + `.`,
		example: `  noroshi incident report --category dos --title "UDP flood on venue Wi-Fi" --affects-event yes --support-requested --attach fw.log`},
	"incident update": {long: `Change an incident's status, add a note to its timeline, or assign it to
a person. Statuses: ` + joinEnum(app.Statuses) + `.`,
		example: `  noroshi incident update 4b7d01 --status coordinating --note "ISP filtering requested" --assign 5e6f7a8b`},
	"incident list": {long: `List incidents, most recently updated first, with status, category and
whether support was requested.`,
		example: `  noroshi incident list
  noroshi incident list --json`},
	"incident show": {long: `Show an incident with its whole timeline.`,
		example: `  noroshi incident show 4b7d01`},
	"contact": {long: `24-hour contact points of the organisations.`,
		example: `  noroshi contact list --search duty`},
	"contact set": {long: `Set a contact point of an organisation (its org admins, and coordinators):
the entry for --role is added, replaced, or with --remove removed.`,
		example: `  noroshi contact set --role "CSIRT duty" --name "Venue IT" --phone +81-3-0000-0000 --email it@venue.example`},
	"contact list": {long: `List contact points by organisation.`,
		example: `  noroshi contact list
  noroshi contact list --search electricity --json`},
	"demo": {example: `  noroshi demo
  NOROSHI_PASSPHRASE=` + app.DemoPassphrase + ` noroshi --home ~/.local/share/noroshi-demo feed`},
	"serve": {use: "serve [--bind ADDR:PORT] [--advertise ADDR:PORT] [--join ADDR:PORT ...] [--relay ADDR:PORT ...] [--profile lan|wan] [--no-mdns] [--offline] [--advisories-every DURATION] [--advisories-api-url URL] [--indicators-bind ADDR:PORT]",
		example: `  noroshi serve
  noroshi serve --join 10.0.0.5:7946
  GITHUB_TOKEN=ghp_... noroshi serve --advisories-every 6h                            # GitHub security advisories, unattended
  noroshi serve --profile wan --advertise 203.0.113.5:7946 --join 198.51.100.7:7946   # a relay
  noroshi --home ./second serve --bind 127.0.0.1:7956 --join 127.0.0.1:7946           # a second peer on this machine`},
	"peers": {long: `List the peers of a running noroshi serve (or the desktop app) on this
home: organisation, role, address, state, last sync and what each side
lacked; and the connectivity: connected to a coordinator or relay, local
mesh only, or alone.`,
		example: `  noroshi peers
  noroshi peers --json`},
	"export": {use: "export --out FILE [--for DEVICE|REQUEST_FILE] [--since MARK|MARK_FILE] [--expires 28d] [--force]",
		long: `Write a bundle file for a device that cannot sync (USB stick, air gap).
What it holds: this device's envelopes, every one verified again on import.
Certificates and key grants open with any community key a member ever held
(so a member that only receives bundles crosses a revocation); the records
open with the current community key. TLP:RED posts travel too, still sealed
to their named recipients: only those devices can read them.

--for seals the whole bundle to one device (its device ID, its person, or
the join request file it made): no other device can open it.
--since writes only what the receiving device lacks: give the mark its last
import printed (or noroshi mark shows), or the file import --mark-out wrote.
A bundle expires (28 days unless --expires says otherwise); import refuses
it after that unless --force. The expiry is signed and sealed inside.
バンドル（エアギャップ用ファイル）を書き出します。--for で1台の端末だけに、
--since で相手のマーク以降の差分だけを書き出します。`,
		example: `  noroshi export --out /media/usb/noroshi.bundle
  noroshi export --out /media/usb/venue.bundle --for venue-laptop.request --expires 7d
  noroshi export --out /media/usb/daily.bundle --since /media/usb/venue.mark
  noroshi export --out /media/usb/daily.bundle --since nm1.SrVMfGxhxBMByENA...`},
	"import": {use: "import BUNDLE [--force] [--mark-out FILE]",
		long: `Import a bundle file written by noroshi export. The whole file is checked
first (damaged, truncated, altered, expired, of another community, sealed to
another device: nothing is stored); then every envelope is verified as if
a peer had sent it and what is missing is admitted. Importing twice changes
nothing. It ends with a table (added, already held, waiting, refused by
reason) and this device's mark: carry it back (or write it with --mark-out)
so the next export (--since) holds only what this device lacks.
バンドルを取り込みます。最後に表と、次の書き出しに使うマークを表示します。`,
		example: `  noroshi import /media/usb/noroshi.bundle
  noroshi import /media/usb/daily.bundle --mark-out /media/usb/venue.mark
  noroshi import old.bundle --force     # past its expiry, and known to be current
  noroshi import /media/usb/daily.bundle --json`},
	"mark": {use: "mark [--out FILE]",
		long: `Print this device's mark: a short summary of what it holds (each author's
chain, as far as it is complete here). The device that writes the next
bundle for this one gives it to noroshi export --since and leaves out what
this device has. noroshi import prints it too.
この端末のマーク（保持している内容の要約）を表示します。`,
		example: `  noroshi mark
  noroshi mark --out /media/usb/venue.mark`},
	"stix": {long: `STIX 2.1 in and out, for the tools security teams already run (MISP,
OpenCTI, TIPs): export writes one bundle, import turns a bundle into posts.
STIX 2.1 形式での書き出しと取り込み。TLP:RED は書き出されません。`,
		example: `  noroshi stix export --out games.json
  noroshi stix import partner-bundle.json --dry-run`},
	"stix export": {use: "export [--tlp-max clear|green|amber|amber+strict] [--since TIME] [--out FILE] [--force]",
		long: `Write one STIX 2.1 bundle of what this device can read: the
organisations that wrote it as identities, the TLP 2.0 marking definitions,
a report per post, an indicator per structured indicator, a note per
comment, a sighting where a member of another organisation commented an
indicator back ("we saw it too"), an incident per incident (TLP:AMBER+STRICT:
sealed to its organisation and the coordinators, so only with --tlp-max
amber+strict).
IDs are stable: the same post has the same STIX ID on every device.
Only what is marked up to --tlp-max (GREEN unless asked) leaves; TLP:RED,
exercise posts and observation notices never do.
読める投稿・コメント・インシデントを STIX 2.1 バンドルに書き出します。
--tlp-max までの TLP のみ(既定 GREEN)。RED と演習は書き出しません。
インシデントは TLP:AMBER+STRICT で、--tlp-max amber+strict のときのみ。`,
		example: `  noroshi stix export --out games.json
  noroshi stix export --tlp-max amber --since 24h --out today.json
  noroshi stix export --tlp-max clear | jq '.objects | length'`},
	"stix import": {use: "import FILE [--tlp clear|green|amber|amber+strict] [--type TYPE] [--tag TAG] [--dry-run]",
		long: `Turn a STIX 2.1 bundle into posts: each report is a post, with the objects
it refers to (indicators, vulnerabilities, notes, sightings, malware,
attack patterns, campaigns) as its context; simple indicator patterns
become structured indicators, others stay as text. Objects no report
refers to are posts of their own where they make sense. Importing again,
on any device, updates instead of duplicating: a newer modified time
posts a new version, the same or an older one is skipped.
TLP: the bundle's TLP 2.0 marking; TLP 1.0 read as its 2.0 twin (WHITE is
CLEAR); no marking is AMBER; several, the most restrictive, granular
markings too (a malformed marking list reads as RED); --tlp sets it.
An import posts at most twice the bundle's size (plus 1 MiB) and 1,000
objects a post: what is over is skipped, and said.
STIX 2.1 バンドルを投稿として取り込みます。同じ STIX ID は更新として扱い、
重複しません。マーキングがなければ TLP:AMBER になります。
取り込む量はバンドルの 2 倍 (+1 MiB) まで、1 投稿 1,000 オブジェクトまでです。`,
		example: `  noroshi stix import partner-bundle.json --dry-run
  noroshi stix import partner-bundle.json --tag caution
  noroshi stix import feed.json --tlp green --type alert --json`},
}

// applyHelp gives every command its help text and makes flag usages read
// as plain text.
func applyHelp(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		key := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), "noroshi"), " ")
		if key == "" {
			key = "noroshi"
		}
		if h, ok := helpTexts[key]; ok {
			if h.use != "" {
				c.Use = h.use
			}
			if h.long != "" {
				c.Long = h.long
			}
			if h.example != "" {
				c.Example = h.example
			}
		}
		// pflag reads a `quoted` word in a usage as the value's name.
		plain := func(f *pflag.Flag) { f.Usage = strings.ReplaceAll(f.Usage, "`", "'") }
		c.LocalFlags().VisitAll(plain)
		c.Flags().VisitAll(plain)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// defaultHomeText names the default home for help texts, with the user's
// home directory as ~.
func defaultHomeText() string {
	def, err := app.DefaultHome()
	if err != nil {
		return "~/.local/share/noroshi"
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" && strings.HasPrefix(def, h+string(filepath.Separator)) {
		def = "~" + def[len(h):]
	}
	return def
}

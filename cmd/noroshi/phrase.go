package main

import (
	"errors"
	"fmt"
	"strings"

	"noroshi/app"
)

// How the CLI phrases app's typed errors: with its own flag names. app's
// errors name no front end's controls (app.FieldError); this file is the
// one place that knows which flag sets which field.

// flagOf names the flag that sets each field.
var flagOf = map[app.Field]string{
	app.FieldHome:        "--home",
	app.FieldName:        "--name",
	app.FieldPassphrase:  "the passphrase",
	app.FieldTitle:       "--title",
	app.FieldBody:        "--body",
	app.FieldType:        "--type",
	app.FieldTag:         "--tag",
	app.FieldTLP:         "--tlp",
	app.FieldChannel:     "--channel",
	app.FieldTo:          "--to",
	app.FieldToMember:    "--to-member",
	app.FieldReason:      "--reason",
	app.FieldOrg:         "--org",
	app.FieldOrgKind:     "--org-kind",
	app.FieldSector:      "--sector",
	app.FieldRole:        "--role",
	app.FieldCategory:    "--category",
	app.FieldStatus:      "--status",
	app.FieldNote:        "--note",
	app.FieldAssign:      "--assign",
	app.FieldAffects:     "--affects-event",
	app.FieldContactRole: "--role",
	app.FieldContactName: "--name",
	app.FieldPhone:       "--phone",
	app.FieldEmail:       "--email",
	app.FieldRequest:     "--request",
	app.FieldEndorsement: "--endorsement",
	app.FieldInvite:      "INVITE",
	app.FieldSupport:     "--support",
}

// flag returns the flag of a field, or the field's name.
func flag(f app.Field) string {
	if s, ok := flagOf[f]; ok {
		return s
	}
	return string(f)
}

// phrase says err for the command line: a FieldError in terms of flags,
// any other error as it is.
func phrase(err error) string {
	fe, ok := app.AsFieldError(err)
	if !ok {
		return err.Error()
	}
	s := phraseField(fe)
	if s == "" {
		return err.Error()
	}
	// What wrapped the FieldError stays in front of it.
	if full, own := err.Error(), fe.Error(); full != own && strings.HasSuffix(full, own) {
		return strings.TrimSuffix(full, own) + s
	}
	return s
}

func phraseField(e *app.FieldError) string {
	sentinel := e.Unwrap().Error()
	f := flag(e.Field)
	with := func(v string) bool { return e.WithValue == v }
	switch key := string(e.Field) + "/" + string(e.Reason); key {
	case "home/required":
		return "no home directory: set NOROSHI_HOME or pass --home"
	case "home/exists":
		if errors.Is(e, app.ErrHasCommunity) {
			return sentinel + ": use a new --home for another community"
		}
		return fmt.Sprintf("%s (%s): use another --home, or keep using this one", sentinel, e.Value)
	case "home/empty":
		return fmt.Sprintf("%s (%s): run `noroshi init --name \"Your Name\"` first", sentinel, e.Value)
	case "home/not-demo":
		if e.With == app.FieldPassphrase {
			return fmt.Sprintf("%s holds a home that the demo passphrase does not open, so it is not the demo: give the demo its own --home", e.Value)
		}
		return fmt.Sprintf("%s holds a real community, not the demo: give the demo its own --home", e.Value)
	case "name/required":
		return sentinel + ": a name is needed: pass --name \"Your Name\""
	case "to/exactly-one":
		return sentinel + ": an observation notice goes to exactly one organisation: --channel observation --to ORG"
	case "tlp/not-allowed":
		return sentinel + ": TLP:RED goes to named people (--to-member), not to an observation channel"
	case "to/not-allowed", "to-member/required":
		if with(string(app.TLPRed)) {
			return sentinel + ": TLP:RED is sealed to named people only: give --to-member PERSON-ID from `noroshi member list` (and no --to ORG)"
		}
	case "to-member/not-allowed":
		return sentinel + ": TLP:AMBER+STRICT stays inside organisations: use --to ORG, not --to-member"
	case "sector/required":
		return fmt.Sprintf("%s: a critical-service organisation needs --sector (one of %s)", sentinel, strings.Join(e.Allowed, ", "))
	case "sector/not-allowed":
		return sentinel + ": only critical-service organisations have a --sector"
	case "reason/required":
		if e.Of == app.OfSupportAnswer {
			return sentinel + ": a decline needs a --reason: it is shown to the reporting organisation and the coordinators"
		}
		if e.Of == app.OfRetraction {
			return sentinel + ": a coordinator retracting another member's post must give a --reason"
		}
		return sentinel + ": give a --reason: it is shown to every member"
	case "note/required":
		if e.Of == app.OfSupportAnswer {
			return sentinel + ": a report back needs its text: --report NOTE"
		}
	case "body/required":
		if e.Of == app.OfComment {
			return sentinel + ": the comment is empty: pass --body"
		}
	case "phone/one-required":
		return sentinel + ": a contact needs a --phone or an --email"
	case "contact-role/required":
		return sentinel + ": a contact needs a --role (for example \"CSIRT duty\")"
	case "request/malformed":
		return fmt.Sprintf("%s: not a join request (%s): ask the member for the file `noroshi request --out FILE` wrote", sentinel, e.Detail)
	case "endorsement/malformed":
		return sentinel + ": not an endorsement: give the file `noroshi endorse --request FILE --out FILE` wrote on the person's own device"
	case "endorsement/required":
		return sentinel + ": an org admin adds a device to an existing person only with that person's endorsement: on one of their devices run `noroshi endorse --request FILE --out FILE`, then `noroshi invite --request FILE --endorsement FILE`"
	case "org/required":
		return sentinel + ": name the organisation with --org"
	case "role/quorum":
		return sentinel + ": a new coordinator takes two coordinators; your agreement is recorded: another coordinator runs `noroshi invite --request FILE --role coordinator` with the same request, and that invite admits the device"
	case "invite/not-for-device":
		return sentinel + ": it was made from another device's join request; send `noroshi request --out FILE` from this home to the coordinator"
	case "passphrase/too-short":
		return fmt.Sprintf("%s: passphrase too short: use at least %d characters", sentinel, e.Min)
	case "tlp/unknown-value":
		return fmt.Sprintf("%s: unknown TLP %q: use %s", sentinel, e.Value, orList(e.Allowed))
	}
	switch e.Reason {
	case app.ReasonRequired:
		fs := []string{f}
		for _, a := range e.Also {
			fs = append(fs, flag(a))
		}
		return fmt.Sprintf("%s: %s needs %s", sentinel, an(app.SubjectWord(e.Of)), andList(fs))
	case app.ReasonOneRequired:
		fs := []string{f}
		for _, a := range e.Also {
			fs = append(fs, flag(a))
		}
		return fmt.Sprintf("%s: give %s", sentinel, orList(fs))
	case app.ReasonTooLong:
		if e.Field == app.FieldTitle {
			return fmt.Sprintf("%s: the %s must be one line of at most %d bytes", sentinel, f, e.Max)
		}
	}
	return ""
}

func an(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

func andList(s []string) string { return joinList(s, "and") }

func orList(s []string) string { return joinList(s, "or") }

func joinList(s []string, conj string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " " + conj + " " + s[len(s)-1]
}

package app

import "fmt"

// demoSupport adds one-stop support to the demo (the lead calls it from
// Demo, after the incidents are reported and exchanged): the venue's UDP
// flood wants remote advice and help finding the cause; the centre flags
// it as passed to NISC and passes it to the National CSIRT and the
// organising committee; the CSIRT accepts and reports back, the committee
// declines with a reason.
func demoSupport(centre *App, members map[string]*App, all []*App) error {
	var id string
	for _, i := range centre.Incidents() {
		if i.Title == "UDP flood against venue Wi-Fi controller" {
			id = i.ID
		}
	}
	if id == "" {
		return fmt.Errorf("demo support: the venue's incident is missing")
	}
	steps := []func() error{
		func() error {
			_, err := members["Venue Lead"].UpdateIncident(id, IncidentChange{SetSupport: true,
				Support: []SupportKind{SupportRemoteAdvice, SupportOutageCause}, Note: "We need help finding the source."})
			return err
		},
		func() error { return exchange(all) },
		func() error {
			yes := true
			_, err := centre.UpdateIncident(id, IncidentChange{PassedOn: &yes, Note: "Reported to NISC in the 15:00 report."})
			return err
		},
		func() error {
			_, err := centre.RouteIncident(id, SupportRouting{To: []string{"National CSIRT", "Organising Committee"},
				Note: "Please advise the venue on filtering and the source of the flood."})
			return err
		},
		func() error { return exchange(all) },
		func() error {
			_, err := members["CSIRT Analyst"].AnswerSupport(id, SupportReplyDraft{Answer: AnswerAccept, Note: "Calling the venue now."})
			return err
		},
		func() error {
			_, err := members["CSIRT Analyst"].AnswerSupport(id, SupportReplyDraft{Answer: AnswerReport,
				Note: "The flood comes from a booter service; the ISP filters 198.51.100.0/24 upstream since 18:40."})
			return err
		},
		func() error {
			_, err := members["Committee Security"].AnswerSupport(id, SupportReplyDraft{Answer: AnswerDecline,
				Note: "No committee system involved; the CSIRT has it."})
			return err
		},
		func() error { return exchange(all) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("demo support: %w", err)
		}
	}
	return nil
}

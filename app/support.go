package app

// foldIncidentUpdate folds an incident's update: a status move, a note,
// an assignment, escalation flags, a support request or its answer.
func (t *vtx) foldIncidentUpdate(v *viewRec, plain []byte) error {
	if err := t.put(v, plain); err != nil {
		return err
	}
	r := v.rec.IncidentUpdate
	return t.b(vbKids).Put(cat(r.Incident[:], v.id[:]), nil)
}

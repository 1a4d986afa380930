package app

import "noroshi/crypto"

// ExerciseRun announces that an exercise started or stopped, with what the
// scenario expects; the exercise's own traffic carries Record.Exercise.
type ExerciseRun struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
}

// foldExerciseRun folds an exercise's announcement.
func (t *vtx) foldExerciseRun(v *viewRec, plain []byte) error {
	return t.put(v, plain)
}

// foldExercise folds a record that carries an exercise marking: exercise
// traffic never reaches the real feed, incidents, metrics or exports.
func (t *vtx) foldExercise(v *viewRec, plain []byte, trust *crypto.Trust) error {
	return t.foldRecord(v, plain, trust)
}

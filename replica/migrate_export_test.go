package replica

// SetMigrateForTest makes migrations copy batch envelopes per transaction
// and run hook after each committed batch (an error stops the migration
// there, as a kill would); it returns a function that restores both.
func SetMigrateForTest(batch int, hook func(batch int) error) (restore func()) {
	oldBatch, oldHook := migrateBatch, migrateHook
	migrateBatch, migrateHook = batch, hook
	return func() { migrateBatch, migrateHook = oldBatch, oldHook }
}

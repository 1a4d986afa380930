// Package gui is Noroshi's desktop app: the Fyne screens of DESIGN.md
// section 7 (feed, post detail, compose, incident desk, contacts,
// directory, sync, settings, and the first-run wizard) on top of package
// app.
//
// The GUI is a thin skin: every action calls an app method and shows what it
// returns; no rule lives here. Screens change widgets in one place,
// (*UI).apply, with a snapshot of the views that a loader goroutine reads
// from app off the UI thread (fyne.Do hands it over); in tests the snapshot
// is loaded and applied synchronously.
//
// Every string shown to a user comes from the embedded translations
// (translation/en.json and ja.json, the same keys in both). TLP labels are
// never translated.
//
// This package imports app and Fyne only: never replica or crypto, and never
// fyne.io/fyne/v2/app (the driver), so its tests run with no display. Only
// cmd/noroshi starts a real window.
package gui

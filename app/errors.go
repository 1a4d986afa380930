package app

import "errors"

// Sentinel errors. Frontends test them with errors.Is; every error returned
// also says in words what was wrong and what to do.
var (
	ErrInvalid      = errors.New("invalid input")
	ErrNotFound     = errors.New("not found")
	ErrAmbiguous    = errors.New("ambiguous")
	ErrNotAllowed   = errors.New("not allowed")
	ErrNoCommunity  = errors.New("this device has not joined a community yet")
	ErrHasCommunity = errors.New("this home already holds a community")
	ErrNoIdentity   = errors.New("no device identity in this home")
	ErrHasIdentity  = errors.New("this home already has a device identity")
	ErrTooLarge     = errors.New("too large")
	ErrNoHome       = errors.New("no home directory")
	ErrNotForDevice = errors.New("this invite is not for this device")
	ErrRetracted    = errors.New("retracted")
	// ErrOffline says that an outside service (GitHub) could not be
	// reached at all: no route, no name resolution, connection refused.
	ErrOffline = errors.New("offline")
	// ErrRateLimited says that an outside service refused for now; the
	// error says when to try again.
	ErrRateLimited = errors.New("rate limited")
	// ErrAwaitingQuorum says that what was asked is recorded, as this
	// coordinator's agreement, and takes effect when a second coordinator
	// agrees (making or removing a coordinator). Nothing else is wrong.
	ErrAwaitingQuorum = errors.New("waiting for a second coordinator")
)

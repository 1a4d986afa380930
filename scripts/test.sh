#!/usr/bin/env bash
# Runs every test of Noroshi: vet, the whole suite under the race detector
# (real bbolt files, real age, the CLI end to end), the key file interop
# tests against the stock age commands, and a short run of every fuzz target.
#
#   scripts/test.sh              # everything
#   FUZZTIME=1m scripts/test.sh  # longer fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-8s}

# age 1.3 for the interop tests, built from the Go module proxy.
if [ -z "${NOROSHI_TEST_AGE13:-}" ]; then
	export NOROSHI_TEST_AGE13="${XDG_CACHE_HOME:-$HOME/.cache}/noroshi/age13"
	[ -x "$NOROSHI_TEST_AGE13/age" ] || scripts/build-age.sh "$NOROSHI_TEST_AGE13" >/dev/null
fi
# Debian's age (apt package "age") for the same tests.
if [ -z "${NOROSHI_TEST_AGE_DEBIAN:-}" ] && [ -x /usr/bin/age ]; then
	export NOROSHI_TEST_AGE_DEBIAN=/usr/bin/age
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 30m ./...

echo "== fuzz ($fuzztime per target)"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $target"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/noroshi-fuzz.log 2>&1 || {
			cat /tmp/noroshi-fuzz.log
			exit 1
		}
	done
done
echo "== all tests passed"

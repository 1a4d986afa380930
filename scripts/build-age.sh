#!/bin/sh
# build-age.sh DIR: build age 1.3 (the version in go.mod) and its
# age-plugin-batchpass into DIR, for the key file interop tests in crypto/:
#
#	scripts/build-age.sh "$HOME/.cache/noroshi/age13"
#	NOROSHI_TEST_AGE13="$HOME/.cache/noroshi/age13" go test ./crypto/
#
# It uses `go install module@version`, which builds outside this module and
# leaves go.mod and go.sum untouched.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

version=$(go list -m -f '{{.Version}}' filippo.io/age)
case "$version" in
v1.3.*) ;;
*)
	echo "$0: go.mod requires filippo.io/age $version, want v1.3.x" >&2
	exit 1
	;;
esac

GOBIN="$dir" GOFLAGS=-mod=mod go install \
	"filippo.io/age/cmd/age@$version" \
	"filippo.io/age/cmd/age-plugin-batchpass@$version"
"$dir/age" --version

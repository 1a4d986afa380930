#!/usr/bin/env bash
# repro-check.sh: prove that the release build is reproducible (make
# repro-check). It copies this repository into two fresh clones in
# different directories, builds the relay binaries and the .deb in each
# (scripts/package.sh relay deb) at different times, under different
# umasks, the second with an empty Go build cache, and compares the
# artefacts byte for byte (cmp), printing their SHA-256.
#
# The clones hold the committed tree plus the work tree's uncommitted
# changes and new files (not ignored ones), so what you see is what is
# checked; in CI's clean clone that is the commit itself.
#
#   REPRO_SHARED_CACHE=1 scripts/repro-check.sh   # reuse the Go build cache (faster, proves less)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

work=$(mktemp -d "${TMPDIR:-/tmp}/noroshi-repro.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# clone DIR: a fresh clone of this repository's HEAD with the work tree's
# changes laid over it.
clone() {
	git clone -q --no-hardlinks "$ROOT" "$1"
	git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf - | tar -xf - -C "$1"
	git -C "$1" update-index -q --refresh >/dev/null 2>&1 || true
}

echo "== build A: $work/a/noroshi (umask 022)"
clone "$work/a/noroshi"
start=$SECONDS
(cd "$work/a/noroshi" && umask 022 && DIST="$work/a/dist" scripts/package.sh relay deb)
echo "   build A took $((SECONDS - start)) s"

sleep 2 # a later wall clock: nothing may depend on it
echo "== build B: $work/b/another/path/noroshi-copy (umask 027)"
clone "$work/b/another/path/noroshi-copy"
start=$SECONDS
cache_b=()
if [ -z "${REPRO_SHARED_CACHE:-}" ]; then
	cache_b=(GOCACHE="$work/b/gocache")
	echo "   with an empty Go build cache"
fi
(cd "$work/b/another/path/noroshi-copy" && umask 027 && env "${cache_b[@]}" DIST="$work/b/dist" scripts/package.sh relay deb)
echo "   build B took $((SECONDS - start)) s"
chmod -R u+w "$work/b/gocache" 2>/dev/null || true

echo "== compare"
fail=0
n=0
for a in "$work"/a/dist/*; do
	[ -f "$a" ] || continue
	name=$(basename "$a")
	b="$work/b/dist/$name"
	n=$((n + 1))
	if [ ! -f "$b" ]; then
		echo "DIFFERENT: $name is missing from build B"
		fail=1
	elif cmp -s "$a" "$b"; then
		printf '   identical  %s  %s  %s bytes\n' "$(sha256sum "$a" | cut -d' ' -f1)" "$name" "$(stat -c %s "$a")"
	else
		echo "DIFFERENT: $name"
		cmp "$a" "$b" | head -3 || true
		fail=1
	fi
done
[ "$n" -ge 3 ] || {
	echo "repro-check: expected the two relay binaries and the .deb, found $n artefacts"
	exit 1
}
if [ "$fail" -ne 0 ]; then
	echo "repro-check: the builds differ (diffoscope shows where)"
	exit 1
fi
echo "repro-check: $n artefacts byte-identical across two clones, two times, two umasks"

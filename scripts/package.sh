#!/usr/bin/env bash
# package.sh: build Noroshi's release artefacts into dist/ (make package).
#
#   scripts/package.sh [all | relay | deb | windows | fyne | checksums]...
#
#   relay      dist/noroshi-relay_VERSION_linux_{amd64,arm64}: headless, pure
#              Go (CGO_ENABLED=0, -tags nogui); checked with `go version -m`
#   deb        dist/noroshi_DEBVERSION_amd64.deb (nfpm): /usr/bin/noroshi, the
#              desktop entry and icons, noroshi-serve.service, man pages,
#              bash/zsh/fish completions, maintainer scripts
#   windows    dist/noroshi_VERSION_windows_amd64.exe (MinGW, cgo) with its icon
#              and version resource; started under Wine when Wine is there
#   fyne       dist/noroshi_VERSION_linux_amd64.tar.xz: Fyne's own desktop
#              bundle (fyne package, metadata from cmd/noroshi/FyneApp.toml)
#   checksums  dist/SHA256SUMS over every artefact in dist/
#   all        all of the above (the default)
#
# The version comes from git (scripts need a clone): the release tag
# (git describe), else v0.0.0-DATE-COMMIT; +dirty when tracked files differ
# from the commit. Builds are reproducible: -trimpath, no build ID, the
# commit's time (SOURCE_DATE_EPOCH) as the build date and as every file's
# mtime in the .deb; scripts/repro-check.sh proves it.
#
# Needs: Go (go.mod's version or later), git, gcc and Fyne's C libraries
# (libgl1-mesa-dev xorg-dev) for the desktop build, gzip; for windows,
# gcc-mingw-w64-x86-64. The tools come from the Go module proxy at the
# versions pinned below, built once into dist/.tools.
#
# Environment: DIST (default dist), NOROSHI_RELEASE_REPO (OWNER/NAME that
# `noroshi update check` reads; none by default), NOROSHI_MAINTAINER and
# NOROSHI_HOMEPAGE (the .deb's fields).
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
FYNE=fyne.io/tools/cmd/fyne@v1.7.4
WINRES=github.com/tc-hib/go-winres@v0.3.3

cd "$(dirname "$0")/.."
ROOT=$PWD
DIST=${DIST:-$ROOT/dist}
case $DIST in /*) ;; *) DIST=$ROOT/$DIST ;; esac
STAGE=$DIST/.stage
TOOLS=$DIST/.tools

say() { printf '== %s\n' "$*"; }
die() {
	printf 'package.sh: %s\n' "$*" >&2
	exit 1
}

# stamp reads the version, commit and date from git.
stamp() {
	git rev-parse --git-dir >/dev/null 2>&1 || die "$ROOT is not a git clone: the version comes from git; clone the repository"
	COMMIT=$(git rev-parse HEAD)
	export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
	DATE=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
	local desc dirty=
	if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
		dirty=1
	fi
	if desc=$(git describe --tags --match 'v[0-9]*' --abbrev=12 2>/dev/null); then
		# v1.2.3-4-gHASH (4 commits after v1.2.3) as semver: v1.2.3+4.gHASH
		if [[ $desc =~ ^(v.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
			VERSION="${BASH_REMATCH[1]}+${BASH_REMATCH[2]}.g${BASH_REMATCH[3]}"
		else
			VERSION=$desc
		fi
	else
		VERSION="v0.0.0-$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)-${COMMIT:0:12}"
	fi
	if [ -n "$dirty" ]; then
		case $VERSION in *+*) VERSION+=".dirty" ;; *) VERSION+="+dirty" ;; esac
	fi
	FILEVER=${VERSION#v}
	# Debian: a pre-release sorts before its release (~), no hyphen without
	# a Debian revision.
	DEBVER=${FILEVER/-/\~}
	DEBVER=${DEBVER//-/.}
	# Windows and Fyne want MAJOR.MINOR.PATCH.
	NUMVER=$(sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+).*/\1/' <<<"$FILEVER")
	LDFLAGS="-s -w -buildid= -X main.buildVersion=$VERSION -X main.buildCommit=$COMMIT -X main.buildDate=$DATE"
	if [ -n "${NOROSHI_RELEASE_REPO:-}" ]; then
		LDFLAGS+=" -X main.releaseRepo=$NOROSHI_RELEASE_REPO"
	fi
	say "version $VERSION (commit ${COMMIT:0:12}, $DATE; .deb $DEBVER)"
}

# tool builds a pinned tool into dist/.tools once and prints its path.
tool() {
	local mod=$1 name
	name=$(basename "${mod%@*}")
	if [ ! -x "$TOOLS/$name" ] || [ "$(cat "$TOOLS/$name.version" 2>/dev/null)" != "$mod" ]; then
		GOBIN=$TOOLS GOFLAGS= CGO_ENABLED=0 go install "$mod" >&2
		echo "$mod" >"$TOOLS/$name.version"
	fi
	echo "$TOOLS/$name"
}

# gobuild builds ./cmd/noroshi with the release flags: gobuild OUT [go build flags].
gobuild() {
	local out=$1
	shift
	go build -trimpath -ldflags "$LDFLAGS" "$@" -o "$out" ./cmd/noroshi
}

relay() {
	local arch out info
	for arch in amd64 arm64; do
		out=$DIST/noroshi-relay_${FILEVER}_linux_$arch
		say "relay linux/$arch"
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch gobuild "$out" -tags nogui
		info=$(go version -m "$out")
		grep -q $'\tbuild\tCGO_ENABLED=0$' <<<"$info" || die "$out: not built with CGO_ENABLED=0"
		grep -q $'\tbuild\t-tags=nogui$' <<<"$info" || die "$out: not built with -tags nogui"
		if grep -q 'fyne\.io' <<<"$info"; then
			die "$out links Fyne: the relay build must not"
		fi
		printf '   %s  %s bytes, no cgo, no Fyne\n' "${out#"$ROOT"/}" "$(stat -c %s "$out")"
	done
}

deb() {
	local s=$STAGE/deb bin f nfpm
	rm -rf "$s"
	mkdir -p "$s"/{bin,man,completions,icons}
	say "deb: desktop build linux/amd64 (cgo)"
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 gobuild "$s/bin/noroshi"
	bin=$s/bin/noroshi
	say "deb: man pages, completions, icons"
	# Help texts name the default home under the builder's home directory:
	# the same for every builder (~/.local/share/noroshi).
	mkdir -p "$s/home"
	gen() { env -u XDG_DATA_HOME -u NOROSHI_HOME HOME="$s/home" "$bin" "$@"; }
	gen gen man --dir "$s/man.raw"
	for f in "$s"/man.raw/*.1; do
		gzip -9n <"$f" >"$s/man/$(basename "$f").gz"
	done
	rm -r "$s/man.raw"
	gen completion bash >"$s/completions/noroshi.bash"
	gen completion zsh >"$s/completions/_noroshi"
	gen completion fish >"$s/completions/noroshi.fish"
	rm -r "$s/home"
	go run ./packaging/icons -src cmd/noroshi/Icon.png -out "$s/icons"
	# The modes in the package are these, whatever the umask of the clone.
	find "$s" -type d -exec chmod 0755 {} +
	find "$s" -type f -exec chmod 0644 {} +
	chmod 0755 "$bin"
	# ... and so are the times: the commit's (nfpm takes them from the files
	# of a tree).
	find "$s" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	say "deb: nfpm ($NFPM)"
	nfpm=$(tool "$NFPM")
	rm -f "$DIST"/noroshi_*_amd64.deb
	NOROSHI_DEB_VERSION=$DEBVER NOROSHI_STAGE=$s \
		NOROSHI_MAINTAINER=${NOROSHI_MAINTAINER:-Noroshi developers <noroshi@invalid>} \
		NOROSHI_HOMEPAGE=${NOROSHI_HOMEPAGE:-} \
		"$nfpm" package --config packaging/nfpm.yaml --packager deb --target "$DIST/noroshi_${DEBVER}_amd64.deb" >/dev/null
	printf '   %s  %s bytes\n' "dist/noroshi_${DEBVER}_amd64.deb" "$(stat -c %s "$DIST/noroshi_${DEBVER}_amd64.deb")"
}

# srccopy copies the work tree (tracked and new files, not ignored ones) to
# dist/.stage/src, for the tools that write into the source directory
# (Fyne's metadata file, the Windows resource), so the clone stays as it is.
srccopy() {
	local src=$STAGE/src
	rm -rf "$src"
	mkdir -p "$src"
	git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar --null -T - -cf - | tar -xf - -C "$src"
	echo "$src"
}

windows() {
	local src winres exe
	command -v x86_64-w64-mingw32-gcc >/dev/null ||
		die "no MinGW compiler: apt-get install gcc-mingw-w64-x86-64"
	say "windows/amd64 (MinGW, cgo): icon and version resource ($WINRES)"
	src=$(srccopy)
	winres=$(tool "$WINRES")
	"$winres" simply --arch amd64 --out "$src/cmd/noroshi/rsrc" --icon cmd/noroshi/Icon.png --manifest gui \
		--product-name Noroshi --product-version "$NUMVER.0" --file-version "$NUMVER.0" \
		--file-description "Noroshi $VERSION" --original-filename noroshi.exe
	exe=$DIST/noroshi_${FILEVER}_windows_amd64.exe
	(cd "$src" && CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=x86_64-w64-mingw32-gcc gobuild "$exe")
	printf '   %s  %s bytes\n' "${exe#"$ROOT"/}" "$(stat -c %s "$exe")"
	if command -v wine >/dev/null; then
		say "windows: noroshi.exe version under Wine"
		WINEDEBUG=-all WINEPREFIX=$STAGE/wine wine "$exe" version || die "noroshi.exe version failed under Wine"
	else
		say "windows: Wine check skipped: Wine is not installed (apt-get install wine64 to run noroshi.exe version)"
	fi
}

fyne() {
	local src fynebin build out
	say "fyne package (Linux desktop bundle, $FYNE)"
	src=$(srccopy)
	fynebin=$(tool "$FYNE")
	build=$(git rev-list --count HEAD)
	rm -rf "$STAGE/fyne"
	mkdir -p "$STAGE/fyne"
	# fyne package builds with its own flags; it takes -ldflags from GOFLAGS.
	(cd "$STAGE/fyne" && GOFLAGS="-ldflags=-X=main.buildVersion=$VERSION -ldflags=-X=main.buildCommit=$COMMIT -ldflags=-X=main.buildDate=$DATE -ldflags=-buildid=" \
		"$fynebin" package --target linux --src "$src/cmd/noroshi" --release --name Noroshi \
		--app-version "$NUMVER" --app-build "$build")
	out=$DIST/noroshi_${FILEVER}_linux_amd64.tar.xz
	mv "$STAGE/fyne/Noroshi.tar.xz" "$out"
	printf '   %s  %s bytes\n' "${out#"$ROOT"/}" "$(stat -c %s "$out")"
}

checksums() {
	say "SHA256SUMS"
	(cd "$DIST" && find . -maxdepth 1 -type f ! -name SHA256SUMS ! -name '.*' -printf '%f\n' | LC_ALL=C sort |
		xargs -r -d '\n' sha256sum >SHA256SUMS && cat SHA256SUMS)
}

main() {
	local targets=("$@") t
	[ ${#targets[@]} -gt 0 ] || targets=(all)
	mkdir -p "$DIST"
	stamp
	for t in "${targets[@]}"; do
		case $t in
		all) relay && deb && windows && fyne && checksums ;;
		relay | deb | windows | fyne | checksums) "$t" ;;
		*) die "unknown target $t: use all, relay, deb, windows, fyne or checksums" ;;
		esac
	done
}

main "$@"

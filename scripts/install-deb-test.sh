#!/usr/bin/env bash
# install-deb-test.sh: install the .deb on this machine and take it out
# again (make install-deb-test; run by CI, as root).
#
#   1. installs dist/noroshi_*_amd64.deb with apt-get (which pulls its
#      dependencies) and checks what it put in place: the binary
#      (noroshi version), the system user and its home, the unit, the
#      configuration file;
#   2. runs `noroshi demo` as a normal, throwaway user;
#   3. starts and stops noroshi-serve.service where systemd runs (skipped,
#      with a message, in a container without it);
#   4. removes, then purges the package, and checks that the demo home and
#      /var/lib/noroshi are still there and that nothing of the package's
#      own files is left (dpkg -L before, the file system after);
#   5. takes away what the test itself made (the throwaway user, and the
#      system user and /var/lib/noroshi when they were not there before).
#
#   scripts/install-deb-test.sh [PATH.deb]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }
fail() {
	printf 'install-deb-test: FAIL: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || fail "run as root: it installs and removes a package"
deb=${1:-}
if [ -z "$deb" ]; then
	deb=$(ls -t dist/noroshi_*_amd64.deb 2>/dev/null | head -1 || true)
fi
[ -n "$deb" ] && [ -f "$deb" ] || fail "no .deb in dist/: run make deb first"
case $deb in /*) ;; *) deb=$PWD/$deb ;; esac
if dpkg-query -W -f='${Status}' noroshi 2>/dev/null | grep -q 'installed'; then
	fail "noroshi is installed on this machine already: apt-get purge noroshi first"
fi

had_user=
getent passwd noroshi >/dev/null && had_user=1
had_state=
[ -e /var/lib/noroshi ] && had_state=1
demo_user=noroshi-itest
tmp=$(mktemp -d)
cleanup() {
	set +e
	if dpkg-query -W -f='${Status}' noroshi 2>/dev/null | grep -q 'installed'; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq noroshi >/dev/null 2>&1
	fi
	getent passwd "$demo_user" >/dev/null && userdel -r "$demo_user" >/dev/null 2>&1
	if [ -z "$had_user" ] && getent passwd noroshi >/dev/null; then
		userdel noroshi >/dev/null 2>&1
		getent group noroshi >/dev/null && groupdel noroshi >/dev/null 2>&1
	fi
	[ -z "$had_state" ] && rm -rf /var/lib/noroshi
	rm -f /etc/noroshi/passphrase
	rmdir /etc/noroshi 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

say "install $(basename "$deb")"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$deb" >"$tmp/apt.log" 2>&1 ||
	{
		cat "$tmp/apt.log"
		fail "apt-get install failed"
	}
dpkg -L noroshi | LC_ALL=C sort >"$tmp/files"
echo "   $(wc -l <"$tmp/files") paths (dpkg -L)"

say "what the package put in place"
[ "$(command -v noroshi)" = /usr/bin/noroshi ] || fail "noroshi is not /usr/bin/noroshi"
noroshi version
noroshi version --json >"$tmp/version.json"
grep -q '"desktop": true' "$tmp/version.json" || fail "the .deb's binary has no desktop app"
grep -q '"version": "v' "$tmp/version.json" || fail "no version stamped: $(cat "$tmp/version.json")"
IFS=: read -r _ _ _ _ _ home shell < <(getent passwd noroshi) || fail "no system user noroshi"
[ "$home" = /var/lib/noroshi ] || fail "noroshi's home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "noroshi's shell is $shell"
[ "$(stat -c '%U %a' /var/lib/noroshi)" = "noroshi 700" ] || fail "/var/lib/noroshi is $(stat -c '%U %a' /var/lib/noroshi)"
[ -f /usr/lib/systemd/system/noroshi-serve.service ] || fail "no unit"
[ -f /etc/noroshi/serve.env ] || fail "no /etc/noroshi/serve.env"
[ -f /usr/share/applications/noroshi.desktop ] || fail "no desktop entry"
man -w noroshi-serve >/dev/null 2>&1 || [ -f /usr/share/man/man1/noroshi-serve.1.gz ] || fail "no man page"
echo "   /usr/bin/noroshi, user noroshi (home /var/lib/noroshi, 0700), unit, /etc/noroshi/serve.env, desktop entry, man pages"

say "noroshi demo as the normal user $demo_user"
getent passwd "$demo_user" >/dev/null && fail "user $demo_user exists already"
useradd --create-home --shell /bin/sh "$demo_user"
demo_home=/home/$demo_user/.local/share/noroshi-demo
runuser -u "$demo_user" -- env -i HOME="/home/$demo_user" PATH=/usr/bin:/bin LANG=C.UTF-8 noroshi demo >"$tmp/demo.out" 2>&1 ||
	{
		cat "$tmp/demo.out"
		fail "noroshi demo failed"
	}
grep -q 'DEMO community' "$tmp/demo.out" || fail "noroshi demo printed no feed: $(head -5 "$tmp/demo.out")"
[ -d "$demo_home" ] || fail "no demo home at $demo_home"
[ "$(stat -c %U "$demo_home")" = "$demo_user" ] || fail "the demo home is not the user's"
echo "   $(grep -c . "$tmp/demo.out") lines, home $demo_home ($(du -sh "$demo_home" | cut -f1))"

say "noroshi-serve.service"
if command -v systemd-analyze >/dev/null; then
	# Works without systemd running: the unit parses, its binary and man
	# page are there, and how exposed it is.
	verify=$(systemd-analyze verify /usr/lib/systemd/system/noroshi-serve.service 2>&1) || true
	[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
	echo "   systemd-analyze verify: clean; $(systemd-analyze security --offline=true /usr/lib/systemd/system/noroshi-serve.service 2>/dev/null | grep -o 'Overall exposure level.*' || echo 'security: no score')"
fi
state=$(systemctl is-system-running 2>/dev/null || true)
if [ "$state" = running ] || [ "$state" = degraded ]; then
	systemctl is-enabled --quiet noroshi-serve.service && fail "the unit is enabled after install: it must be disabled by default"
	# A relay identity in the service's home, the passphrase as a root-only
	# credential file.
	install -m 600 /dev/null /etc/noroshi/passphrase
	head -c 24 /dev/urandom | base64 >/etc/noroshi/passphrase
	runuser -u noroshi -- noroshi --home /var/lib/noroshi --passphrase-file /dev/stdin init --name "install test relay" </etc/noroshi/passphrase >/dev/null
	echo 'NOROSHI_SERVE_ARGS="--offline"' >>/etc/noroshi/serve.env
	systemctl start noroshi-serve.service
	for _ in $(seq 1 30); do
		systemctl is-active --quiet noroshi-serve.service && break
		sleep 1
	done
	systemctl is-active --quiet noroshi-serve.service || {
		journalctl -u noroshi-serve.service --no-pager | tail -20
		fail "noroshi-serve.service did not start"
	}
	systemctl show -p User,NoNewPrivileges,ProtectSystem,PrivateTmp noroshi-serve.service
	systemctl stop noroshi-serve.service
	systemctl is-active --quiet noroshi-serve.service && fail "noroshi-serve.service did not stop"
	echo "   started and stopped"
else
	echo "   skipped: systemd does not run here (systemctl is-system-running: ${state:-no answer}); the unit is checked by go test ./packaging/"
fi

say "remove"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq noroshi >"$tmp/apt.log" 2>&1 || {
	cat "$tmp/apt.log"
	fail "apt-get remove failed"
}
[ ! -e /usr/bin/noroshi ] || fail "/usr/bin/noroshi is still there after remove"
[ -d "$demo_home" ] || fail "remove took the demo home"
[ -d /var/lib/noroshi ] || fail "remove took /var/lib/noroshi"
[ -f /etc/noroshi/serve.env ] || fail "remove took the configuration file (only purge may)"

say "purge"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq noroshi >"$tmp/apt.log" 2>&1 || {
	cat "$tmp/apt.log"
	fail "apt-get purge failed"
}
dpkg-query -W -f='${Status}' noroshi 2>/dev/null | grep -q 'installed\|config-files' && fail "dpkg still knows noroshi"
[ -d "$demo_home" ] || fail "purge took the demo home"
[ -n "$(ls -A "$demo_home")" ] || fail "purge emptied the demo home"
[ -d /var/lib/noroshi ] || fail "purge took /var/lib/noroshi"
echo "   the demo home and /var/lib/noroshi are still there"

say "nothing of the package is left"
left=0
while IFS= read -r p; do
	[ -n "$p" ] || continue
	if [ -d "$p" ] && [ ! -L "$p" ]; then
		# A directory may stay when another package owns it or something
		# else is in it.
		if [ -z "$(ls -A "$p" 2>/dev/null)" ] && ! dpkg-query -S "$p" >/dev/null 2>&1; then
			echo "   left: empty directory $p"
			left=1
		fi
	elif [ -e "$p" ] || [ -L "$p" ]; then
		echo "   left: $p"
		left=1
	fi
done <"$tmp/files"
[ "$left" = 0 ] || fail "the package left files behind"
echo "   none of the $(wc -l <"$tmp/files") paths remains (but directories other packages own or use)"
echo "install-deb-test: passed"

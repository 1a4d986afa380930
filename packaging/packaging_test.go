// Package packaging holds the files the packages are made of (nfpm.yaml,
// the systemd unit, the desktop entry, the maintainer scripts) and tests
// them. The tests of built artefacts (the .deb's contents, the relay
// binary) read dist/, which `make package` fills; without it they skip.
//
//	make package && go test -count=1 ./packaging/
package packaging

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitLines reads a systemd unit's KEY=value lines by section.
func unitLines(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "" || strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		default:
			lines[section] = append(lines[section], l)
		}
	}
	return lines
}

// The unit runs serve as its own user, hardened, with the passphrase from
// a credential: never in the unit, its environment or its command line.
func TestServiceUnit(t *testing.T) {
	u := unitLines(t, filepath.Join("systemd", "noroshi-serve.service"))
	svc := u["Service"]
	for _, want := range []string{
		"User=noroshi", "Group=noroshi",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
		"ReadWritePaths=/var/lib/noroshi", "StateDirectory=noroshi", "StateDirectoryMode=0700",
		"CapabilityBoundingSet=", "UMask=0077",
		"LoadCredential=passphrase:/etc/noroshi/passphrase",
		"EnvironmentFile=-/etc/noroshi/serve.env",
		"ExecStart=/usr/bin/noroshi serve --home ${NOROSHI_HOME} --passphrase-file %d/passphrase $NOROSHI_SERVE_ARGS",
	} {
		if !slices.Contains(svc, want) {
			t.Errorf("[Service] has no %q", want)
		}
	}
	for _, l := range svc {
		low := strings.ToLower(l)
		if strings.Contains(low, "noroshi_passphrase") || (strings.Contains(low, "passphrase") && !strings.HasPrefix(l, "LoadCredential=") && !strings.HasPrefix(l, "ExecStart=")) {
			t.Errorf("the unit names a passphrase outside its credential: %q", l)
		}
		if strings.HasPrefix(l, "Environment=") && strings.Contains(low, "pass") {
			t.Errorf("a passphrase in the environment: %q", l)
		}
	}
	if !slices.Contains(u["Install"], "WantedBy=multi-user.target") {
		t.Errorf("[Install] %q", u["Install"])
	}
	// The environment file documents itself and carries no passphrase.
	env, err := os.ReadFile(filepath.Join("etc", "serve.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(env), "\n") {
		if !strings.HasPrefix(l, "#") && strings.Contains(strings.ToUpper(l), "PASSPHRASE") {
			t.Errorf("serve.env sets a passphrase: %q", l)
		}
	}
	if !strings.Contains(string(env), "NOROSHI_SERVE_ARGS=") {
		t.Error("serve.env sets no NOROSHI_SERVE_ARGS")
	}
}

func TestDesktopEntry(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("desktop", "noroshi.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	entry := string(b)
	for _, want := range []string{"[Desktop Entry]\n", "\nType=Application\n", "\nName=Noroshi\n", "\nExec=noroshi\n", "\nIcon=noroshi\n", "\nTerminal=false\n", "\nCategories=Network;Security;\n", "\nComment[ja]="} {
		if !strings.Contains(entry, want) {
			t.Errorf("desktop entry has no %q", want)
		}
	}
	if v, err := exec.LookPath("desktop-file-validate"); err == nil {
		// Hints (such as "Security could go with System") are no errors.
		if out, err := exec.Command(v, filepath.Join("desktop", "noroshi.desktop")).CombinedOutput(); err != nil || bytes.Contains(out, []byte("error:")) || bytes.Contains(out, []byte("warning:")) {
			t.Errorf("desktop-file-validate: %v\n%s", err, out)
		}
	}
}

// Every maintainer script is a POSIX shell script that leaves homes alone.
func TestMaintainerScripts(t *testing.T) {
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join("deb", name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!/bin/sh\n") {
			t.Errorf("%s: not a /bin/sh script", name)
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: sh -n: %v\n%s", name, err, out)
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "echo") {
				continue
			}
			if regexp.MustCompile(`\brm\b|\bdeluser\b|\buserdel\b`).MatchString(l) {
				t.Errorf("%s removes something: %q", name, l)
			}
		}
	}
}

// debPaths are what the .deb must hold.
var debPaths = []string{
	"./usr/bin/noroshi",
	"./usr/share/applications/noroshi.desktop",
	"./usr/share/icons/hicolor/48x48/apps/noroshi.png",
	"./usr/share/icons/hicolor/256x256/apps/noroshi.png",
	"./usr/lib/systemd/system/noroshi-serve.service",
	"./etc/noroshi/serve.env",
	"./usr/share/man/man1/noroshi.1.gz",
	"./usr/share/man/man1/noroshi-serve.1.gz",
	"./usr/share/man/man1/noroshi-update-check.1.gz",
	"./usr/share/bash-completion/completions/noroshi",
	"./usr/share/zsh/vendor-completions/_noroshi",
	"./usr/share/fish/vendor_completions.d/noroshi.fish",
	"./usr/share/doc/noroshi/install.md",
}

// built returns the newest file of dist/ that matches pattern, or skips.
func built(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join("..", "dist", pattern))
	if len(m) == 0 {
		t.Skipf("no dist/%s: run make package first", pattern)
	}
	newest := m[0]
	for _, p := range m[1:] {
		a, _ := os.Stat(p)
		b, _ := os.Stat(newest)
		if a.ModTime().After(b.ModTime()) {
			newest = p
		}
	}
	return newest
}

func TestDebContents(t *testing.T) {
	deb := built(t, "noroshi_*_amd64.deb")
	out, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c %s: %v", deb, err)
	}
	listing := map[string]string{} // path: mode and owner
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		listing[f[len(f)-1]] = f[0] + " " + f[1]
	}
	for _, p := range debPaths {
		if _, ok := listing[p]; !ok {
			t.Errorf("%s has no %s", filepath.Base(deb), p)
		}
	}
	if got := listing["./usr/bin/noroshi"]; got != "-rwxr-xr-x root/root" {
		t.Errorf("/usr/bin/noroshi: %s", got)
	}
	for p, m := range listing {
		if strings.HasPrefix(p, "./var/lib/noroshi") || strings.HasPrefix(p, "./home") {
			t.Errorf("the package ships a home: %s", p)
		}
		if !strings.HasSuffix(m, "root/root") {
			t.Errorf("%s is owned by %s", p, m)
		}
	}
	// Control: the scripts, the conffile, the version from git.
	ctrl, err := exec.Command("dpkg-deb", "-f", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Package: noroshi\n", "Architecture: amd64\n", "Depends: libc6, libgl1, libx11-6, adduser\n"} {
		if !strings.Contains(string(ctrl), want) {
			t.Errorf("control has no %q:\n%s", want, ctrl)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-e", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	for _, name := range []string{"postinst", "prerm", "postrm", "conffiles"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("control.tar has no %s", name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "conffiles")); strings.TrimSpace(string(b)) != "/etc/noroshi/serve.env" {
		t.Errorf("conffiles %q", b)
	}
}

func TestRelayBinary(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		bin := built(t, "noroshi-relay_*_linux_"+arch)
		out, err := exec.Command("go", "version", "-m", bin).Output()
		if err != nil {
			t.Fatalf("go version -m %s: %v", bin, err)
		}
		info := string(out)
		for _, want := range []string{"\tbuild\tCGO_ENABLED=0\n", "\tbuild\t-tags=nogui\n", "\tbuild\t-trimpath=true\n", "\tbuild\tGOARCH=" + arch + "\n"} {
			if !strings.Contains(info, want) {
				t.Errorf("%s: no %q in go version -m:\n%s", bin, strings.TrimSpace(want), info)
			}
		}
		if strings.Contains(info, "fyne.io") {
			t.Errorf("%s links Fyne", bin)
		}
		if arch == "amd64" {
			// Statically linked: no interpreter, no libc.
			if out, err := exec.Command("file", bin).Output(); err == nil && !strings.Contains(string(out), "statically linked") {
				t.Errorf("file %s: %s", bin, out)
			}
		}
	}
}

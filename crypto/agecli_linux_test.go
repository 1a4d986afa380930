package crypto_test

// Interop with the stock age command. A key file must open with `age -d` and
// the passphrase, and what it holds must be an identity file that age 1.3
// reads; what age 1.3 encrypts to a device's recipient must open with
// OpenFrom.
//
// The binaries come from the environment:
//
//	NOROSHI_TEST_AGE_DEBIAN  path to Debian's age (apt install age, 1.1.1);
//	                         unset: the age found in PATH
//	NOROSHI_TEST_AGE13       directory holding age and age-plugin-batchpass
//	                         v1.3, as scripts/build-age.sh builds them
//
// A test whose binary is missing skips, or fails when CI=true, so that CI
// cannot skip them silently.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"noroshi/crypto"
	"noroshi/crypto/cryptotest"
)

// missing skips t, or fails it under CI.
func missing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this test must not be skipped)", msg)
	}
	t.Skip(msg)
}

// debianAge returns the path of Debian's age command.
func debianAge(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NOROSHI_TEST_AGE_DEBIAN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("NOROSHI_TEST_AGE_DEBIAN: %v", err)
		}
		return p
	}
	p, err := exec.LookPath("age")
	if err != nil {
		missing(t, "no age command: set NOROSHI_TEST_AGE_DEBIAN or install Debian's age (apt-get install age)")
	}
	return p
}

// age13 returns the directory holding age 1.3 and age-plugin-batchpass.
func age13(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NOROSHI_TEST_AGE13")
	if dir == "" {
		missing(t, "NOROSHI_TEST_AGE13 is not set: build age 1.3 with scripts/build-age.sh DIR and set NOROSHI_TEST_AGE13=DIR")
	}
	for _, name := range []string{"age", "age-plugin-batchpass"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("NOROSHI_TEST_AGE13: %v (build it with scripts/build-age.sh %s)", err, dir)
		}
	}
	out, err := exec.Command(filepath.Join(dir, "age"), "--version").Output()
	if err != nil {
		t.Fatalf("age --version: %v", err)
	}
	if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, "v1.3.") {
		t.Fatalf("NOROSHI_TEST_AGE13: %s/age is version %q, want v1.3.x", dir, v)
	}
	return dir
}

// command runs name with a safety deadline: a wedged age must not hang the
// test run. No test asserts anything about time.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	return cmd
}

// keyFileFixture writes a device's key file to dir and returns the device,
// the key file's path and its plaintext.
func keyFileFixture(t *testing.T, dir, passphrase string) (*crypto.Device, string, string) {
	d := cryptotest.Device(t, "interop")
	file := writeKeyFile(t, d, passphrase)
	path := filepath.Join(dir, "device.key")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	plain := scryptDecrypt(t, file, passphrase)
	for _, want := range []string{"\nAGE-SECRET-KEY-PQ-1", "\n# signing-key: "} {
		if !strings.Contains(plain, want) {
			t.Fatalf("key file plaintext lacks %q", want)
		}
	}
	return d, path, plain
}

func TestKeyFileOpensWithDebianAge(t *testing.T) {
	ageBin := debianAge(t)
	if v, err := exec.Command(ageBin, "--version").Output(); err == nil {
		t.Logf("%s version %s", ageBin, bytes.TrimSpace(v))
	}
	dir := t.TempDir()
	const pass = "a passphrase with spaces, ünïcode and 記号"
	_, keyFile, plain := keyFileFixture(t, dir, pass)

	out := filepath.Join(dir, "identity.txt")
	transcript, err := withPassphrase(t, command(t, ageBin, "-d", "-o", out, keyFile), pass)
	if err != nil {
		t.Fatalf("age -d -o OUT KEYFILE with the passphrase: %v\n%s", err, transcript)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != plain {
		t.Errorf("age -d gave\n%s\nwant\n%s", got, plain)
	}

	bad := filepath.Join(dir, "bad.txt")
	transcript, err = withPassphrase(t, command(t, ageBin, "-d", "-o", bad, keyFile), "not "+pass)
	if err == nil {
		t.Errorf("age -d with a wrong passphrase succeeded:\n%s", transcript)
	}
	if b, err := os.ReadFile(bad); err == nil && len(b) > 0 {
		t.Errorf("age -d with a wrong passphrase wrote %d bytes", len(b))
	}
}

func TestKeyFileWithAge13(t *testing.T) {
	bin := age13(t)
	ageBin := filepath.Join(bin, "age")
	dir := t.TempDir()
	const pass = "another passphrase"
	d, keyFile, plain := keyFileFixture(t, dir, pass)
	env := append(os.Environ(), "LC_ALL=C", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	// age-plugin-batchpass reads the passphrase from AGE_PASSPHRASE: the
	// non-interactive way to decrypt a key file with age 1.3.
	identity := filepath.Join(dir, "identity.txt")
	cmd := command(t, ageBin, "-d", "-j", "batchpass", "-o", identity, keyFile)
	cmd.Env = append(env, "AGE_PASSPHRASE="+pass)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("AGE_PASSPHRASE=... age -d -j batchpass: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(identity); string(got) != plain {
		t.Errorf("age -d -j batchpass gave\n%s\nwant\n%s", got, plain)
	}
	cmd = command(t, ageBin, "-d", "-j", "batchpass", keyFile)
	cmd.Env = append(env, "AGE_PASSPHRASE=wrong")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("age -d -j batchpass with a wrong passphrase succeeded:\n%s", out)
	}

	// What Noroshi seals to the device opens with age 1.3 given the
	// decrypted key file (-i identity.txt) or the key file itself, which age
	// asks the passphrase for.
	msg := []byte("sealed by Noroshi, opened by age 1.3\n")
	sealed, err := crypto.SealTo(cryptotest.Rand("age13"), msg, crypto.Audience{Devices: []crypto.PublicDevice{d.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	sealedPath := filepath.Join(dir, "sealed.age")
	if err := os.WriteFile(sealedPath, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = command(t, ageBin, "-d", "-i", identity, sealedPath)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("age -d -i identity.txt: got %q, %v (%s); want %q", got, err, stderr.Bytes(), msg)
	}

	opened := filepath.Join(dir, "opened.txt")
	cmd = command(t, ageBin, "-d", "-i", keyFile, "-o", opened, sealedPath)
	cmd.Env = env
	if transcript, err := withPassphrase(t, cmd, pass); err != nil {
		t.Errorf("age -d -i KEYFILE with the passphrase: %v\n%s", err, transcript)
	} else if got, _ := os.ReadFile(opened); !bytes.Equal(got, msg) {
		t.Errorf("age -d -i KEYFILE gave %q, want %q", got, msg)
	}

	// The other way: age 1.3 encrypts to the device's age1pq1 recipient,
	// Noroshi opens it with the device identity (read back from the key file).
	plainPath := filepath.Join(dir, "plain.txt")
	msg2 := bytes.Repeat([]byte("encrypted by age 1.3, opened by Noroshi. "), 2000)
	if err := os.WriteFile(plainPath, msg2, 0o600); err != nil {
		t.Fatal(err)
	}
	toDevice := filepath.Join(dir, "to-device.age")
	cmd = command(t, ageBin, "-r", d.Recipient().String(), "-o", toDevice, plainPath)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -r age1pq1...: %v\n%s", err, out)
	}
	enc, err := os.ReadFile(toDevice)
	if err != nil {
		t.Fatal(err)
	}
	kf, _ := os.ReadFile(keyFile)
	read, err := crypto.ReadKeyFile(bytes.NewReader(kf), pass)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := crypto.OpenFrom(enc, int64(len(msg2)), read.Identity()); err != nil || !bytes.Equal(got, msg2) {
		t.Errorf("OpenFrom of what age 1.3 encrypted: got %d bytes, %v; want %d bytes", len(got), err, len(msg2))
	}
	other := cryptotest.Device(t, "someone else")
	if _, err := crypto.OpenFrom(enc, int64(len(msg2)), other.Identity()); !errors.Is(err, crypto.ErrNotForMe) {
		t.Errorf("OpenFrom by another device: got %v, want ErrNotForMe", err)
	}
}

// passphrasePrompt is how age asks: "Enter passphrase:" (1.1) or "Enter
// passphrase for identity file ...:" (1.3).
var passphrasePrompt = regexp.MustCompile(`(?i)passphrase[^\n]*:`)

// withPassphrase runs cmd on a new pseudo-terminal, as its controlling
// terminal, and types passphrase when it asks for one: age reads passphrases
// only from a terminal. It returns what cmd wrote to the terminal.
func withPassphrase(t *testing.T, cmd *exec.Cmd, passphrase string) (string, error) {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer master.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		return "", err
	}

	var (
		mu         sync.Mutex
		transcript []byte
		typed      bool
		done       = make(chan struct{})
	)
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			transcript = append(transcript, buf[:n]...)
			if !typed && passphrasePrompt.Match(transcript) {
				typed = true
				master.Write([]byte(passphrase + "\n"))
			}
			mu.Unlock()
			if err != nil {
				return // EIO once the command has exited and the terminal is gone
			}
		}
	}()
	err = cmd.Wait()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if err == nil && !typed {
		err = errors.New("never asked for a passphrase")
	}
	return string(transcript), err
}

// openPTY opens a new pseudo-terminal pair (Linux /dev/ptmx).
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	ioctl := func(req uintptr, arg unsafe.Pointer) error {
		var errno syscall.Errno
		rc, cerr := master.SyscallConn()
		if cerr != nil {
			return cerr
		}
		if cerr := rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		}); cerr != nil {
			return cerr
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
	var unlock int32
	if err := ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		master.Close()
		return nil, nil, err
	}
	var n uint32
	if err := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}

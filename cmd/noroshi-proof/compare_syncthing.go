package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// syncthingPair is two Syncthing instances on loopback, each with its own
// home, configured by the config file the harness writes (config.go's
// format, version 36 as Debian's 1.19 writes it) and driven by its REST
// API: A writes files into the shared folder, B receives them.
type syncthingPair struct {
	a, b   *stInstance
	o      compareOptions
	count  int              // files B must hold so far
	sizes  map[string]int64 // every file written, by name
	client *http.Client
}

// stInstance is one Syncthing: its home, folder, ports, API key, process.
type stInstance struct {
	name, home, folder, log string
	id, apiKey              string
	listen, gui             int
	bin                     string
	cmd                     *exec.Cmd
	exited                  chan error
}

const stFolderID = "noroshi-compare"

func newSyncthingPair(ctx context.Context, dir string, o compareOptions) (*syncthingPair, error) {
	p := &syncthingPair{o: o, sizes: map[string]int64{}, client: &http.Client{Timeout: 30 * time.Second}}
	var err error
	if p.a, err = newSTInstance(ctx, dir, "a", o.Syncthing); err != nil {
		return nil, err
	}
	if p.b, err = newSTInstance(ctx, dir, "b", o.Syncthing); err != nil {
		return nil, err
	}
	for _, x := range [][2]*stInstance{{p.a, p.b}, {p.b, p.a}} {
		if err := x[0].writeConfig(x[1], o.WatcherDelay); err != nil {
			return nil, err
		}
	}
	if err := p.a.start(ctx, p.client); err != nil {
		return p, err
	}
	if err := p.StartB(ctx); err != nil {
		return p, err
	}
	return p, p.connected(ctx)
}

// connected waits until A sees B connected and both folders are idle.
func (p *syncthingPair) connected(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var conns struct {
			Connections map[string]struct {
				Connected bool `json:"connected"`
			} `json:"connections"`
		}
		err := p.a.get(ctx, p.client, "/rest/system/connections", &conns)
		if err == nil && conns.Connections[p.b.id].Connected {
			sa, errA := p.a.status(ctx, p.client)
			sb, errB := p.b.status(ctx, p.client)
			if errA == nil && errB == nil && sa.State == "idle" && sb.State == "idle" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("syncthing: A and B did not connect within 2 minutes (%v); logs in %s", err, filepath.Dir(p.a.log))
		}
		if err := cmpSleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// newSTInstance makes a Syncthing home with its own keys (syncthing
// generate) and free loopback ports.
func newSTInstance(ctx context.Context, dir, name, bin string) (*stInstance, error) {
	s := &stInstance{name: name, bin: bin, home: filepath.Join(dir, "syncthing", name), folder: filepath.Join(dir, "syncthing", name+"-folder"),
		log: filepath.Join(dir, "syncthing", name+".log")}
	if out, err := exec.CommandContext(ctx, bin, "generate", "--home", s.home, "--no-default-folder", "--skip-port-probing").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("syncthing generate: %v: %s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "serve", "--home", s.home, "--device-id").Output()
	if err != nil {
		return nil, fmt.Errorf("syncthing serve --device-id: %w", err)
	}
	s.id = strings.TrimSpace(string(out))
	key := make([]byte, 16)
	rand.Read(key)
	s.apiKey = hex.EncodeToString(key)
	if s.listen, err = freePort(); err != nil {
		return nil, err
	}
	if s.gui, err = freePort(); err != nil {
		return nil, err
	}
	// The folder and its marker, as Syncthing makes them for a new folder.
	if err := os.MkdirAll(filepath.Join(s.folder, ".stfolder"), 0o755); err != nil {
		return nil, err
	}
	return s, nil
}

// writeConfig writes s's config.xml: loopback only, every discovery,
// relay, NAT, reporting and upgrade feature off, peer added with its
// loopback address, one folder shared with it, watched with delay seconds.
func (s *stInstance) writeConfig(peer *stInstance, delay int) error {
	device := func(d *stInstance, addr string) string {
		return fmt.Sprintf(`    <device id="%s" name="%s" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>%s</address>
        <paused>false</paused>
        <autoAcceptFolders>false</autoAcceptFolders>
    </device>
`, d.id, d.name, addr)
	}
	cfg := fmt.Sprintf(`<configuration version="36">
    <folder id="%[1]s" label="%[1]s" path="%[2]s" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="%[3]d" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="%[4]s" introducedBy=""></device>
        <device id="%[5]s" introducedBy=""></device>
        <minDiskFree unit="%%">1</minDiskFree>
        <paused>false</paused>
        <markerName>.stfolder</markerName>
    </folder>
%[6]s%[7]s    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:%[8]d</address>
        <apikey>%[9]s</apikey>
        <theme>default</theme>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:%[10]d</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urInitialDelayS>1800</urInitialDelayS>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <startBrowser>false</startBrowser>
        <crashReportingEnabled>false</crashReportingEnabled>
        <announceLANAddresses>false</announceLANAddresses>
        <setLowPriority>false</setLowPriority>
        <restartOnWakeup>false</restartOnWakeup>
        <reconnectionIntervalS>5</reconnectionIntervalS>
    </options>
</configuration>
`, stFolderID, s.folder, delay, s.id, peer.id,
		device(s, "dynamic"), device(peer, fmt.Sprintf("tcp://127.0.0.1:%d", peer.listen)),
		s.gui, s.apiKey, s.listen)
	return os.WriteFile(filepath.Join(s.home, "config.xml"), []byte(cfg), 0o600)
}

// start starts syncthing serve and waits until its REST API answers.
func (s *stInstance) start(ctx context.Context, c *http.Client) error {
	if s.cmd != nil {
		return fmt.Errorf("syncthing %s already runs", s.name)
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, "serve", "--home", s.home, "--no-browser", "--no-restart", "--no-upgrade", "--logflags=3")
	cmd.Env = append(os.Environ(), "STNORESTART=1", "STNOUPGRADE=1", "STNODEFAULTFOLDER=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start syncthing %s: %w", s.name, err)
	}
	s.cmd, s.exited = cmd, make(chan error, 1)
	go func() { s.exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var ping struct {
			Ping string `json:"ping"`
		}
		if err := s.get(ctx, c, "/rest/system/ping", &ping); err == nil && ping.Ping == "pong" {
			return nil
		}
		select {
		case err := <-s.exited:
			s.cmd = nil
			return fmt.Errorf("syncthing %s exited while starting: %v (log: %s)", s.name, err, s.log)
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("syncthing %s did not answer within 90 s (log: %s)", s.name, s.log)
		}
	}
}

// stop stops syncthing as a service manager does (SIGTERM to its process
// group; SIGKILL after 30 s) and waits for it.
func (s *stInstance) stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil }()
	if killed, _ := stopGroup(s.cmd.Process.Pid, s.exited, syscall.SIGTERM, 30*time.Second); killed {
		return fmt.Errorf("syncthing %s did not stop within 30 s: killed", s.name)
	}
	return nil
}

// get GETs a REST path with the API key and decodes the JSON answer.
func (s *stInstance) get(ctx context.Context, c *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", s.gui, path), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-API-Key", s.apiKey)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("syncthing %s: GET %s: %s: %s", s.name, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, v)
}

type stStatus struct {
	State       string `json:"state"`
	GlobalFiles int    `json:"globalFiles"`
	LocalFiles  int    `json:"localFiles"`
	NeedFiles   int    `json:"needFiles"`
}

func (s *stInstance) status(ctx context.Context, c *http.Client) (stStatus, error) {
	var st stStatus
	err := s.get(ctx, c, "/rest/db/status?folder="+stFolderID, &st)
	return st, err
}

// Write writes items as files into A's folder.
func (p *syncthingPair) Write(ctx context.Context, items []compareItem) error {
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(p.a.folder, it.Name), it.Data, 0o644); err != nil {
			return fmt.Errorf("syncthing: write on A: %w", err)
		}
		p.sizes[it.Name] = int64(len(it.Data))
	}
	return nil
}

// WaitB waits until B's REST API says it needs nothing and holds total
// files, and every file written is on B's disk with its size.
func (p *syncthingPair) WaitB(ctx context.Context, total int, poll time.Duration) error {
	var last string
	for {
		ok, why := p.arrived(ctx, total)
		if ok {
			return nil
		}
		last = why
		if err := cmpSleep(ctx, poll); err != nil {
			return fmt.Errorf("syncthing: B: %s: %w", last, err)
		}
	}
}

func (p *syncthingPair) arrived(ctx context.Context, total int) (bool, string) {
	ents, err := os.ReadDir(p.b.folder)
	if err != nil {
		return false, err.Error()
	}
	n := 0
	for _, e := range ents {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	if n < total {
		return false, fmt.Sprintf("%d of %d files on disk", n, total)
	}
	st, err := p.b.status(ctx, p.client)
	if err != nil {
		return false, err.Error()
	}
	if st.NeedFiles != 0 || st.GlobalFiles < total || st.LocalFiles < total {
		return false, fmt.Sprintf("db/status: need %d, global %d, local %d of %d", st.NeedFiles, st.GlobalFiles, st.LocalFiles, total)
	}
	for name, size := range p.sizes {
		fi, err := os.Stat(filepath.Join(p.b.folder, name))
		if err != nil || fi.Size() != size {
			return false, fmt.Sprintf("%s not complete on disk", name)
		}
	}
	return true, ""
}

// AfterWrite waits until A has indexed the files written (its watcher,
// then its scan) and returns how long that took.
func (p *syncthingPair) AfterWrite(ctx context.Context, total int) (time.Duration, error) {
	start := time.Now()
	for {
		st, err := p.a.status(ctx, p.client)
		if err == nil && st.LocalFiles >= total && st.GlobalFiles >= total {
			return time.Since(start), nil
		}
		if err := cmpSleep(ctx, p.o.Poll); err != nil {
			return 0, fmt.Errorf("syncthing: A did not index the files (%+v): %w", st, err)
		}
	}
}

// StopB stops B; StartB starts it again and returns once its REST API
// answers.
func (p *syncthingPair) StopB(ctx context.Context) error  { return p.b.stop() }
func (p *syncthingPair) StartB(ctx context.Context) error { return p.b.start(ctx, p.client) }

// Close stops both instances.
func (p *syncthingPair) Close() {
	p.b.stop()
	p.a.stop()
}

var (
	_ peerPair = (*syncthingPair)(nil)
	_ peerPair = (*noroshiPair)(nil)
)

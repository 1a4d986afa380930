// Package proofdoc writes the generated reports docs/performance.md and
// docs/reliability.md: each proof command (noroshi bench, noroshi-proof
// chaos, crash, hostile, compare, fuzz) replaces its own marked section of a
// report and leaves the others alone, and every section says on which
// machine and when it was measured (Machine).
//
// It imports no noroshi package: both the noroshi binary and the proof
// tools use it.
package proofdoc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// MachineInfo describes the machine a figure was measured on.
type MachineInfo struct {
	CPU       string    `json:"cpu"`
	Cores     int       `json:"cores"`
	Memory    uint64    `json:"memory_bytes"`
	Kernel    string    `json:"kernel"`
	GoVersion string    `json:"go"`
	OS        string    `json:"os"`
	Load      string    `json:"load"` // the 1, 5 and 15 minute load averages when measured
	Date      time.Time `json:"date"`
}

// Machine describes this machine at now. Fields it cannot read (not Linux)
// are left empty.
func Machine(now time.Time) MachineInfo {
	m := MachineInfo{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, Date: now.UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					m.Memory = kb * 1024
				}
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	return m
}

// Markdown is one line for a report: "Measured on 2026-12-07 11:40 UTC on
// Intel Xeon ..., 2 cores, 23.4 GiB, Linux 6.1.0, go1.26.0 linux/amd64 (load 0.52 0.40 0.30)."
func (m MachineInfo) Markdown() string {
	cpu := m.CPU
	if cpu == "" {
		cpu = "an unknown CPU"
	}
	s := fmt.Sprintf("Measured on %s on %s, %d cores", m.Date.Format("2006-01-02 15:04 MST"), cpu, m.Cores)
	if m.Memory > 0 {
		s += fmt.Sprintf(", %.1f GiB", float64(m.Memory)/(1<<30))
	}
	if m.Kernel != "" {
		s += ", Linux " + m.Kernel
	}
	s += ", " + m.GoVersion + " " + m.OS
	if m.Load != "" {
		s += " (load average " + m.Load + " when it started)"
	}
	return s + "."
}

// Reports and their titles, for a file that does not exist yet.
var titles = map[string]string{
	"performance.md": "Noroshi: performance",
	"reliability.md": "Noroshi: reliability",
}

func markers(section string) (begin, end string) {
	return "<!-- begin " + section + " (generated: do not edit by hand) -->", "<!-- end " + section + " -->"
}

// WriteSection replaces the section named section in the Markdown file at
// path with body (which should start with its own "## " heading and say
// how to regenerate it), or appends it when the file has no such section
// yet; a missing file is created with a title. Every other byte of the file
// is kept. The file is replaced atomically (a temporary file renamed).
func WriteSection(path, section, body string) error {
	if section == "" || strings.ContainsAny(section, "<>\n") {
		return fmt.Errorf("proofdoc: bad section name %q", section)
	}
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		title := titles[filepath.Base(path)]
		if title == "" {
			title = "Noroshi"
		}
		old = []byte("# " + title + "\n\nThis file is written by the commands named in each section; run them again to refresh it.\n")
	} else if err != nil {
		return fmt.Errorf("proofdoc: %w", err)
	}
	begin, end := markers(section)
	block := begin + "\n" + strings.TrimSpace(body) + "\n" + end
	s := string(old)
	i := strings.Index(s, begin)
	j := strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(end):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("proofdoc: %s: the markers of section %q are broken; fix them by hand or remove the section", path, section)
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("proofdoc: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".proofdoc-*")
	if err != nil {
		return fmt.Errorf("proofdoc: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(s); err != nil {
		tmp.Close()
		return fmt.Errorf("proofdoc: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("proofdoc: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("proofdoc: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// Table renders a Markdown table; every row has len(header) cells.
func Table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	return b.String()
}

package main

// A submission that fakes a pass: it prints result events as the check process would, signed-looking
// lines as the grading job would, writes events into every file descriptor of every process it can
// open in /proc, and tries to drop a conftest.py next to the checks. None of it may count.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var checks = []string{"builds_a_proxy_wasm_module", "go_test_passes", "your_test_catches_a_missing_header", "envoy_adds_header_and_logs"}

func fakes() string {
	out := ""
	for _, c := range checks {
		out += fmt.Sprintf(`{"event": "result", "verdict": {"lab": "01-first-filter", "step": "build", "name": %q, "nodeid": "checks/01-first-filter/x.py::test_%s", "status": "passed", "points": 100}}`+"\n", c, c)
		out += fmt.Sprintf(`{"n": 3, "event": "{\"event\":\"result\"}", "sig": "00"}` + "\n")
	}
	return out
}

func TestMain(m *testing.M) {
	fmt.Print(fakes())
	fmt.Fprint(os.Stderr, fakes())
	if "__PROCFD__" == "yes" {
		fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
		opened := 0
		for _, fd := range fds {
			if f, err := os.OpenFile(fd, os.O_WRONLY|os.O_APPEND, 0); err == nil {
				f.WriteString(fakes())
				f.Close()
				opened++
				pid := strings.Split(fd, "/")[2]
				comm, _ := os.ReadFile("/proc/" + pid + "/comm")
				fmt.Printf("opened %s of %s\n", fd, strings.TrimSpace(string(comm)))
			}
		}
		fmt.Printf("wrote fakes into %d descriptors\n", opened)
	}
	for _, dir := range []string{"/opt/workshop/content/checks/01-first-filter", "__CHECKS__"} {
		os.WriteFile(filepath.Join(dir, "conftest.py"), []byte("raise SystemExit(0)\n"), 0o644)
	}
	os.Exit(1)
}

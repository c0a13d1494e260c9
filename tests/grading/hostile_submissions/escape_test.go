package main

// A submission that tries to break out while its tests run. Every attempt that works makes the
// test pass (the cheat would then score); contained, it fails. __WHAT__ is filled in by the tests.

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestEscape(t *testing.T) {
	switch "__WHAT__" {
	case "read":
		for _, p := range []string{"__CANARY__", "__SOLUTION__", "/root/.ssh", "/etc/shadow"} {
			if data, err := os.ReadFile(p); err == nil {
				fmt.Printf("LOOT %s: %s\n", p, data)
				return
			}
			if entries, err := os.ReadDir(p); err == nil && len(entries) > 0 {
				fmt.Printf("LOOT %s: %d entries\n", p, len(entries))
				return
			}
		}
		t.Fatal("contained: no host file could be read")
	case "network":
		conn, err := net.DialTimeout("tcp", "127.0.0.1:__PORT__", 2*time.Second)
		if err == nil {
			buf := make([]byte, 64)
			n, _ := conn.Read(buf)
			fmt.Printf("LOOT network: %s\n", buf[:n])
			return
		}
		t.Fatalf("contained: %v", err)
	case "forkbomb":
		for i := 0; i < 5000; i++ {
			if err := exec.Command("sleep", "60").Start(); err != nil {
				t.Fatalf("contained after %d processes: %v", i, err)
			}
		}
		fmt.Println("LOOT forkbomb: 5000 processes")
	case "diskfill":
		f, err := os.Create("fill.bin")
		if err != nil {
			t.Fatalf("contained: %v", err)
		}
		chunk := make([]byte, 4<<20)
		for written := 0; written < 3<<30; written += len(chunk) {
			if _, err := f.Write(chunk); err != nil {
				os.Remove("fill.bin")
				t.Fatalf("contained after %d MB: %v", written>>20, err)
			}
		}
		fmt.Println("LOOT diskfill: 3 GB written")
	}
}

// wasmcheck answers one question with Istio's own code: would the istio-agent load this module?
//
//	wasmcheck [-sha256 HEX] [-pull-secret FILE] [-policy IfNotPresent|Always] [-out FILE] URL
//
// URL is what a WasmPlugin's url holds (oci://, http://, https://). It runs the agent's path,
// istio.io/istio/pkg/wasm's LocalFileCache.Get: fetch (Docker image, OCI image or Wasm artifact, an
// image index resolved to linux/amd64), checksum, Wasm magic. It prints one JSON object; exit 0 when
// the agent would load it, 1 when not (the agent's own words in "error"), 2 on a usage error.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/util/sets"
	"istio.io/istio/pkg/wasm"
)

type answer struct {
	OK             bool   `json:"ok"`
	URL            string `json:"url"`
	ManifestDigest string `json:"manifest_digest,omitempty"` // what the agent compares sha256 with for oci://
	ModuleSHA256   string `json:"module_sha256,omitempty"`   // what it compares for http(s)://
	ModuleSize     int    `json:"module_size,omitempty"`
	Error          string `json:"error,omitempty"`
}

func main() {
	checksum := flag.String("sha256", "", "the expected sha256, as in the WasmPlugin's sha256")
	secretFile := flag.String("pull-secret", "", "a .dockerconfigjson file: the pull secret istiod would send")
	policy := flag.String("policy", "IfNotPresent", "the pull policy: IfNotPresent or Always")
	timeout := flag.Duration("timeout", 30*time.Second, "how long a fetch may take")
	out := flag.String("out", "", "write the module the agent would load to this file")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: wasmcheck [-sha256 HEX] [-pull-secret FILE] [-policy P] URL")
		os.Exit(2)
	}
	quiet := log.DefaultOptions() // Istio's own logging goes to stderr; stdout is the answer
	quiet.OutputPaths = []string{"stderr"}
	quiet.SetDefaultOutputLevel("wasm", log.WarnLevel)
	_ = log.Configure(quiet)

	ref := flag.Arg(0)
	var secret []byte
	if *secretFile != "" {
		read, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		secret = read
	}
	got := answer{URL: ref}
	if u, err := url.Parse(ref); err == nil && u.Scheme == "oci" {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		fetcher := wasm.NewImageFetcher(ctx, wasm.ImageFetcherOption{PullSecret: secret, Insecure: true})
		if fetch, digest, err := fetcher.PrepareFetch(u.Host + u.Path); err == nil {
			got.ManifestDigest = digest
			if module, err := fetch(); err == nil {
				got.ModuleSHA256, got.ModuleSize = digestOf(module), len(module)
			}
		}
	}
	dir, err := os.MkdirTemp("", "wasmcheck-")
	if err != nil {
		got.Error = err.Error()
		say(got, 1)
	}
	defer os.RemoveAll(dir)
	// The agent's own defaults: a zero timeout or retry count would mean no HTTP attempt at all.
	cache := wasm.NewLocalFileCache(dir, wasm.Options{
		InsecureRegistries:    sets.New("*"),
		HTTPRequestTimeout:    wasm.DefaultHTTPRequestTimeout,
		HTTPRequestMaxRetries: wasm.DefaultHTTPRequestMaxRetries,
	})
	defer cache.Cleanup()
	path, err := cache.Get(ref, wasm.GetOptions{Checksum: *checksum, ResourceName: "wasmcheck", ResourceVersion: "1",
		RequestTimeout: *timeout, PullSecret: secret, PullPolicy: wasm.PullPolicyValues[*policy]})
	if err != nil {
		got.Error = err.Error()
		say(got, 1)
	}
	if module, err := os.ReadFile(path); err == nil {
		got.ModuleSHA256, got.ModuleSize = digestOf(module), len(module)
		if *out != "" {
			if err := os.WriteFile(*out, module, 0o644); err != nil {
				got.Error = err.Error()
				say(got, 1)
			}
		}
	}
	got.OK = true
	say(got, 0)
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func say(a answer, code int) {
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	_ = out.Encode(a)
	os.Exit(code)
}

package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// EtcdBin is Debian's etcd server (scripts/install-deps.sh installs
// etcd-server).
const EtcdBin = "/usr/bin/etcd"

// CheckEtcd says why EtcdBin cannot be run, or nil.
func CheckEtcd() error {
	if _, err := os.Stat(EtcdBin); err != nil {
		return fmt.Errorf("etcd server: %w (make deps installs etcd-server)", err)
	}
	return nil
}

// BuildPikaNode builds ./cmd/pika-node of this module into dir and returns
// the binary's path, unless PIKA_NODE_BIN names a binary to use instead.
// The binary is built with the race detector, so the multi-process suites
// (differential, wire, crash) also hunt data races in the real server.
// BuildPikaNode sets GORACE=halt_on_error=1 in this process's environment
// (unless GORACE is set), which the servers the suites start inherit: a
// race then kills the server at once, and the suite fails on a dead server.
// A suite calls it once, from its TestMain.
func BuildPikaNode(dir string) (string, error) {
	if bin := os.Getenv("PIKA_NODE_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "halt_on_error=1")
	}
	return build(dir, "pika-node", "-race")
}

// BuildPikactl builds ./cmd/pikactl into dir (without the race detector:
// it is a short-lived client) unless PIKACTL_BIN names one.
func BuildPikactl(dir string) (string, error) {
	if bin := os.Getenv("PIKACTL_BIN"); bin != "" {
		return filepath.Abs(bin)
	}
	return build(dir, "pikactl")
}

// build builds ./cmd/<name> of this module into dir/<name>.
func build(dir, name string, flags ...string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside the pika-node module")
	}
	bin := filepath.Join(dir, name)
	args := append(append([]string{"build"}, flags...), "-o", bin, "./cmd/"+name)
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin, nil
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// Flags, PIKA_* environment and the config file fill one struct, with
// precedence flag > environment > file > default.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pika.yaml")
	yaml := "port: 9300\ndata: /from/file\nblock-cache-mb: 64\ntimeout: 5s\nlog-level: warn\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PIKA_DATA", "/from/env")
	t.Setenv("PIKA_BLOCK_CACHE_MB", "128")
	v := viper.New()
	cmd := newStartCmd(v)
	if err := cmd.Flags().Parse([]string{"--config", file, "--block-cache-mb", "32"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(v, file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 9300 {
		t.Errorf("port = %d, want 9300 from the file", cfg.Port)
	}
	if cfg.Data != "/from/env" {
		t.Errorf("data = %q, want the environment's over the file's", cfg.Data)
	}
	if cfg.BlockCacheMB != 32 {
		t.Errorf("block-cache-mb = %d, want the flag's 32 over env and file", cfg.BlockCacheMB)
	}
	if cfg.Timeout != 5*time.Second || cfg.LogLevel != "warn" {
		t.Errorf("timeout %s, log-level %q: want 5s and warn from the file", cfg.Timeout, cfg.LogLevel)
	}
	if cfg.MaxClients != 10000 {
		t.Errorf("maxclients = %d, want the default", cfg.MaxClients)
	}
}

func TestConfigValidationListsEveryProblem(t *testing.T) {
	t.Setenv("PIKA_PORT", "0")
	t.Setenv("PIKA_LOG_LEVEL", "loud")
	v := viper.New()
	newStartCmd(v)
	_, err := loadConfig(v, "")
	if err == nil || !strings.Contains(err.Error(), "port 0") || !strings.Contains(err.Error(), "log-level") {
		t.Fatalf("err = %v, want both the port and the log level reported", err)
	}
}

package inferencekey_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

// captured is a slog handler keeping every record.
type captured struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	return nil
}
func (c *captured) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captured) WithGroup(string) slog.Handler      { return c }

func (c *captured) find(level slog.Level, substr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		if r.Level == level && strings.Contains(r.Message, substr) {
			return true
		}
	}
	return false
}

// Go has no warnings: a drift under OnDriftWarn is a warning record of the core's log, sent to
// the logger given to SetLogger. Not parallel: the logger is process-wide.
func TestDriftWarningIsLogged(t *testing.T) {
	var warned conformanceCase
	for _, c := range loadCases(t) {
		if c.Expect.Warning {
			warned = c
			break
		}
	}
	if warned.Name == "" {
		t.Fatal("no conformance case expects a drift warning")
	}
	h := &captured{}
	if err := inferencekey.SetLogger(slog.New(h)); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = inferencekey.SetLogger(nil) }()
	replay(t, warned, false)
	deadline := time.Now().Add(2 * time.Second)
	for !h.find(slog.LevelWarn, "on_drift=warn") {
		if time.Now().After(deadline) {
			t.Fatal("no warning record of the drift")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// INFERENCEKEY_LOG=debug sends the core's records to stderr; checked in a child process, as
// the variable is read once per process.
func TestLogFromEnv(t *testing.T) {
	out := runChild(t, "log", "INFERENCEKEY_LOG=Debug")
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "target=inferencekey.") {
		t.Fatalf("no debug record on stderr:\n%s", out)
	}
}

package inferencekey

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/inferencekey/inferencekey-sdk/go/internal/native"
)

// SetLogger sends the core's log records to logger: retries, ensure's decisions (a drift
// under OnDriftWarn is logged at warning level), readiness progress. Records are redacted by
// the core. Each becomes one slog record with the core's message and the attributes
// "target" and "fields". Levels the logger does not enable are never produced. Records are
// handed over through a queue, so a slow handler never stalls a call; when 1,024 wait, newer
// ones are dropped (DroppedLogRecords counts them). A nil logger turns logging off.
func SetLogger(logger *slog.Logger) error {
	envLogOnce.Do(func() {}) // an explicit logger wins over INFERENCEKEY_LOG
	return setLogger(logger)
}

func setLogger(logger *slog.Logger) error {
	if err := native.Load(); err != nil {
		return loadError(err)
	}
	if logger == nil {
		if info := native.SetLog(0, nil); info != nil {
			return errorFromNative(info)
		}
		return nil
	}
	logOnce.Do(func() { go drainLogs() })
	maxLevel := int32(0)
	for level, sl := range []slog.Level{slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug} {
		if logger.Enabled(context.Background(), sl) {
			maxLevel = int32(level + 1)
		}
	}
	logTarget.Store(logger)
	if info := native.SetLog(maxLevel, queueLog); info != nil {
		return errorFromNative(info)
	}
	return nil
}

// logFromEnv applies INFERENCEKEY_LOG once, when the library is first loaded: "debug" or
// "info" (any case) sends the core's records at that level to stderr, as in every binding,
// unless SetLogger was called first (which ends this Once); other values are ignored.
func logFromEnv() {
	envLogOnce.Do(func() {
		var level slog.Level
		switch strings.ToLower(strings.TrimSpace(os.Getenv("INFERENCEKEY_LOG"))) {
		case "debug":
			level = slog.LevelDebug
		case "info":
			level = slog.LevelInfo
		default:
			return
		}
		_ = setLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	})
}

var envLogOnce sync.Once

// DroppedLogRecords is how many core log records were dropped because the queue was full.
func DroppedLogRecords() uint64 { return droppedLogs.Load() }

type logRecord struct {
	level  int32
	record []byte
}

var (
	logOnce     sync.Once
	logQueue    = make(chan logRecord, 1024)
	logTarget   atomic.Pointer[slog.Logger]
	droppedLogs atomic.Uint64
)

// queueLog runs on the core's threads: it must not block.
func queueLog(level int32, record []byte) {
	select {
	case logQueue <- logRecord{level, record}:
	default:
		droppedLogs.Add(1)
	}
}

func drainLogs() {
	levels := [...]slog.Level{slog.LevelError, slog.LevelError, slog.LevelWarn, slog.LevelInfo, slog.LevelDebug}
	for r := range logQueue {
		logger := logTarget.Load()
		if logger == nil || r.level < 1 || int(r.level) >= len(levels) {
			continue
		}
		var rec struct {
			Target  string         `json:"target"`
			Message string         `json:"message"`
			Fields  map[string]any `json:"fields"`
		}
		if json.Unmarshal(r.record, &rec) != nil {
			continue
		}
		logger.Log(context.Background(), levels[r.level], rec.Message, "target", rec.Target, "fields", rec.Fields)
	}
}

// Command gobench measures the Go SDK against openai-go and a raw net/http keep-alive floor on
// the answerer of benches/run.sh (nginx serving canned OpenAI-compatible bodies), and writes
// the goal ratios as rows for benches/table.py:
//
//	go run . --base http://127.0.0.1:PORT --rows rows-go.json
//
// Per call: calls of the three clients alternate (ours, openai-go, floor, ours, ...), so the
// machine's drift hits all three alike; each ratio compares medians. A benchmark, not a test:
// it exits 0 whatever the ratios, and non-zero only when something is broken. Believe the
// numbers only on an idle machine (load average below 0.5).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	inferencekey "github.com/inferencekey/inferencekey-sdk/go"
)

const (
	project = "acme"
	slug    = "bench"
	// Like benches/bench.py's KEY: a well-formed ik_live_ key the answerer ignores.
	key = "ik_live_1a2b3c4d_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

type row struct {
	Path      string  `json:"path"`
	Ours      float64 `json:"ours"`
	Peer      string  `json:"peer"`
	PeerValue float64 `json:"peer_value"`
	Ratio     float64 `json:"ratio"`
	Goal      string  `json:"goal"`
	Unit      string  `json:"unit"`
}

func main() {
	base := flag.String("base", "", "the answerer's URL (benches/run.sh --serve)")
	rowsPath := flag.String("rows", "", "write the goal rows here (JSON)")
	calls := flag.Int("calls", 3000, "timed chat calls per client")
	embeds := flag.Int("embeds", 30, "timed 256x384 embeds per client")
	flag.Parse()
	if *base == "" {
		log.Fatal("--base is required")
	}
	ctx := context.Background()
	v1 := *base + "/endpoint/" + project + "/" + slug + "/v1/"
	inputs := make([]string, 256)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("Document %d: the quick brown fox jumps over the lazy dog, variation %d of the benchmark corpus.", i, i*7919%1000)
	}

	data, err := inferencekey.NewDataClient(inferencekey.WithBaseURL(*base), inferencekey.WithProject(project),
		inferencekey.WithAPIKey(key))
	must(err)
	defer data.Close()
	ep, err := data.Endpoint(slug)
	must(err)
	defer ep.Close()
	oai := openai.NewClient(option.WithBaseURL(v1), option.WithAPIKey(key))
	floorClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	chatBody := []byte(`{"model":"bench","messages":[{"role":"user","content":"Hi"}],"stream":false,"max_tokens":16}`)

	ours := func() {
		out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hi", MaxTokens: inferencekey.Int(16)})
		must(err)
		if out.Text == "" {
			log.Fatal("ours: empty text")
		}
	}
	// With a context that can end (a request's, a timeout's), the call takes the async path:
	// a cancel token and the shared runtime.
	oursCancellable := func() {
		c, cancel := context.WithCancel(ctx)
		defer cancel()
		out, err := ep.GenerateText(c, inferencekey.TextRequest{Prompt: "Hi", MaxTokens: inferencekey.Int(16)})
		must(err)
		if out.Text == "" {
			log.Fatal("ours: empty text")
		}
	}
	peer := func() {
		out, err := oai.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "bench",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")}, MaxTokens: openai.Int(16)})
		must(err)
		if len(out.Choices) == 0 || out.Choices[0].Message.Content == "" {
			log.Fatal("openai-go: empty text")
		}
	}
	floor := func() {
		req, _ := http.NewRequest(http.MethodPost, v1+"chat/completions", bytes.NewReader(chatBody))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := floorClient.Do(req)
		must(err)
		var out struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		must(err)
	}

	// Per call, interleaved after a warm-up.
	clients := []func(){ours, peer, floor, oursCancellable}
	samples := make([][]float64, len(clients))
	for i := 0; i < 300; i++ {
		for _, c := range clients {
			c()
		}
	}
	for i := 0; i < *calls; i++ {
		for j, c := range clients {
			t0 := time.Now()
			c()
			samples[j] = append(samples[j], float64(time.Since(t0).Microseconds()))
		}
	}
	callOurs, callPeer, callFloor := median(samples[0]), median(samples[1]), median(samples[2])
	callCancellable := median(samples[3])
	fmt.Printf("per call (median us): ours %.1f (cancellable context: %.1f), openai-go %.1f, net/http floor %.1f\n",
		callOurs, callCancellable, callPeer, callFloor)

	// Embed 256x384.
	embedOurs := timeMedian(*embeds, func() {
		out, err := ep.Embed(ctx, inferencekey.EmbedRequest{Input: inputs})
		must(err)
		if len(out.Embeddings) != 256 || len(out.Embeddings[0]) != 384 {
			log.Fatalf("ours: %d vectors", len(out.Embeddings))
		}
	})
	embedPeer := timeMedian(*embeds, func() {
		out, err := oai.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "bench",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs}})
		must(err)
		if len(out.Data) != 256 || len(out.Data[0].Embedding) != 384 {
			log.Fatalf("openai-go: %d vectors", len(out.Data))
		}
	})
	fmt.Printf("embed 256x384 (median ms): ours %.2f, openai-go %.2f\n", embedOurs, embedPeer)

	// 256 calls in flight together: the process's peak OS threads.
	threadsBefore := threads()
	peak := concurrent(256, 20, ours)
	fmt.Printf("256 concurrent calls: %d OS threads at peak (%d before)\n", peak, threadsBefore)

	rows := []row{
		{"go: per call (GenerateText)", callOurs, "openai-go", callPeer, callOurs / callPeer, "<= 1.0", "us"},
		{"go: per call (GenerateText)", callOurs, "net/http keep-alive floor", callFloor, callOurs / callFloor, "<= 1.5", "us"},
		{"go: per call, cancellable context", callCancellable, "openai-go", callPeer, callCancellable / callPeer, "<= 1.0", "us"},
		{"go: embed 256x384", embedOurs, "openai-go", embedPeer, embedOurs / embedPeer, "<= 0.5", "ms"},
		{"go: 256 concurrent calls, OS threads", float64(peak), "a thread per call", 256, float64(peak) / 256, "<= 0.25", "threads"},
	}
	if *rowsPath != "" {
		b, _ := json.MarshalIndent(rows, "", "  ")
		must(os.WriteFile(*rowsPath, b, 0o644))
	}
}

// concurrent runs n goroutines making calls calls each, sampling the OS thread count.
func concurrent(n, calls int, call func()) int {
	var peak atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < calls; j++ {
				call()
				if t := int64(threads()); t > peak.Load() {
					peak.Store(t)
				}
			}
		}()
	}
	wg.Wait()
	return int(peak.Load())
}

func timeMedian(n int, fn func()) float64 {
	fn() // warm-up
	var s []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		fn()
		s = append(s, float64(time.Since(t0).Microseconds())/1000)
	}
	return median(s)
}

func median(s []float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	return s[len(s)/2]
}

// threads is the process's OS thread count (Linux).
func threads() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}

func must(err error) {
	if err != nil {
		log.Fatalf("%+v", err)
	}
}

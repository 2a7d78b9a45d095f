#!/usr/bin/env bash
# The benchmarks: this SDK vs the public reference SDK, openai, httpx and a raw floor, on each
# path a user meets (per call, embed, threads, async, ...), all against one local nginx serving
# canned OpenAI-compatible bodies; ends with one table of every goal ratio (table.py). The Go
# SDK's rows (benches/go, against openai-go and a net/http floor) join the table when Go is
# installed.
#
#   bash benches/run.sh [--json FILE] [--rounds N] [any other option of `bench.py run`]
#   bash benches/run.sh --serve     # only the answerer, until interrupted (for profiling)
#   node benches/typescript/bench.mjs --base URL   # the TypeScript rows alone, on a served answerer
#
# Environment:
#   VENV        the SDK's virtual environment (default <repo>/.venv; made and built from
#               this checkout with maturin when missing)
#   PYTHON      the interpreter for the other environments (default: VENV's base python)
#   PORT        the answerer's port (default: a free one)
#
# Installs what it lacks: nginx (Debian), benches/.venv-ref (inferencekey==0.260725.739 from
# PyPI), benches/.venv-peers (openai, httpx, orjson). A benchmark, not a test: it exits 0 whatever the
# ratios, and non-zero only when something is broken.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
REF_VERSION="0.260725.739"
SERVE_ONLY=0
if [[ "${1:-}" == "--serve" ]]; then
    SERVE_ONLY=1
    shift
fi
log() { printf '==> %s\n' "$*" >&2; }

# ---- the SDK's environment ---------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "no SDK environment at $VENV: creating it and building the SDK (release)"
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install -q "maturin>=1.9,<2.0" "cffi>=1.17"
    (cd "$ROOT" && VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" develop --release -q)
fi
"$VENV/bin/python" -c "import inferencekey" 2>/dev/null || {
    log "inferencekey does not import in $VENV: building it (release)"
    "$VENV/bin/pip" install -q "maturin>=1.9,<2.0"
    (cd "$ROOT" && VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" develop --release -q)
}
# The other environments use the same CPython as the SDK's, so interpreters compare equally.
PYTHON="${PYTHON:-$("$VENV/bin/python" -c 'import sys; print(sys._base_executable)')}"

# ---- nginx -------------------------------------------------------------------------------
NGINX="$(command -v nginx || true)"
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z "$NGINX" ]]; then
    log "installing nginx (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nginx-light >/dev/null 2>&1 || apt-get install -y -qq nginx >/dev/null
    NGINX=/usr/sbin/nginx
fi

# ---- peer environments -------------------------------------------------------------------
REF="$HERE/.venv-ref"
if ! "$REF/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('inferencekey') != '$REF_VERSION')" 2>/dev/null; then
    log "creating $REF with inferencekey==$REF_VERSION"
    rm -rf "$REF"
    "$PYTHON" -m venv "$REF"
    "$REF/bin/pip" install -q --disable-pip-version-check "inferencekey==$REF_VERSION"
fi
PEERS="$HERE/.venv-peers"
if ! "$PEERS/bin/python" -c "import openai, httpx, orjson" 2>/dev/null; then
    log "creating $PEERS with openai, httpx and orjson"
    rm -rf "$PEERS"
    "$PYTHON" -m venv "$PEERS"
    "$PEERS/bin/pip" install -q --disable-pip-version-check openai httpx orjson
fi

# ---- the answerer ------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/ik-bench.XXXXXX)"
chmod 755 "$WORK"
NGINX_PID=""
cleanup() {
    if [[ -n "$NGINX_PID" ]]; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log "writing canned bodies"
"$PYTHON" "$HERE/bench.py" bodies --dir "$WORK"
chmod -R a+rX "$WORK/www"
mkdir -p "$WORK/tmp"
PORT="${PORT:-$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
BASE="http://127.0.0.1:$PORT"

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 2048; }
http {
    log_format bench '\$request \$status \$body_bytes_sent';
    access_log $WORK/access.log bench buffer=256k flush=1s;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    types { }
    default_type application/json;
    etag off;
    server_tokens off;
    server {
        listen 127.0.0.1:$PORT backlog=64;
        root $WORK/www;
        location /endpoint/ {
            add_header X-Request-Id \$request_id always;
            # The static module refuses POST with 405; serve the file as if it were a GET.
            error_page 405 =200 \$uri;
        }
        # bench_stream.py: the canned server-sent-event body.
        location /endpoint/acme/stream/ {
            default_type text/event-stream;
            add_header X-Request-Id \$request_id always;
            error_page 405 =200 \$uri;
        }
    }
}
EOF

log "starting nginx on $BASE (1 worker)"
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -s -o /dev/null "$BASE/" 2>/dev/null && break
    sleep 0.1
done

# ---- check the answers -------------------------------------------------------------------
check() {
    local path="$1" want="$2" out
    out="$(curl -sS -D "$WORK/headers" -X POST -H 'Content-Type: application/json' \
        -d '{"model":"bench","input":"x"}' "$BASE$path")"
    grep -q '^HTTP/1.1 200' "$WORK/headers" || { cat "$WORK/headers" >&2; exit 1; }
    grep -qi '^x-request-id: [0-9a-f]\{32\}' "$WORK/headers" || { log "no X-Request-Id"; exit 1; }
    grep -qi '^content-type: application/json' "$WORK/headers" || { log "bad type"; exit 1; }
    "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); assert $want, d" <<<"$out"
    log "POST $path: 200, $(wc -c <<<"$out") bytes, X-Request-Id present"
}
check /endpoint/acme/bench/v1/chat/completions 'd["choices"][0]["message"]["content"]'
check /endpoint/acme/bench/v1/embeddings 'len(d["data"]) == 256 and len(d["data"][0]["embedding"]) == 384'
# Keep-alive: two requests on one connection must reuse it.
if curl -sv -o /dev/null -o /dev/null -X POST -d '{}' "$BASE/endpoint/acme/bench/v1/chat/completions" \
    "$BASE/endpoint/acme/bench/v1/chat/completions" 2>&1 | grep -q 'Re-using existing connection'; then
    log "keep-alive: connection reused"
else
    log "keep-alive: curl did not report reuse (continuing)"
fi

# ---- run ---------------------------------------------------------------------------------
if [[ "$SERVE_ONLY" == 1 ]]; then
    log "serving on $BASE until interrupted; e.g. in another shell:"
    log "  $VENV/bin/python $HERE/bench.py profile --client ours --base $BASE"
    wait "$NGINX_PID"
    exit 0
fi
log "python: $("$VENV/bin/python" -V) (SDK), $("$REF/bin/python" -V) (reference), $("$PEERS/bin/python" -V) (peers); $(nproc) CPUs"
# Every benchmark writes its goal ratios to $WORK/rows-*.json; table.py prints them as one table.
"$PEERS/bin/python" "$HERE/bench.py" run --base "$BASE" --rows "$WORK/rows-call.json" \
    --py-ours "$VENV/bin/python" --py-ref "$REF/bin/python" --py-peers "$PEERS/bin/python" "$@"
# 8 threads making blocking calls on one shared endpoint: throughput against the reference SDK.
"$PEERS/bin/python" "$HERE/bench_threads.py" run --base "$BASE" --json "$WORK/rows-threads.json" \
    --py-ours "$VENV/bin/python" --py-ref "$REF/bin/python"
# Async: 256 concurrent calls through AsyncDataClient against openai.AsyncOpenAI.
"$PEERS/bin/python" "$HERE/bench_async.py" run --base "$BASE" \
    --py-ours "$VENV/bin/python" --py-peers "$PEERS/bin/python"

# ---- import and memory (bench_import.py) -------------------------------------------------
# Start-up (import + both clients) and VmRSS after 10k calls, against the reference SDK.
"$PEERS/bin/python" "$HERE/bench_import.py" run --base "$BASE" \
    --py-ours "$VENV/bin/python" --py-ref "$REF/bin/python" --json "$WORK/rows-import.json"

# ---- embed numpy view (2048x1024) and the async floor (2,000 calls at concurrency 64) ----
"$PYTHON" "$HERE/bench_embed_numpy.py" body --dir "$WORK"
chmod -R a+rX "$WORK/www"
"$PEERS/bin/python" "$HERE/bench_embed_numpy.py" run --base "$BASE" --py-ours "$VENV/bin/python" \
    --py-ref "$REF/bin/python" --py-peers "$PEERS/bin/python" --json "$WORK/rows-embed-numpy.json"
"$PEERS/bin/python" "$HERE/bench_async_floor.py" run --base "$BASE" \
    --py-ours "$VENV/bin/python" --py-peers "$PEERS/bin/python" --json "$WORK/rows-async-floor.json"

# ---- streams (bench_stream.py): time to first chunk and per chunk ------------------------
"$PYTHON" "$HERE/bench_stream.py" body --dir "$WORK"
chmod -R a+rX "$WORK/www"
"$PEERS/bin/python" "$HERE/bench_stream.py" run --base "$BASE" \
    --py-ours "$VENV/bin/python" --py-ref "$REF/bin/python" --py-peers "$PEERS/bin/python" \
    --json "$WORK/rows-stream.json"

# ---- ensure() no-op against 1,000 listed workloads (bench_ensure.py) ----------------------
# The list is one GET of a fixed path: nginx serves it as a static file from the same root.
"$PYTHON" "$HERE/bench_ensure.py" bodies --dir "$WORK"
chmod -R a+rX "$WORK/www"
"$PEERS/bin/python" "$HERE/bench_ensure.py" run --base "$BASE" --py-ours "$VENV/bin/python" \
    --py-ref "$REF/bin/python" --py-peers "$PEERS/bin/python" --json "$WORK/rows-ensure.json"

# ---- TypeScript (benches/typescript): per call, embed 256x384, 256 concurrent --------------
# @inferencekey/sdk against openai-node and a raw node:http keep-alive floor on this answerer;
# needs Node.js, the built typescript/ package and the library it loads (INFERENCEKEY_LIB,
# default target/release/libinferencekey.so). Skipped, saying so, without Node.js.
if command -v node >/dev/null; then
    (cd "$ROOT/typescript" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
    (cd "$HERE/typescript" && npm ci --no-audit --no-fund --loglevel=error)
    INFERENCEKEY_LIB="${INFERENCEKEY_LIB:-$ROOT/target/release/libinferencekey.so}" \
        node "$HERE/typescript/bench.mjs" --base "$BASE" --rows "$WORK/rows-ts.json"
else
    log "no node on PATH: TypeScript rows skipped"
fi

# ---- Java (benches/java): per call and embed against openai-java and a java.net.http floor --
if command -v mvn >/dev/null && command -v java >/dev/null; then
    bash "$HERE/java/run.sh" --base "$BASE" --rows "$WORK/rows-java.json"
else
    log "no Java/Maven: skipping benches/java"
fi

# ---- Go (benches/go): the Go SDK against openai-go and a net/http keep-alive floor -------
# With the library of the SDK's wheel (INFERENCEKEY_LIB); left out when Go is not installed.
if command -v go >/dev/null; then
    GO_LIB="$("$VENV/bin/python" -c 'import glob, os, inferencekey; print(glob.glob(os.path.join(os.path.dirname(inferencekey.__file__), "_native", "lib_native.*"))[0])')"
    (cd "$HERE/go" && INFERENCEKEY_LIB="$GO_LIB" go run . --base "$BASE" --rows "$WORK/rows-go.json")
else
    log "no go on PATH: the Go benchmark is left out"
fi

"$PEERS/bin/python" "$HERE/table.py" "$WORK"/rows-*.json

# What the answerer saw, per path and status (a client that retried or failed shows here).
kill -USR1 "$NGINX_PID" 2>/dev/null || true  # reopen the logs: flushes the buffered access log
sleep 0.3
log "requests served (method path status):"
awk '{print "    " $1, $2, $4}' "$WORK/access.log" | sort | uniq -c | sort -rn >&2 || true

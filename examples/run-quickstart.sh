#!/usr/bin/env bash
# The main job: install everything, start the local platform (real CPU models), declare the
# chat and embedding workloads, run examples/quickstart.py against them, stop everything.
# The wheel without the profile-guided pass (tests/env.sh): the same code, minutes sooner.
IK_PGO=0 source "$(dirname "${BASH_SOURCE[0]}")/../tests/env.sh"
cd "$ROOT"
exec "$VENV/bin/inferencekey" dev --project acme --temp --port 0 -- \
    sh -c '"$0" examples/declare_workloads.py && "$0" examples/quickstart.py' "$VENV/bin/python"

#!/usr/bin/env bash
# Make a throwaway virtual environment holding the OpenNMT-py peer for `attnscope bench`.
#
# OpenNMT-py 3.5.1 needs torch<2.3, which clashes with AttnScope's own torch, so the
# peer lives in its own venv OUTSIDE the project's dependencies. The bench runs
# benchmarks/opennmt_peer.py with this venv's python as a subprocess.
#
#   bash benchmarks/setup_opennmt_peer.sh            # venv at $ATTNSCOPE_PEER_VENV
#                                                    # (default ~/.cache/attnscope-peer/venv)
# The pip output goes to <venv>/../setup.log; the bench quotes its error lines
# when the peer could not be installed.
set -uo pipefail

VENV="${ATTNSCOPE_PEER_VENV:-$HOME/.cache/attnscope-peer/venv}"
PYTHON="${PEER_PYTHON:-python3.11}"
LOG="$(dirname "$VENV")/setup.log"
mkdir -p "$(dirname "$VENV")"

{
    echo "# $(date -u +%FT%TZ) setting up $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV" &&
        "$VENV/bin/python" -m pip install --upgrade pip &&
        "$VENV/bin/python" -m pip install 'OpenNMT-py==3.5.1' 'torch<2.3' 'numpy<2' &&
        "$VENV/bin/python" -c "import onmt, torch; print('peer ready: OpenNMT-py', onmt.__version__, 'torch', torch.__version__)"
} >"$LOG" 2>&1
status=$?
tail -n 5 "$LOG"
if [ "$status" -ne 0 ]; then
    echo "OpenNMT-py peer setup FAILED (exit $status); see $LOG" >&2
fi
exit "$status"

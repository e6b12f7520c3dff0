#!/usr/bin/env bash
# User-space instructions per echo message of each server, counted by callgrind (stable on a
# noisy machine, unlike time). Usage: benches/profile.sh [SIZE] [PEERS...]
# Default: 64-byte messages, peers quartet raw tokio-ct monoio compio; QB_CONNS=1000 for the
# many-connections row (peers quartet-pooled and raw-tuned too).
# Each server runs under callgrind pinned to core 0; the bench client (core 1) drives 100
# connections for a first window (discarded: startup, accept), then for a second window whose
# instruction count is divided by the round trips the client completed in it.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
shift || true
peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(quartet raw tokio-ct monoio compio)
cargo build --release -p quartet-benches >/dev/null 2>&1
bin=${CARGO_TARGET_DIR:-target}/release/quartet-benches
out=$(mktemp -d)
for peer in "${peers[@]}"; do
    valgrind --tool=callgrind --callgrind-out-file="$out/cg.$peer.%p" "$bin" serve "$peer" 0 >"$out/$peer.port" 2>"$out/$peer.vg" &
    vg=$!
    for _ in $(seq 100); do grep -q PORT "$out/$peer.port" 2>/dev/null && break; sleep 0.1; done
    port=$(awk '/PORT/{print $2}' "$out/$peer.port")
    "$bin" once echo-tput "$peer" port="$port" pid="$vg" size="$size" conns="${QB_CONNS:-100}" warmup_ms=0 window_ms=1500 >/dev/null
    callgrind_control -d "$vg" >/dev/null
    res=$("$bin" once echo-tput "$peer" port="$port" pid="$vg" size="$size" conns="${QB_CONNS:-100}" warmup_ms=200 window_ms=3000)
    callgrind_control -d "$vg" >/dev/null
    sleep 0.5
    kill -9 "$vg" 2>/dev/null || true
    wait "$vg" 2>/dev/null || true
    msgs=$(echo "$res" | sed -n 's/.*total_msgs=\([0-9.]*\).*/\1/p')
    last=$(ls -t "$out"/cg."$peer".*.2 2>/dev/null | head -1 || true)
    [[ -n "$last" ]] || last=$(ls -t "$out"/cg."$peer".* | head -1)
    ir=$(callgrind_annotate "$last" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
    # The second dump covers the second client run: connect, every round trip, disconnect.
    echo "$peer: $ir instructions for $msgs round trips" >>"$out/summary"
    echo "$peer  $(python3 -c "print(round($ir/$msgs))") user-space instructions per message" | tee -a "$out/summary"
done
echo "callgrind files in $out"

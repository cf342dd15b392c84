#!/usr/bin/env bash
# Measures how a router of the running test bed maps ports: probe.sh home|hotel
# The device behind it sends from one local port to two servers on the internet (relay and
# stun); if both see the same public port the mapping is endpoint-independent ("cone"),
# otherwise endpoint-dependent ("symmetric"). Prints the probe's JSON; exit 0.
set -euo pipefail
cd "$(dirname "$0")" && source ./lib.sh
node="${NODE:-node}"
case "${1:-}" in
  home) device="$NS_HOME" ;;
  hotel) device="$NS_HOTEL" ;;
  *) die "usage: probe.sh home|hotel" ;;
esac
port=4999
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# ip netns exec replaces itself with node, so $! is the server's own pid.
ip netns exec "$NS_RELAY" "$node" nat-probe.mjs serve "$RELAY_IP" $port & pids+=($!)
ip netns exec "$NS_STUN" "$node" nat-probe.mjs serve "$STUN_IP" $port & pids+=($!)
sleep 0.5
in_ns "$device" "$node" nat-probe.mjs ask $((20000 + RANDOM % 20000)) "$RELAY_IP:$port" "$STUN_IP:$port"

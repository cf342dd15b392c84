#!/usr/bin/env bash
# Tears the NAT test bed down: stops what runs in its namespaces and deletes them. Idempotent:
# safe to run when nothing (or only part) is up. Touches only namespaces with our prefix.
set -u
cd "$(dirname "$0")" && source ./lib.sh

for n in "${ALL_NS[@]}"; do
  ns_exists "$n" || continue
  # Processes still running inside (nodes, coturn, probes) would keep nothing alive, but killing
  # them by namespace is the only way to be sure they are ours.
  for pid in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
done
sleep 0.2
for n in "${ALL_NS[@]}"; do
  ns_exists "$n" || continue
  for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  ip netns del "$n" 2>/dev/null || true
done
rm -rf "$RUN_DIR"
exit 0

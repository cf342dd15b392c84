#!/usr/bin/env bash
# Breaks (on) or mends (off) the direct path between home and hotel: cut.sh on|off|dropped
# The hotel router drops every packet between its public address and the home router's, in a
# table of its own, so a hole-punched connection between the devices stops carrying anything
# (as when the hotel's network changes under a call) while their paths to the relay and to the
# STUN server stay up. Idempotent; touches only the hotel router's namespace. `dropped` prints
# how many packets the cut has dropped so far (0 when it is off).
set -euo pipefail
cd "$(dirname "$0")" && source ./lib.sh

ns_exists "$NS_HOTEL_ROUTER" || die "the test bed is not up"
if [ "${1:-}" = dropped ]; then
  in_ns "$NS_HOTEL_ROUTER" nft list counter ip cloudless_cut dropped 2>/dev/null |
    awk '/packets/ { for (i=1;i<=NF;i++) if ($i=="packets") { print $(i+1); found=1 } } END { if (!found) print 0 }'
  exit 0
fi
in_ns "$NS_HOTEL_ROUTER" nft delete table ip cloudless_cut 2>/dev/null || true
case "${1:-}" in
  on)
    in_ns "$NS_HOTEL_ROUTER" nft -f - <<NFT
table ip cloudless_cut {
  counter dropped {}
  chain forward {
    type filter hook forward priority -10; policy accept;
    ip saddr $HOME_WAN_IP counter name dropped drop
    ip daddr $HOME_WAN_IP counter name dropped drop
  }
}
NFT
    ;;
  off) ;;
  *) die "usage: cut.sh on|off" ;;
esac

#!/usr/bin/env bash
# Sets the NAT behaviour of one router of the test bed: nat.sh home|hotel cone|symmetric
# Replaces the router's nftables table; connections already tracked keep their old mapping.
set -euo pipefail
cd "$(dirname "$0")" && source ./lib.sh

case "${1:-}" in
  home) router="$NS_HOME_ROUTER" ;;
  hotel) router="$NS_HOTEL_ROUTER" ;;
  *) die "usage: nat.sh home|hotel cone|symmetric" ;;
esac
case "${2:-}" in
  # Linux keeps the source port when it can, so one socket keeps one public port for every
  # destination: endpoint-independent mapping ("cone"); conntrack lets in only replies.
  cone) masq="masquerade" ;;
  # A new random public port for every connection: endpoint-dependent mapping ("symmetric").
  symmetric) masq="masquerade fully-random" ;;
  *) die "usage: nat.sh home|hotel cone|symmetric" ;;
esac
in_ns "$router" nft delete table ip cloudless_nat 2>/dev/null || true
in_ns "$router" nft -f - <<NFT
table ip cloudless_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" $masq
  }
  # Unsolicited packets from the internet are dropped before conntrack confirms an entry for them:
  # an entry for a peer's early hole-punching packet would otherwise take the public port that
  # the device's own packet to that peer needs, and Linux would map it to another port
  # (measured: ICE between two cone NATs failed every time without this rule).
  chain prerouting {
    type filter hook prerouting priority -150; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" accept
  }
}
NFT

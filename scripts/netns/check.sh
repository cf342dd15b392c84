#!/usr/bin/env bash
# Tells whether this machine can run the NAT test bed. Exit 0 and prints "ok", or exit 1 and
# prints the reason on one line (the tests print it when they skip).
set -u
cd "$(dirname "$0")" && source ./lib.sh

[ "$(id -u)" = 0 ] || { echo "not root (network namespaces need root)"; exit 1; }
command -v ip >/dev/null || { echo "iproute2 (ip) is not installed"; exit 1; }
command -v nft >/dev/null || { echo "nftables (nft) is not installed"; exit 1; }
probe="${NETNS_PREFIX}-check$$"
if ! ip netns add "$probe" 2>/dev/null; then echo "cannot create network namespaces (ip netns add failed)"; exit 1; fi
trap 'ip netns del "$probe" 2>/dev/null' EXIT
ip -n "$probe" link add name va type veth peer name vb 2>/dev/null || { echo "cannot create veth pairs in a namespace"; exit 1; }
in_ns "$probe" nft add table ip probe 2>/dev/null || { echo "nftables does not work in a namespace (nf_tables module?)"; exit 1; }
in_ns "$probe" nft add chain ip probe post '{ type nat hook postrouting priority 100; }' 2>/dev/null \
  || { echo "nftables NAT does not work in a namespace (nft_nat / nft_masq modules?)"; exit 1; }
in_ns "$probe" sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || { echo "cannot enable forwarding inside a namespace"; exit 1; }
echo ok

#!/usr/bin/env bash
# Builds the NAT test bed (see lib.sh for the picture). Everything lives in network namespaces
# named $CLOUDLESS_NETNS_PREFIX-* (default clnat-*): veth pairs are created inside them, NAT and
# forwarding are set inside them, and the host's own interfaces, firewall and sysctls are untouched.
#
#   up.sh [--home cone|symmetric] [--hotel cone|symmetric] [--no-stun]
#
# cone:      nft masquerade, port preserving: one internal ip:port keeps one public port whatever
#            the destination (endpoint-independent mapping); replies only from where it sent to.
# symmetric: nft masquerade fully-random: every new destination gets a new random public port.
# probe.sh measures which one a router really is. A STUN/TURN server (coturn, if installed) runs
# on stun (203.0.114.20:3478, user cloudless / password cloudless).
# On any failure the half-built bed is torn down again.
set -euo pipefail
cd "$(dirname "$0")" && source ./lib.sh

home_mode=cone hotel_mode=cone stun=1
while [ $# -gt 0 ]; do
  case "$1" in
    --home) home_mode="$2"; shift 2 ;;
    --hotel) hotel_mode="$2"; shift 2 ;;
    --no-stun) stun=0; shift ;;
    *) die "unknown option $1 (see the comment at the top of up.sh)" ;;
  esac
done

reason="$(bash ./check.sh)" || die "this machine cannot run the test bed: $reason"
bash ./down.sh
trap 'echo "netns: up failed; tearing down" >&2; bash ./down.sh' ERR

for n in "${ALL_NS[@]}"; do
  ip netns add "$n"
  ip -n "$n" link set lo up
done

# The internet: one bridge; each host on it gets a veth whose other end is a bridge port.
ip -n "$NS_INET" link add name br0 type bridge
ip -n "$NS_INET" link set br0 up
attach_inet() { # <namespace> <short name> <ip>
  ip -n "$NS_INET" link add name "p-$2" type veth peer name wan netns "$1"
  ip -n "$NS_INET" link set "p-$2" master br0 up
  ip -n "$1" addr add "$3/24" dev wan
  ip -n "$1" link set wan up
}
attach_inet "$NS_RELAY" relay "$RELAY_IP"
attach_inet "$NS_STUN" stun "$STUN_IP"
attach_inet "$NS_HOME_ROUTER" homer "$HOME_WAN_IP"
attach_inet "$NS_HOTEL_ROUTER" hotelr "$HOTEL_WAN_IP"

# A LAN: a router namespace with "lan" and one device behind it.
lan() { # <router ns> <device ns> <lan prefix> <device ip>
  ip -n "$1" link add name lan type veth peer name eth0 netns "$2"
  ip -n "$1" addr add "$3.1/24" dev lan
  ip -n "$1" link set lan up
  ip -n "$2" addr add "$4/24" dev eth0
  ip -n "$2" link set eth0 up
  ip -n "$2" route add default via "$3.1"
  in_ns "$1" sysctl -qw net.ipv4.ip_forward=1
}
lan "$NS_HOME_ROUTER" "$NS_HOME" "$HOME_LAN" "$HOME_IP"
lan "$NS_HOTEL_ROUTER" "$NS_HOTEL" "$HOTEL_LAN" "$HOTEL_IP"

bash ./nat.sh home "$home_mode"
bash ./nat.sh hotel "$hotel_mode"

# Byte counters on the relay's link, to tell whether a stream still goes through it.
in_ns "$NS_RELAY" nft -f - <<NFT
table inet cloudless_bed {
  counter relay_in {}
  counter relay_out {}
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "wan" counter name relay_in
  }
  chain output {
    type filter hook output priority 0; policy accept;
    oifname "wan" counter name relay_out
  }
}
NFT

mkdir -p "$RUN_DIR"
if [ "$stun" = 1 ] && command -v turnserver >/dev/null; then
  # setsid: coturn must not die with this script's session; down.sh kills it by namespace.
  setsid ip netns exec "$NS_STUN" turnserver -n --listening-ip="$STUN_IP" --listening-port=3478 \
    --relay-ip="$STUN_IP" --no-tls --no-dtls --no-cli --fingerprint --lt-cred-mech \
    --user=cloudless:cloudless --realm=cloudless --pidfile="$RUN_DIR/turnserver.pid" \
    --log-file="$RUN_DIR/turnserver.log" --simple-log </dev/null >/dev/null 2>&1 &
fi

# Reachability check without ping (not always installed): a TCP connect to a closed port of the
# relay is refused at once when the path works, and times out when it does not.
reaches() { # <namespace> <ip>
  local out
  out="$(in_ns "$1" timeout 3 bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)" && return 0
  [[ "$out" == *"refused"* ]]
}
reaches "$NS_HOME" "$RELAY_IP" || { bash ./down.sh; die "home cannot reach the relay"; }
reaches "$NS_HOTEL" "$RELAY_IP" || { bash ./down.sh; die "hotel cannot reach the relay"; }
# And the internet cannot reach into a LAN (no route, and the routers forward only replies).
if reaches "$NS_RELAY" "$HOME_IP"; then bash ./down.sh; die "the relay reaches the home LAN: NAT broken"; fi
trap - ERR
echo "netns: up (prefix $NETNS_PREFIX, home NAT $home_mode, hotel NAT $hotel_mode)"

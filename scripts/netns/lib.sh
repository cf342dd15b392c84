# Shared names and addresses of the NAT test bed. Sourced by the other scripts.
#
#            internet 203.0.114.0/24 (a bridge in its own namespace)
#     +--------------+-------------+-------------+-------------+
#   relay .10      stun .20    home router .2   hotel router .3
#                                  | NAT            | NAT
#                         home LAN 192.168.1.0/24   hotel LAN 10.0.2.0/24
#                          home device .10          hotel device .10
#
# The "internet" uses addresses outside every private and documentation range (203.0.114.0/24 is
# next to TEST-NET-3): libp2p treats private addresses as unreachable from outside (DCUtR and
# AutoNAT skip them), so a test bed on 10/8 would not behave like the real internet. Nothing here
# is routed off the machine: these namespaces have no link to the host's own network.

# Every namespace name starts with this prefix, so nothing else on the machine is touched.
NETNS_PREFIX="${CLOUDLESS_NETNS_PREFIX:-clnat}"

ns() { echo "${NETNS_PREFIX}-$1"; }

NS_INET="$(ns inet)"
NS_RELAY="$(ns relay)"
NS_STUN="$(ns stun)"
NS_HOME_ROUTER="$(ns homer)"
NS_HOME="$(ns home)"
NS_HOTEL_ROUTER="$(ns hotelr)"
NS_HOTEL="$(ns hotel)"
ALL_NS=("$NS_HOME" "$NS_HOTEL" "$NS_HOME_ROUTER" "$NS_HOTEL_ROUTER" "$NS_RELAY" "$NS_STUN" "$NS_INET")

INET_NET=203.0.114
RELAY_IP=$INET_NET.10
STUN_IP=$INET_NET.20
HOME_WAN_IP=$INET_NET.2
HOTEL_WAN_IP=$INET_NET.3
HOME_LAN=192.168.1
HOTEL_LAN=10.0.2
HOME_IP=$HOME_LAN.10
HOTEL_IP=$HOTEL_LAN.10

# Where coturn keeps its pid and log (per prefix, so two test beds do not collide).
RUN_DIR="${CLOUDLESS_NETNS_RUN:-/tmp/${NETNS_PREFIX}-run}"

die() { echo "netns: $*" >&2; exit 1; }
in_ns() { local n="$1"; shift; ip netns exec "$n" "$@"; }
ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }

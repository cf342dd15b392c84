#!/usr/bin/env bash
# Prints the bytes that went in and out of the relay's internet link: {"in":N,"out":N}
set -euo pipefail
cd "$(dirname "$0")" && source ./lib.sh
bytes() { in_ns "$NS_RELAY" nft list counter inet cloudless_bed "$1" | awk '/bytes/ { for (i=1;i<=NF;i++) if ($i=="bytes") print $(i+1) }'; }
echo "{\"in\":$(bytes relay_in),\"out\":$(bytes relay_out)}"

#!/bin/bash
# The lab node's iptables, for what the migration reads: `iptables -t nat -S [CHAIN]` prints the node's NAT rules
# (one per VM port, as the record's node maps 10200 -> VM:22, 10201 -> VM:18080, 10202 -> VM:18789) from the rules
# file the lab seeded. Anything else is refused: the lab never changes the host's real packet filter.
set -euo pipefail
rules=/etc/openclaw-lab/iptables-nat.rules
if [ "${1:-}" = -t ] && [ "${2:-}" = nat ] && [ "${3:-}" = -S ] && [ $# -le 4 ]; then
  if [ $# -eq 3 ]; then
    printf -- '-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n'
    cat "$rules"
  else
    case $4 in
      PREROUTING | INPUT | OUTPUT | POSTROUTING) printf -- '-P %s ACCEPT\n' "$4" ;;
      *) echo "iptables: No chain/target/match by that name." >&2; exit 1 ;;
    esac
    awk -v chain="$4" '$2 == chain' "$rules"
  fi
  exit 0
fi
echo "iptables (lab): only 'iptables -t nat -S [CHAIN]' is simulated" >&2
exit 2

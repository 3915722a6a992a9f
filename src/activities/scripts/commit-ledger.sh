# On the node, after the migration (SOP §2.3, "串行提交"): the VM's row in the node's bot ledger, with its NAT
# mappings and port block as `iptables -t nat -S` shows them. NAT rules are only read. Every commit is logged in
# <ledger>.log between a begin and an end line, so the serialisation can be audited.
# $1 ledger, $2 vmid, $3 ip, $4 mode, $5 note, $6 panel front port, $7 gateway front port.
set -euo pipefail
umask 077
ledger=$1 vmid=$2 ip=$3 mode=$4 note=${5//[$'\t\n\r']/ } panel_front=$6 gateway_front=$7
stamp() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
echo "$(stamp) begin vmid=$vmid mode=$mode" >>"$ledger.log"
nat=$(iptables -t nat -S PREROUTING | IP="$ip" awk '
  { dport = ""; dest = ""
    for (i = 1; i < NF; i++) { if ($i == "--dport") dport = $(i + 1); if ($i == "--to-destination") dest = $(i + 1) } }
  dport != "" && index(dest, ENVIRON["IP"] ":") == 1 { print dport, substr(dest, length(ENVIRON["IP"]) + 2) }')
external_for() { awk -v port="$1" '$2 == port { print $1; exit }' <<<"$nat"; }
block=$(awk 'NR == 1 || $1 < min { min = $1 } END { print min }' <<<"$nat")
row=$(printf '%s\t' "$vmid" "$ip" "$block" "$(external_for 22)" "$(external_for "$panel_front")" \
  "$(external_for "$gateway_front")" "$mode" "$(stamp)"; printf '%s' "$note")
[ -s "$ledger" ] || printf 'vmid\tip\tport_block\tssh_port\tpanel_port\tgateway_port\tmode\tupdated_at\tnote\n' >"$ledger"
next=$(mktemp "$ledger.XXXXXX")
ROW=$row VMID=$vmid awk -F '\t' '
  NR == 1 { print; next }
  $1 == ENVIRON["VMID"] { if (!done) print ENVIRON["ROW"]; done = 1; next }
  { print }
  END { if (!done) print ENVIRON["ROW"] }' "$ledger" >"$next"
chmod --reference="$ledger" "$next"
mv "$next" "$ledger"
awk 'NF == 2 { print "nat=" $1 ":" $2 }' <<<"$nat"
echo "row=$row"
echo "$(stamp) end vmid=$vmid" >>"$ledger.log"

# discover, on the node, read-only: its VMs (`qm list`, each one's `qm config`), its NAT rules and its bot ledger.
# $1 = the ledger's path. Each part follows a line `### <part> [<vmid>]`; qm's and iptables' own words as they are.
set -u
list=$(qm list) || exit 1
echo '### list'
printf '%s\n' "$list"
awk 'NR > 1 { print $1 }' <<<"$list" | while read -r vmid; do
  echo "### config $vmid"
  qm config "$vmid" 2>&1 || echo "### config-failed $vmid"
done
echo '### nat'
iptables -t nat -S 2>&1 || echo '### nat-failed'
echo '### ledger'
if [ -e "$1" ]; then cat -- "$1"; fi

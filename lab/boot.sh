#!/bin/bash
# Boots one lab machine (the node or a guest). Runs as root inside the namespaces `lab up` made with unshare:
# always a new mount namespace; for a guest also new pid (this script is PID 1), net, uts and ipc namespaces.
#
# Every value arrives in the environment, never in this text:
#   LAB_ROLE        node | guest
#   LAB_MACHINE_DIR host directory of this machine: seed/ (files laid over the root), merged/ (mount point)
#   LAB_DISK_SIZE   size of the machine's disk (a tmpfs holding the overlay's upper layer), e.g. 2g
#   LAB_HOSTNAME    host name (guests)
#   LAB_TOOLS_DIR   the lab's programs, bind-mounted read-only at /run/openclaw-lab
#   LAB_RUN_DIR     the lab's shared sockets (guest agents, release server), bind-mounted at /run/openclaw-lab-run
#   LAB_FAULTS_DIR  this guest's injected faults, bind-mounted read-only at /run/openclaw-lab-faults
set -euo pipefail

machine=$LAB_MACHINE_DIR
disk=$machine/disk
merged=$machine/merged

mount --make-rprivate /
mkdir -p "$disk" "$merged"
mount -t tmpfs -o "size=$LAB_DISK_SIZE,mode=0755" "lab-disk" "$disk"
mkdir -p "$disk/upper" "$disk/work"
cp -a "$machine/seed/." "$disk/upper/"

# Directories a fresh machine has of its own, not the host's: opaque in the upper layer.
private_dirs=(root home data opt srv usr/local var/log var/lib/docker etc/systemd/system etc/openclaw-panel usr/lib/node_modules)
for dir in "${private_dirs[@]}"; do
  mkdir -p "$disk/upper/$dir"
  /usr/bin/python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")' "$disk/upper/$dir"
done
mkdir -p "$disk"/upper/usr/local/{bin,sbin,lib,share,include,etc,src}
# The host's Node.js is not the machine's: a Docker-era VM has no node until phase D installs one (whiteouts).
for hidden in usr/bin/node usr/bin/npm usr/bin/npx usr/bin/corepack etc/nginx/sites-enabled/default; do
  mkdir -p "$(dirname "$disk/upper/$hidden")"
  [ -e "$disk/upper/$hidden" ] || mknod "$disk/upper/$hidden" c 0 0
done

mount -t overlay overlay -o "lowerdir=/,upperdir=$disk/upper,workdir=$disk/work" "$merged"
mount -t tmpfs -o mode=0755 run "$merged/run"
mount -t tmpfs -o mode=1777 tmp "$merged/tmp"
mkdir -p "$merged/run/openclaw-lab" "$merged/run/openclaw-lab-run" "$merged/run/openclaw-lab-faults"
mount --bind "$LAB_TOOLS_DIR" "$merged/run/openclaw-lab"
mount -o remount,bind,ro "$merged/run/openclaw-lab"
mount --bind "$LAB_RUN_DIR" "$merged/run/openclaw-lab-run"
if [ -n "${LAB_FAULTS_DIR:-}" ]; then
  mount --bind "$LAB_FAULTS_DIR" "$merged/run/openclaw-lab-faults"
fi
mount --rbind /dev "$merged/dev"

cd "$merged"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
mount -t proc proc /proc
mount -t sysfs sysfs /sys 2>/dev/null || mount --rbind /.oldroot/sys /sys
umount -l /.oldroot
rmdir /.oldroot

case "$LAB_ROLE" in
  node)
    mkdir -p /run/qemu-server /run/sshd
    mount --bind /run/openclaw-lab-run/qemu-server /run/qemu-server
    exec /usr/sbin/sshd -D -e -f /etc/openclaw-lab/sshd_config
    ;;
  guest)
    hostname "$LAB_HOSTNAME"
    ip link set lo up
    exec /usr/bin/tini -s -g -- /bin/bash /run/openclaw-lab/guest-init.sh
    ;;
esac
echo "unknown LAB_ROLE '$LAB_ROLE'" >&2
exit 2

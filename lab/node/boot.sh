#!/bin/bash
# Boots the lab's Proxmox node. Runs as root in the mount namespace `lab up` made with `unshare --mount`: the
# host's root under an overlay, so the node's /etc/pve, /usr/sbin/qm and /root are its own; network and pids
# are the host's.
#
# Every value arrives in the environment, never in this text:
#   LAB_MACHINE_DIR host directory of the node: seed/ (files laid over the root), merged/ (mount point)
#   LAB_DISK_SIZE   size of the node's disk (a tmpfs holding the overlay's upper layer), e.g. 256m
#   LAB_TOOLS_DIR   the lab's programs, bind-mounted read-only at /run/openclaw-lab
#   LAB_RUN_DIR     the lab's shared sockets (guest agents, faults), bind-mounted at /run/openclaw-lab-run
set -euo pipefail

machine=$LAB_MACHINE_DIR
disk=$machine/disk
merged=$machine/merged

mount --make-rprivate /
mkdir -p "$disk" "$merged"
mount -t tmpfs -o "size=$LAB_DISK_SIZE,mode=0755" "lab-disk" "$disk"
mkdir -p "$disk/upper" "$disk/work"
cp -a "$machine/seed/." "$disk/upper/"

# Directories the node has of its own, not the host's: opaque in the upper layer.
for dir in root home etc/pve; do
  mkdir -p "$disk/upper/$dir"
  /usr/bin/python3 -c 'import os, sys; os.setxattr(sys.argv[1], "trusted.overlay.opaque", b"y")' "$disk/upper/$dir"
done

mount -t overlay overlay -o "lowerdir=/,upperdir=$disk/upper,workdir=$disk/work" "$merged"
mount -t tmpfs -o mode=0755 run "$merged/run"
mount -t tmpfs -o mode=1777 tmp "$merged/tmp"
mkdir -p "$merged/run/openclaw-lab" "$merged/run/openclaw-lab-run"
mount --bind "$LAB_TOOLS_DIR" "$merged/run/openclaw-lab"
mount -o remount,bind,ro "$merged/run/openclaw-lab"
mount --bind "$LAB_RUN_DIR" "$merged/run/openclaw-lab-run"
mount --rbind /dev "$merged/dev"

cd "$merged"
mkdir -p .oldroot
pivot_root . .oldroot
cd /
mount -t proc proc /proc
mount -t sysfs sysfs /sys 2>/dev/null || mount --rbind /.oldroot/sys /sys
umount -l /.oldroot
rmdir /.oldroot

mkdir -p /run/qemu-server /run/sshd
mount --bind /run/openclaw-lab-run/qemu-server /run/qemu-server
exec /usr/sbin/sshd -D -e -f /etc/openclaw-lab/sshd_config

#!/bin/bash
# Runs one real guest as a VM's QEMU process would: boots a systemd-nspawn container whose PID 1 is the image's own
# systemd, and boots it again each time it reboots, until it powers off or dies. Runs as root in a mount and a
# network namespace of its own (`unshare --mount --net`, made by the lab), so the guest's disks and network
# outlive each boot, as a VM's disk and NIC do, and die with this script.
#
# Values arrive in the environment; nspawn's bind options (--bind=…, --bind-ro=…) as positional parameters:
#   LAB_IMAGE_ROOT   the shared guest image, the overlay's read-only lower layer
#   LAB_MACHINE_DIR  this guest's host directory: seed/ (files laid over the image), disk/, docker/, merged/
#   LAB_DISK_SIZE    the root disk (a size-limited tmpfs holding the overlay's upper layer), e.g. 2g
#   LAB_DOCKER_SIZE  /var/lib/docker: a tmpfs of its own, because overlay2 cannot sit on an overlay
#   LAB_DOCKER_SNAPSHOT  empty, or a tar of a Docker storage (lab/guest-image.ts: the Docker-era images loaded, no
#                    containers) that /var/lib/docker starts from
#   LAB_HOSTNAME     the guest's host name
#   LAB_LAN_ADDRESS  the machine's address on its LAN (lab/machine.ts MACHINE_LAN_ADDRESS)
set -euo pipefail

machine=$LAB_MACHINE_DIR
mount --make-rprivate /
ip link set lo up
# the machine's LAN address, as a VM's NIC has one: on lo, the namespace's only device (the lab's host kernel offers
# no dummy device); added once, before the boot loop, so the guest keeps it across its reboots
ip addr add "$LAB_LAN_ADDRESS/32" dev lo
# A cgroup of its own in the host's cgroup v2 tree (named in $machine/cgroup, removed by the lab): nspawn makes the
# container's root cgroup under the one it runs in, and without this every guest's /system.slice/<unit> would be
# the same cgroup, so that a guest's `systemctl stop` could not kill its unit's processes (it reads the other
# guests' pids as 0 and gives up with EIO).
cgroup_root=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
cgroup="$cgroup_root/openclaw-lab/$(basename "$machine")-$$"
mkdir -p "$cgroup"
echo "$cgroup" >"$machine/cgroup"
echo $$ >"$cgroup/cgroup.procs"
mkdir -p "$machine/disk" "$machine/docker" "$machine/merged"
mount -t tmpfs -o "size=$LAB_DISK_SIZE,mode=0755" lab-disk "$machine/disk"
mount -t tmpfs -o "size=$LAB_DOCKER_SIZE,mode=0711" lab-docker "$machine/docker"
# once, before the first boot's dockerd starts: the storage is the machine's disk and keeps what the guest does to it
# across its reboots
if [ -n "$LAB_DOCKER_SNAPSHOT" ]; then
  tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$LAB_DOCKER_SNAPSHOT" -C "$machine/docker"
fi
mkdir -p "$machine/disk/upper" "$machine/disk/work"
if [ -d "$machine/seed" ]; then cp -a "$machine/seed/." "$machine/disk/upper/"; fi
mount -t overlay overlay -o "lowerdir=$LAB_IMAGE_ROOT,upperdir=$machine/disk/upper,workdir=$machine/disk/work" \
  "$machine/merged"

# Without these three dockerd cannot create its cgroups and session keyrings inside the container.
export SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
# With --keep-unit, nspawn answers the container's reboot by exiting 133 (EXIT_FORCE_RESTART, for the unit that
# runs it to start it again) instead of booting it again itself: here, this loop is that unit.
boots=0
while :; do
  boots=$((boots + 1))
  echo "lab: boot $boots of $LAB_HOSTNAME"
  status=0
  systemd-nspawn --quiet -D "$machine/merged" --boot --register=no --keep-unit \
    --network-namespace-path=/proc/self/ns/net --capability=all --hostname="$LAB_HOSTNAME" \
    --bind="$machine/docker:/var/lib/docker" "$@" || status=$?
  [ "$status" -eq 133 ] || exit "$status"
done

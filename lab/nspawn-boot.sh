#!/bin/bash
# Boots one real guest: a systemd-nspawn container whose PID 1 is the image's own systemd. Runs as root in a
# mount namespace of its own (`unshare --mount`, made by the lab), so the guest's disks die with it.
#
# Values arrive in the environment; nspawn's bind options (--bind=…, --bind-ro=…) as positional parameters:
#   LAB_IMAGE_ROOT   the shared guest image, the overlay's read-only lower layer
#   LAB_MACHINE_DIR  this guest's host directory: seed/ (files laid over the image), disk/, docker/, merged/
#   LAB_DISK_SIZE    the root disk (a size-limited tmpfs holding the overlay's upper layer), e.g. 2g
#   LAB_DOCKER_SIZE  /var/lib/docker: a tmpfs of its own, because overlay2 cannot sit on an overlay
#   LAB_HOSTNAME     the guest's host name
set -euo pipefail

machine=$LAB_MACHINE_DIR
mount --make-rprivate /
mkdir -p "$machine/disk" "$machine/docker" "$machine/merged"
mount -t tmpfs -o "size=$LAB_DISK_SIZE,mode=0755" lab-disk "$machine/disk"
mount -t tmpfs -o "size=$LAB_DOCKER_SIZE,mode=0711" lab-docker "$machine/docker"
mkdir -p "$machine/disk/upper" "$machine/disk/work"
if [ -d "$machine/seed" ]; then cp -a "$machine/seed/." "$machine/disk/upper/"; fi
mount -t overlay overlay -o "lowerdir=$LAB_IMAGE_ROOT,upperdir=$machine/disk/upper,workdir=$machine/disk/work" \
  "$machine/merged"

# Without these three dockerd cannot create its cgroups and session keyrings inside the container.
export SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
exec systemd-nspawn --quiet -D "$machine/merged" --boot --register=no --keep-unit --private-network \
  --capability=all --hostname="$LAB_HOSTNAME" --bind="$machine/docker:/var/lib/docker" "$@"

# Phase B's second step, a command of its own as in the SOP: the checksums and every tarball's listing, each
# checked (the SOP's verification exits 0 even when a checksum fails). Marks the backup .verified.
# $1 = the backup directory. Exit 3 = the verification failed.
set -uo pipefail
umask 077
fail() { echo "verification of $1 failed: $2" >&2; exit 3; }
cd "$1" || fail "$1" "no such directory"
sha256sum -c SHA256SUMS.txt || fail "$1" "checksums do not match"
for f in *.tgz; do
  tar -tzf "$f" >/dev/null || fail "$1" "$f does not list"
done
[ -e .verified ] || date -Iseconds > .verified
sed 's/^/sha256=/' SHA256SUMS.txt
du -b ./*.tgz | sed 's/^/size=/'

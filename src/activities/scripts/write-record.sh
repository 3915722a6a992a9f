# The record (SOP §8, on stdin) into the directory that holds the backups. $1 = file name.
set -euo pipefail
umask 077
cat > "/root/$1"
echo "record_path=/root/$1"

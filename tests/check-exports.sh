#!/bin/sh
# usage: check-exports.sh <libreclaim.so> <libreclaim.map> <reclaim.h>
# Header, version script and the shared object's dynamic symbols must agree.
set -eu
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
awk '/^RECLAIM_API/ { getline; sub(/\(.*/, ""); print }' "$3" | sort > "$t/header"
sed -n 's/^[[:space:]]*\(reclaim_[a-z0-9_]*\);.*/\1/p' "$2" | sort > "$t/map"
nm -D --defined-only "$1" | awk '$2 ~ /^[TDBRW]$/ { sub(/@.*/, "", $3); print $3 }' | grep -v '^RECLAIM_' | sort > "$t/so"
test -s "$t/header"
diff -u "$t/header" "$t/map"
diff -u "$t/map" "$t/so"
grep -v '^reclaim_' "$t/so" && { echo "non-reclaim_ symbol exported"; exit 1; }
echo "ok: $(wc -l < "$t/header") symbols agree"

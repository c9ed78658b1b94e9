#!/usr/bin/env bash
# Turns the CSV timelines of one reclaim-sim output directory into PNGs.
# usage: bench/sim/plot.sh OUTDIR [fig6|fig7]
set -euo pipefail
dir=$1
extra=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not found (apt-get install gnuplot-nox)" >&2; exit 1; }
policies=""
for p in reclaim paper swap-only mom squeezed kernel-only psi; do
	[ -e "$dir/$p-host.csv" ] && policies="$policies $p"
done
policies=${policies# }
[ -n "$policies" ] || { echo "plot.sh: no CSV in $dir" >&2; exit 1; }
gnuplot -e "dir='$dir'; policies='$policies'; out='$dir/free.png'" "$here/plots/free.gp"
for p in $policies; do
	n=$(( ($(head -1 "$dir/$p-vms.csv" | tr ',' '\n' | wc -l) - 1) / 7 ))
	gnuplot -e "csv='$dir/$p-vms.csv'; name='$p'; n=$n; out='$dir/vms-$p.png'" "$here/plots/vms.gp" 2> >(grep -v "empty y range" >&2)
done
case $extra in
fig6) gnuplot -e "csv='$dir/reclaim-vms.csv'; out='$dir/fig6.png'" "$here/plots/fig6.gp" ;;
fig7) gnuplot -e "csv='$dir/reclaim-vms.csv'; out='$dir/fig7.png'" "$here/plots/fig7.gp" ;;
esac
ls "$dir"/*.png

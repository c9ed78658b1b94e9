# Balloon and host swap per VM for one policy.
# gnuplot -e "csv='OUT/reclaim-vms.csv'; name='reclaim'; n=20; out='OUT/vms-reclaim.png'" vms.gp
# (n: number of VMs in the CSV)
set terminal pngcairo size 1400, 800 font ",10" noenhanced
set output out
set datafile separator ","
stats csv using 1 nooutput
span = STATS_max
unit = span > 6 * 3600 ? 3600.0 : 60.0
set xlabel (unit == 3600.0 ? "time (h)" : "time (min)")
set xrange [0:span / unit]
set ylabel "MiB"
set key outside right top
set multiplot layout 2, 1
set yrange [0:*]
set title name . ": balloon per VM"
plot for [i = 0:n-1] csv using ($1/unit):(column(3 + 7 * i)) with lines title columnheader(3 + 7 * i)
set title name . ": host-swapped per VM"
plot for [i = 0:n-1] csv using ($1/unit):(column(4 + 7 * i)) with lines title columnheader(4 + 7 * i)
unset multiplot

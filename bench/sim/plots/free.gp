# Free host memory with the ESX state bands, one panel per policy.
# gnuplot -e "dir='OUT'; policies='reclaim paper'; out='OUT/free.png'" free.gp
set terminal pngcairo size 1400, 260 * words(policies) + 60 font ",10" noenhanced
set output out
set datafile separator ","
first = dir . "/" . word(policies, 1) . "-host.csv"
stats first using 1 nooutput
span = STATS_max
unit = span > 6 * 3600 ? 3600.0 : 60.0
set xlabel (unit == 3600.0 ? "time (h)" : "time (min)")
set xrange [0:span / unit]
set ylabel "MiB"
set key outside right top
set multiplot layout words(policies), 1
do for [i = 1:words(policies)] {
	f = dir . "/" . word(policies, i) . "-host.csv"
	stats f using 11 nooutput
	top = STATS_max * 2.0
	set yrange [0:top]
	set title word(policies, i) . ": free memory and states"
	plot f using ($1/unit):(0):14 with filledcurves lc rgb "#f4a6a6" title "low", \
	     f using ($1/unit):14:13 with filledcurves lc rgb "#f8c99a" title "hard", \
	     f using ($1/unit):13:12 with filledcurves lc rgb "#f7e59a" title "soft", \
	     f using ($1/unit):12:11 with filledcurves lc rgb "#cdeac0" title "early balloon", \
	     f using ($1/unit):2 with lines lw 1.5 lc rgb "#1f4e9a" title "free"
}
unset multiplot

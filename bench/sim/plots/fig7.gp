# OSDI 2002 Fig. 7: allocations of two VMs when tau changes from 0 to 0.75.
# gnuplot -e "csv='OUT/reclaim-vms.csv'; out='OUT/fig7.png'" fig7.gp
set terminal pngcairo size 1200, 500 font ",10" noenhanced
set output out
set datafile separator ","
set xlabel "time (min)"
set ylabel "MB"
set key top left
set yrange [0:300]
set arrow from 31, graph 0 to 31, graph 1 nohead dt 2
set label "tau 0 -> 0.75" at 31.5, 285
set title "Idle memory tax (Fig. 7): VM1 idle, VM2 busy, equal shares"
plot csv using ($1/60):2 with lines lw 2 lc rgb "#1d3557" title "VM1 alloc", \
     csv using ($1/60):6 with lines lw 1 lc rgb "#1d3557" dt 2 title "VM1 active (est.)", \
     csv using ($1/60):9 with lines lw 2 lc rgb "#e63946" title "VM2 alloc", \
     csv using ($1/60):13 with lines lw 1 lc rgb "#e63946" dt 2 title "VM2 active (est.)", \
     179 with lines lc rgb "#888888" dt 3 title "179 MB", \
     101 with lines lc rgb "#457b9d" dt 3 title "101 MB", \
     244 with lines lc rgb "#e76f51" dt 3 title "244 MB"

# OSDI 2002 Fig. 6: the estimator's slow, fast and max estimates against the
# true working set of one VM (the first in the CSV).
# gnuplot -e "csv='OUT/reclaim-vms.csv'; out='OUT/fig6.png'" fig6.gp
set terminal pngcairo size 1200, 500 font ",10" noenhanced
set output out
set datafile separator ","
set xlabel "time (min)"
set ylabel "MiB"
set key top right
set title "Active memory sampling (Fig. 6): estimates vs the true working set"
plot csv using ($1/60):5 with lines lw 3 lc rgb "#999999" title "true working set", \
     csv using ($1/60):7 with lines lw 1.5 lc rgb "#2a9d8f" title "slow", \
     csv using ($1/60):8 with lines lw 1.5 lc rgb "#e76f51" title "fast", \
     csv using ($1/60):6 with lines lw 2 lc rgb "#1d3557" title "max (reported)"

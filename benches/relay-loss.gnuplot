set terminal pngcairo size 900,540
set output 'relay-loss.png'
set title 'SRTP<->RTP relay on one core: loss against offered calls (50 pps each way, 172 B)'
set xlabel 'concurrent calls'
set ylabel 'packet loss (%)'
set logscale y
set yrange [0.001:100]
set grid
set key top left
plot 'relay-loss-portico-uring.dat' using 1:2 with linespoints lw 2 title 'portico-uring', 'relay-loss-portico-sockets.dat' using 1:2 with linespoints lw 2 title 'portico-sockets', 'relay-loss-portico-uring-mux.dat' using 1:2 with linespoints lw 2 title 'portico-uring-mux', 'relay-loss-portico-sockets-mux.dat' using 1:2 with linespoints lw 2 title 'portico-sockets-mux', 'relay-loss-rtpengine.dat' using 1:2 with linespoints lw 2 title 'rtpengine'

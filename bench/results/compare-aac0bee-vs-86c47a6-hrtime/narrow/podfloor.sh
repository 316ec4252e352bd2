#!/bin/bash
# usage: podfloor.sh ROUNDS COUNT labA:clientns:podip:cgroup labB:...
R=$1; C=$2; shift 2
PROBE=/work/wt/perf15/lab/build/sy-probe
for r in $(seq 1 $R); do
  if [ $((r % 2)) -eq 1 ]; then order="$@"; else order=$(echo "$@" | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for spec in $order; do
    IFS=: read name ns ip cg <<< "$spec"
    out=$(bash -c "echo \$\$ > $cg/cgroup.procs; exec nsenter --net=/run/netns/$ns -- $PROBE connect-latency $ip 8080 --count $C --timeout-ms 1000")
    echo "$out" | grep -E '^[0-9]+$' | sort -n | awk -v n=$name -v r=$r '{a[NR]=$1} END {print n, r, "min", a[1], "p10", a[int(NR*0.1)], "p50", a[int(NR*0.5)], "p90", a[int(NR*0.9)], "n", NR}'
  done
done

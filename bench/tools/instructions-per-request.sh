#!/usr/bin/env bash
# Instructions per request of one benchmark server, counted by valgrind's callgrind: unlike CPU time, the
# count barely moves with the machine's load, so two variants can be compared to within about 1%.
#
#   bench/tools/instructions-per-request.sh NAME -- SERVER COMMAND...
#   bench/tools/instructions-per-request.sh hono-lifeguard -- node --single-threaded --import tsx \
#     bench/src/http-overhead.server.ts hono lifeguard
#
# Needs valgrind (`apt-get install valgrind`). The server runs uninstrumented through WARM requests (default
# 15000, so V8 has compiled the hot path), then COUNT requests (default 10000) are counted. Pass
# `--single-threaded` to node: with V8's compiler threads, how soon code is optimized depends on the load,
# and so does the count. Count one server at a time, with nothing else busy: a server slowed by a
# neighbour reads more requests per wake-up, and two counts taken side by side were up to 5% lower.
# A full garbage-collection cycle either lands among the COUNT requests or does not, and moves a count of
# 10,000 by up to 10k instructions a request on small servers: COUNT=40000 spreads it (and takes 4x as long).
# PATHNAME (default /orders/42) is the path requested. The profile is kept in bench/results/instructions/
# for callgrind_annotate. Besides the count, the line gives the shares of V8's optimizing compilers and of
# the garbage collector, and the `mutator`: the count without either, the figure to compare servers by.
set -euo pipefail
name=$1
shift
[ "${1:-}" = "--" ] && shift
warm=${WARM:-15000}
count=${COUNT:-10000}
pathname=${PATHNAME:-/orders/42}
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$here/bench/results/instructions"
mkdir -p "$out"
rm -f "$out/$name".*
cd "$here"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/$name.%p" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
url=''
for _ in $(seq 1 600); do
  url=$(grep -o 'http://[^ ]*' "$out/$name.stdout" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.5
done
[ -n "$url" ] || { echo "The server did not announce its URL; see $out/$name.stderr" >&2; exit 1; }
autocannon="$here/node_modules/.bin/autocannon"
"$autocannon" -c 20 -a "$warm" "$url$pathname" >/dev/null 2>&1
callgrind_control -i on "$server" >/dev/null
"$autocannon" -c 20 -a "$count" "$url$pathname" >/dev/null 2>&1
callgrind_control -d "$server" >/dev/null
sleep 1
profile=$(ls "$out/$name".*.1 | head -1)
total=$(grep -h '^summary:\|^totals:' "$profile" | head -1 | awk '{print $2}')
# The compilers still run now and then after the warm-up (on the main thread with `--single-threaded`), and
# a recompile or a collection landing among the counted requests moves one count by 3k to 5k a request and
# not the next; the mutator repeats to within about 1k.
read -r jit gc < <(callgrind_annotate --threshold=100 "$profile" 2>/dev/null | awk -v n="$count" '
  /^ *[0-9,]+ +\( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
    v = $1; gsub(",", "", v)
    if ($0 ~ /v8::internal::(compiler|maglev|turboshaft)::|v8::internal::Zone::/) jit += v
    else if ($0 ~ /Scaveng|IterateObjectCache|MarkCompact|v8::internal::Heap::|Sweeper|Marking|Evacuat/) gc += v
  }
  END { printf "%d %d\n", jit / n, gc / n }')
echo "$name: $((total / count)) instructions per request, mutator $((total / count - jit - gc)) (compilers $jit, garbage collector $gc; $profile)"

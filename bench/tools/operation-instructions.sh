#!/usr/bin/env bash
# Instructions one operation costs (a context, one `context.postgres.query('SELECT 1')`, dispose): valgrind's
# callgrind counts a process of N operations and one of none; the difference over N is the figure. Counts,
# unlike times, barely move with the machine's load. Needs valgrind and the PostgreSQL of the tests.
#
#   bench/tools/operation-instructions.sh [REPO_ROOT] [plain|deadline] [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(cd "$here/../.." && pwd)}
mode=${2:-plain}
n=${3:-3000}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null node "$here/operation-instructions.mjs" "$root" "$1" "$mode" 2>&1 |
    awk '/Collected/ { print $4 }'
}
none=$(count 0)
many=$(count "$n")
echo "$mode: $(((many - none) / n)) instructions per operation ($root, $(node --version), load $(cut -d' ' -f1-3 /proc/loadavg))"

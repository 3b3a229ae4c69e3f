#!/usr/bin/env bash
# Times one import file as a dry run on a kept benchmark database, with two or more builds of
# the server, alternated: each build checks the same rows against the same records, and
# nothing is written, so the runs can be repeated. BENCHMARKS.md, ninth pass.
#
#   BENCH_KEEP=1 BENCH_KINDS=positions,member-ratings,organization-ratings,admission-targets \
#     target/release/party-records bench --scale province --db postgres
#   # its last lines say where the database and the generated files are kept
#   bench/import-ab.sh postgres://root@127.0.0.1:5432/prbench_<pid> \
#     /tmp/party-records-bench-files-<pid>/transfers.csv transfers old/party-records new/party-records
#
# Prints, per build and round, the HTTP status and seconds of three runs. The bench's user
# (bench-admin, "benchmark password") signs in.
set -euo pipefail
if [ $# -lt 4 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
url=$1 file=$2 kind=$3
shift 3
rounds=${ROUNDS:-2} runs=${RUNS:-3}
. "$(dirname "$0")/serve.sh"
for round in $(seq "$rounds"); do
    for binary in "$@"; do
        start_server "$binary" "$url"
        times=""
        for _ in $(seq "$runs"); do
            times="$times $(curl -s -o /dev/null -w '%{http_code}:%{time_total}' -X POST \
                -H "authorization: Bearer $token" -H 'content-type: text/csv' \
                --data-binary "@$file" \
                "http://127.0.0.1:$port/api/v1/imports/$kind?dry_run=true")"
        done
        echo "round $round $binary $kind$times"
        kill "$server"
        wait "$server" 2>/dev/null || true
    done
done

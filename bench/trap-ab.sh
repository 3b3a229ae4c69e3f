#!/usr/bin/env bash
# The PostgreSQL trap of BENCHMARKS.md's twelfth pass: a members table whose statistics say it
# is empty beside a large key index, into which a members file is sent, as a dry run, once per
# build and round. Before each run the member tables are vacuumed again (a dry run's ANALYZE
# leaves its row counts in pg_class), so every build meets the same trap.
#
#   BENCH_KEEP=1 BENCH_KINDS= target/release/party-records bench --scale province --db postgres
#   # delete the kept database's members (and their memberships, events, exemptions and
#   # summaries); insert 3 million rows into members and roll them back; VACUUM members
#   head -8001 /tmp/party-records-bench-files-<pid>/members.csv > members-8k.csv
#   bench/trap-ab.sh prbench_<pid> members-8k.csv before/party-records after/party-records
#
# Prints, per round and build, members' reltuples before the run and the HTTP status:seconds.
set -euo pipefail
if [ $# -lt 3 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
db=$1 file=$2
shift 2
. "$(dirname "$0")/serve.sh"
psql() { command psql -h 127.0.0.1 -U root -d "$db" "$@"; }
for round in $(seq "${ROUNDS:-3}"); do
    for binary in "$@"; do
        psql -qc "VACUUM ANALYZE members, memberships, member_events, member_exemptions"
        start_server "$binary" "postgres://root@127.0.0.1:5432/$db"
        rows=$(psql -Atc "SELECT reltuples FROM pg_class WHERE relname = 'members'")
        took=$(curl -s -o /dev/null -w '%{http_code}:%{time_total}' -X POST \
            -H "authorization: Bearer $token" -H 'content-type: text/csv' \
            --data-binary "@$file" "http://127.0.0.1:$port/api/v1/imports/members?dry_run=true")
        echo "round $round $binary reltuples=$rows $took"
        kill "$server"
        wait "$server" 2>/dev/null || true
    done
done

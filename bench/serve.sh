# Sourced by the bench scripts: start_server BINARY DATABASE_URL starts the server on a random
# port and signs the bench's user in (bench-admin, "benchmark password"), setting `port`,
# `server` (its pid) and `token`.
export JWT_SECRET=${JWT_SECRET:-import-ab-secret-import-ab-secret-0123}
start_server() {
    port=$((20000 + RANDOM % 20000))
    "$1" --database-url "$2" --bind "127.0.0.1:$port" serve >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 50); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 0.1
    done
    token=$(curl -sf -X POST -H 'content-type: application/json' \
        -d '{"username":"bench-admin","password":"benchmark password"}' \
        "http://127.0.0.1:$port/api/v1/auth/login" |
        sed -E 's/.*"access_token":"([^"]+)".*/\1/')
}

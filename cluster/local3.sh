#!/usr/bin/env bash
# Starts three engine nodes on this machine the way the multi-node tests do
# (cluster/clustertest): one etcd for membership, one MongoDB, Redis and
# RabbitMQ shared by all three, each node with its own HTTP port and
# cluster address. Ctrl-C stops everything it started.
#
#   cluster/local3.sh            # nodes on http://127.0.0.1:8081, :8082, :8083
#
# Environment (each has a default for this machine):
#   MONGODB_URI   a MongoDB all nodes share; unset: FerretDB (SQLite handler,
#                 under data/cluster/ferret) is started from this repository
#   REDIS_URL     default redis://127.0.0.1:6379/0
#   RABBITMQ_URL  default amqp://guest:guest@127.0.0.1:5672/
#   ETCD          etcd's client URL, default http://127.0.0.1:2379 (started
#                 with Debian's etcd-server binary when nothing answers there)
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-data/cluster}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
RABBITMQ_URL=${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/}
ETCD=${ETCD:-http://127.0.0.1:2379}
mkdir -p "$DATA"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

if ! curl -fsS "$ETCD/health" >/dev/null 2>&1; then
	command -v etcd >/dev/null || { echo "etcd is not installed (apt-get install etcd-server)" >&2; exit 1; }
	echo "starting etcd on $ETCD"
	etcd --name local --data-dir "$DATA/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster local=http://127.0.0.1:2380 >"$DATA/etcd.log" 2>&1 &
	pids+=($!)
	for _ in $(seq 1 50); do curl -fsS "$ETCD/health" >/dev/null 2>&1 && break; sleep 0.2; done
fi

if [ -z "${MONGODB_URI:-}" ]; then
	mkdir -p "$DATA/ferret"
	go build -tags ferretd -o "$DATA/ferretd" ./persistence/servicetest/ferretd
	# ferretd exits when its stdin closes: this script holds the fifo it
	# reads open (fd 3) until it exits.
	rm -f "$DATA/ferret.in" "$DATA/ferret.uri" && mkfifo "$DATA/ferret.in"
	"$DATA/ferretd" -handler sqlite -sqlite-dir "$DATA/ferret" -listen 127.0.0.1:27018 <"$DATA/ferret.in" >"$DATA/ferret.uri" 2>"$DATA/ferret.log" &
	pids+=($!)
	exec 3>"$DATA/ferret.in"
	for _ in $(seq 1 100); do [ -s "$DATA/ferret.uri" ] && break; sleep 0.2; done
	MONGODB_URI=$(head -1 "$DATA/ferret.uri")
	echo "FerretDB at $MONGODB_URI"
fi

go build -o "$DATA/engine" ./cmd/engine
for i in 1 2 3; do
	env APP_ENV=development HOST=127.0.0.1 PORT=808$i METRICS_ADDR=127.0.0.1:909$i \
		SANDBOX_PORT=0 SANDBOX_EXOTEL_PORT=0 DATA_DIR="$DATA/node$i" \
		ADMIN_EMAIL="${ADMIN_EMAIL:-admin@example.com}" ADMIN_PASSWORD="${ADMIN_PASSWORD:-change-me-now}" \
		MONGODB_URI="$MONGODB_URI" MONGODB_DATABASE=${MONGODB_DATABASE:-engine} \
		REDIS_URL="$REDIS_URL" RABBITMQ_URL="$RABBITMQ_URL" \
		CLUSTER_PROVIDER=etcd CLUSTER_ETCD_ENDPOINTS="${ETCD#http://}" CLUSTER_BIND=127.0.0.1:710$i \
		"$DATA/engine" >"$DATA/node$i.log" 2>&1 &
	pids+=($!)
	echo "node$i: http://127.0.0.1:808$i (log $DATA/node$i.log, metrics http://127.0.0.1:909$i/metrics)"
done
echo "Ctrl-C stops all three."
wait

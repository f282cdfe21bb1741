#!/usr/bin/env bash
# A local three-node cluster on loopback, without docker (docs/cluster.md):
#   scripts/cluster-up.sh DIR [BASE_PORT]
# starts three nats-server processes with JetStream clustered (client ports BASE..BASE+2,
# route ports BASE+100..BASE+102, monitoring BASE+200..), two `mamori worker`s working the
# tenants under DIR/root/tenants, and the stateless front `mamori serve --cluster` on
# BASE+300. The workers archive sealed segments to DIR/archive (docs/archive.md); when
# PySpark is installed, a Spark standalone master (BASE+400, spark://) and one Spark worker
# start too, for `report disclosure --archive … --engine spark` with MAMORI_SPARK_MASTER.
# Each process's log and pid are in DIR. `scripts/cluster-up.sh DIR stop` stops
# them. Tenants are added with `mamori --data DIR/root cluster tenant-add …` as the
# script prints.
set -euo pipefail
dir=${1:?usage: cluster-up.sh DIR [BASE_PORT|stop]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
if [ "${2:-}" = stop ]; then
  for pid in "$dir"/*.pid; do
    [ -e "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
  exit 0
fi
base=${2:-4222}
mamori=${MAMORI:-mamori}
command -v nats-server >/dev/null || { echo "nats-server is not installed (Debian: apt-get install nats-server)" >&2; exit 1; }
routes="nats-route://127.0.0.1:$((base + 100)),nats-route://127.0.0.1:$((base + 101)),nats-route://127.0.0.1:$((base + 102))"
urls="nats://127.0.0.1:$base,nats://127.0.0.1:$((base + 1)),nats://127.0.0.1:$((base + 2))"
for i in 0 1 2; do
  cat > "$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((base + i))
http: 127.0.0.1:$((base + 200 + i))
max_payload: 8MB
jetstream { store_dir: "$dir/n$i" }
cluster { name: mamori, listen: 127.0.0.1:$((base + 100 + i)), routes: [$routes] }
CONF
  nats-server -c "$dir/n$i.conf" > "$dir/n$i.log" 2>&1 &
  echo $! > "$dir/n$i.pid"
done
# JetStream is ready when its meta group has a leader: /healthz says so.
for _ in $(seq 100); do
  ok=0
  for i in 0 1 2; do curl -fs "http://127.0.0.1:$((base + 200 + i))/healthz?js-enabled-only=true" >/dev/null 2>&1 && ok=$((ok + 1)); done
  [ $ok = 3 ] && break
  sleep 0.2
done
mkdir -p "$dir/root/tenants"
for w in 1 2; do
  "$mamori" --data "$dir/root" worker --nats "$urls" --detect --archive "$dir/archive" --name "worker-$w" > "$dir/worker-$w.log" 2>&1 &
  echo $! > "$dir/worker-$w.pid"
done
"$mamori" serve --cluster "$urls" --listen "127.0.0.1:$((base + 300))" > "$dir/serve.log" 2>&1 &
echo $! > "$dir/serve.pid"
spark=""
if spark_home=$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))' 2>/dev/null); then
  spark="spark://127.0.0.1:$((base + 400))"
  SPARK_LOCAL_IP=127.0.0.1 "$spark_home/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 --port $((base + 400)) --webui-port $((base + 401)) > "$dir/spark-master.log" 2>&1 &
  echo $! > "$dir/spark-master.pid"
  SPARK_LOCAL_IP=127.0.0.1 "$spark_home/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --webui-port $((base + 402)) "$spark" > "$dir/spark-worker.log" 2>&1 &
  echo $! > "$dir/spark-worker.pid"
fi
cat <<TEXT
NATS: $urls
archive: $dir/archive${spark:+
Spark: $spark (MAMORI_SPARK_MASTER=$spark mamori … report disclosure --archive $dir/archive --tenant TOWN --engine spark)}
front: http://127.0.0.1:$((base + 300))/v1/ingest/SOURCE
add a tenant:
  $mamori --data $dir/root/tenants/TOWN init $dir/root/tenants/TOWN
  cp TOWN/mamori.toml $dir/root/tenants/TOWN/   # and detect.toml, and master load
  $mamori --data $dir/root cluster tenant-add --nats $urls --tenant TOWN
  $mamori --data $dir/root cluster apikey --nats $urls --tenant TOWN --source SOURCE
stop: $0 $dir stop
TEXT

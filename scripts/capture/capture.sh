#!/usr/bin/env bash
# Records the golden wire fixtures in proto/tests/fixtures/ from a real Apache ZooKeeper exchange.
#
# Starts a temporary standalone Apache ZooKeeper (Debian package `zookeeper`) on a free loopback port,
# puts zkproxy.py in front of it, compiles Capture.java against the Debian jars and runs it: Apache's
# own Java client performs each scenario through the proxy, which writes one fixture file per scenario.
# Then stops everything. The new fixtures replace the old *.txt only if every scenario succeeded.
#
# Usage: scripts/capture/capture.sh [output dir]     (default: proto/tests/fixtures)
# Needs: the Debian package `zookeeper` (java, jars), javac (openjdk-17-jdk-headless), python3.
# Set ZK_CAPTURE_KEEP=1 to keep the work dir (server, proxy and client logs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/proto/tests/fixtures}

jars=/usr/share/java
zk_cp="$jars/zookeeper.jar:$jars/zookeeper-jute.jar"
log_cp="$jars/slf4j-log4j12.jar:$jars/log4j-1.2.jar"
for f in "$jars/zookeeper.jar" "$jars/zookeeper-jute.jar"; do
    [[ -f $f ]] || { echo "capture: $f missing; apt-get install zookeeper" >&2; exit 1; }
done
command -v javac >/dev/null || { echo "capture: javac missing; apt-get install openjdk-17-jdk-headless" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zk-capture.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n ${ZK_CAPTURE_KEEP:-} && ${ZK_CAPTURE_KEEP} != 0 ]]; then
        echo "capture: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

four_letter() { # four_letter <port> <cmd>: prints the reply, or nothing if the server is not up
    { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
    printf %s "$2" >&3
    cat <&3 || true
    exec 3<&-
}

wait_until() { # wait_until <seconds> <what> <command...>: polls every 0.1 s
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            echo "capture: timed out waiting for $what" >&2
            return 1
        fi
        sleep 0.1
    done
}

# --- Apache ZooKeeper, standalone, tickTime 2000 (sessions 4 s .. 40 s), TTL nodes enabled.
zk_port=$(free_port)
mkdir -p "$work/data" "$work/classes" "$work/fixtures"
cat >"$work/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$work/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
admin.enableServer=false
extendedTypesEnabled=true
EOF
for who in server client; do
    cat >"$work/log4j-$who.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$work/$who.log
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n
EOF
done
java -XX:+UseSerialGC -Dlog4j.configuration="file:$work/log4j-server.properties" \
    -cp "$zk_cp:$log_cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zoo.cfg" \
    >"$work/server.console" 2>&1 &
pids+=($!)
# ruok answers as soon as the listener is up; srvr shows a Mode line only once the server serves.
server_up() { [[ $(four_letter "$zk_port" ruok) == imok && $(four_letter "$zk_port" srvr) == *Mode:* ]]; }
wait_until 30 "Apache ZooKeeper on port $zk_port" server_up || { tail -30 "$work/server.log" "$work/server.console" >&2; exit 1; }
version=$(four_letter "$zk_port" srvr | sed -n 's/^Zookeeper version: //p')
echo "capture: Apache ZooKeeper $version on 127.0.0.1:$zk_port" >&2

# --- The recording proxy.
python3 -B "$here/zkproxy.py" --upstream "127.0.0.1:$zk_port" --listen 127.0.0.1:0 --control 127.0.0.1:0 \
    --ready-file "$work/proxy.ports" 2>"$work/proxy.log" &
pids+=($!)
wait_until 10 "zkproxy.py" test -s "$work/proxy.ports" || { cat "$work/proxy.log" >&2; exit 1; }
read -r proxy_port control_port <"$work/proxy.ports"

# --- Apache's Java client, driven by Capture.java.
javac -nowarn -d "$work/classes" -cp "$zk_cp" "$here/Capture.java"
java -XX:+UseSerialGC -Dlog4j.configuration="file:$work/log4j-client.properties" \
    -cp "$work/classes:$zk_cp:$log_cp" Capture "$proxy_port" "$control_port" "$zk_port" "$work/fixtures"

# --- Replace the old fixtures only now that every scenario was captured.
mkdir -p "$out"
rm -f "$out"/*.txt
cp "$work"/fixtures/*.txt "$out"/
for f in "$out"/*.txt; do
    printf 'capture: %-32s %3d frames (%d c2s, %d s2c)\n' "$(basename "$f")" \
        "$(grep -cE '^(c2s|s2c) ' "$f")" "$(grep -c '^c2s ' "$f")" "$(grep -c '^s2c ' "$f")" >&2
done

#!/usr/bin/env python3
"""Records the quorum-protocol golden fixtures in proto/tests/fixtures/quorum/ from a real 3-node
Apache ZooKeeper ensemble (Debian package `zookeeper`) on loopback.

Every server's election port and quorum port gets a recording proxy (zkpeerproxy.py). Server i's own
zoo.cfg names its *real* ports in its own `server.i` line (the ports it binds) and the *proxy* ports in
the other servers' lines (the ports it dials), so all peer traffic crosses a proxy. Dynamic reconfig is
off (the 3.8 default), so the differing server lists never propagate; they only show in the config
string each notification and NEWLEADER carries.

Scenario (each step is a "# phase: ..." comment in both fixtures):
  1. startup     3 servers start together: election, 2 learner handshakes (DIFF: all empty).
  2. writes      QuorumLoad.java on a follower: createSession, create, setData, ephemeral and sequential
                 creates, multi, delete, sync (REQUEST forwarding, PROPOSAL/ACK/COMMIT, SYNC); ~3 s idle
                 (PINGs with the session's touch); the session moves to the other follower (REVALIDATE)
                 and is closed there.
  3. snap        the lower-sid follower is killed, its data dir wiped, restarted: it syncs by SNAP.
  4. orphan      the leader's packets to its learners are held back in the proxy while a client opens a
                 session through the other follower: the leader logs a createSession PROPOSAL nobody else
                 sees. The leader is then killed (SIGKILL).
  5. failover    the two survivors elect a new leader (the higher sid, whose history is complete; the
                 other syncs by an empty DIFF).
  6. rejoin      the old leader restarts before any write of the new epoch, follows, and is told to
                 TRUNC its orphan txn; a client then writes through it.
  7. diff        the lower-sid follower is killed, two writes happen, it restarts and catches up by a
                 DIFF carrying PROPOSAL+COMMIT pairs.

Usage: scripts/capture/quorum_capture.py [--out DIR] [--keep]
       (default DIR: proto/tests/fixtures/quorum; needs java, javac, python3)
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import zkpeerproxy

JARS = "/usr/share/java"
ZK_CP = "%s/zookeeper.jar:%s/zookeeper-jute.jar" % (JARS, JARS)
LOG_CP = "%s/slf4j-log4j12.jar:%s/log4j-1.2.jar" % (JARS, JARS)
JVM = ["-XX:+UseSerialGC", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"]
TICK_MS = 1000
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def four_letter(port, cmd):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(cmd.encode())
            out = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    return out.decode(errors="replace")
                out += chunk
    except OSError:
        return ""


def mode(port):
    for line in four_letter(port, "srvr").splitlines():
        if line.startswith("Mode: "):
            return line[6:].strip()
    return None


def wait_until(what, timeout, pred):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit("quorum_capture: timed out waiting for %s" % what)


class Ensemble:
    def __init__(self, work, fixtures):
        self.work = work
        self.ids = [1, 2, 3]
        self.client = {i: free_port() for i in self.ids}
        self.quorum = {i: free_port() for i in self.ids}
        self.election = {i: free_port() for i in self.ids}
        self.eproxy, self.qproxy = {}, {}
        election_ports = {}
        for i in self.ids:
            self.eproxy[i] = zkpeerproxy.PeerProxy("election", i, self.election[i], fixtures["election"],
                                                   election_ports)
            election_ports[i] = self.eproxy[i].port
            self.qproxy[i] = zkpeerproxy.PeerProxy("quorum", i, self.quorum[i], fixtures["quorum"], {})
        for p in list(self.eproxy.values()) + list(self.qproxy.values()):
            p.start()
        self.procs = {}
        for i in self.ids:
            d = os.path.join(work, "server.%d" % i)
            os.makedirs(os.path.join(d, "data"))
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write("%d\n" % i)
            lines = [
                "tickTime=%d" % TICK_MS, "initLimit=10", "syncLimit=5",
                "dataDir=%s/data" % d, "clientPort=%d" % self.client[i], "clientPortAddress=127.0.0.1",
                "4lw.commands.whitelist=*", "admin.enableServer=false", "standaloneEnabled=false",
            ]
            for j in self.ids:
                q, e = (self.quorum[j], self.election[j]) if j == i else (self.qproxy[j].port, self.eproxy[j].port)
                lines.append("server.%d=127.0.0.1:%d:%d" % (j, q, e))
            with open(os.path.join(d, "zoo.cfg"), "w") as f:
                f.write("\n".join(lines) + "\n")
            with open(os.path.join(d, "log4j.properties"), "w") as f:
                f.write("log4j.rootLogger=INFO, FILE\nlog4j.appender.FILE=org.apache.log4j.FileAppender\n"
                        "log4j.appender.FILE.File=%s/zookeeper.log\n"
                        "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                        "log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} - %%-5p [%%t:%%C{1}@%%L] - %%m%%n\n" % d)

    def start(self, i):
        d = os.path.join(self.work, "server.%d" % i)
        cmd = ["java"] + JVM + ["-Dlog4j.configuration=file:%s/log4j.properties" % d,
                                "-Dzookeeper.jmx.log4j.disable=true",
                                "-cp", ZK_CP + ":" + LOG_CP,
                                "org.apache.zookeeper.server.quorum.QuorumPeerMain", os.path.join(d, "zoo.cfg")]
        self.procs[i] = subprocess.Popen(cmd, stdout=open(os.path.join(d, "console.log"), "a"),
                                         stderr=subprocess.STDOUT)

    def kill(self, i):
        p = self.procs.pop(i, None)
        if p is not None:
            p.send_signal(signal.SIGKILL)
            p.wait()

    def modes(self, ids=None):
        return {i: mode(self.client[i]) for i in (ids or self.procs.keys())}

    def wait_serving(self, ids):
        def ready():
            m = self.modes(ids)
            return m if all(v in ("leader", "follower") for v in m.values()) and \
                list(m.values()).count("leader") <= 1 and \
                ("leader" in m.values() or len(ids) < len(self.procs)) else None
        return wait_until("servers %s serving" % ids, 60, ready)

    def leader(self):
        for i, m in self.modes().items():
            if m == "leader":
                return i
        return None

    def stop(self):
        for i in list(self.procs):
            self.kill(i)
        for p in list(self.eproxy.values()) + list(self.qproxy.values()):
            p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "proto/tests/fixtures/quorum"))
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, data dirs)")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="zk-quorum-capture.")
    classes = os.path.join(work, "classes")
    os.makedirs(classes)
    subprocess.check_call(["javac", "-nowarn", "-d", classes, "-cp", ZK_CP, os.path.join(HERE, "QuorumLoad.java")])
    fixtures = {k: zkpeerproxy.Fixture(os.path.join(work, "%s.txt" % k), k[0]) for k in ("election", "quorum")}

    def phase(text):
        print("quorum_capture: %s" % text, file=sys.stderr)
        for f in fixtures.values():
            f.line("# phase: %s" % text)

    def load(*argv, wait=True):
        cmd = ["java"] + JVM + ["-Dlog4j.configuration=file:/dev/null", "-cp",
                                classes + ":" + ZK_CP + ":" + LOG_CP, "QuorumLoad"] + list(argv)
        p = subprocess.Popen(cmd, stdout=open(os.path.join(work, "client.log"), "a"), stderr=subprocess.STDOUT)
        if wait and p.wait(120) != 0:
            raise SystemExit("quorum_capture: QuorumLoad %s failed (see %s/client.log)" % (argv, work))
        return p

    ens = Ensemble(work, fixtures)
    try:
        for f in fixtures.values():
            f.line("# Apache ZooKeeper 3.8 ensemble of 3 on 127.0.0.1, tickTime=%d; recorded by "
                   "scripts/capture/quorum_capture.py" % TICK_MS)
        phase("startup: servers 1, 2, 3 start together")
        for i in ens.ids:
            ens.start(i)
        modes = ens.wait_serving(ens.ids)
        leader = ens.leader()
        followers = [i for i in ens.ids if i != leader]
        phase("startup done: modes %s" % sorted(modes.items()))
        time.sleep(2)

        a, b = followers
        phase("writes: client session on follower %d, moved to follower %d" % (a, b))
        load("writes", "127.0.0.1:%d" % ens.client[a], "127.0.0.1:%d" % ens.client[b])
        time.sleep(1)

        phase("snap: follower %d killed, data dir wiped, restarted" % a)
        ens.kill(a)
        shutil.rmtree(os.path.join(work, "server.%d" % a, "data", "version-2"), ignore_errors=True)
        time.sleep(1)
        ens.start(a)
        ens.wait_serving(ens.ids)
        time.sleep(2)

        phase("orphan: leader %d's packets to learners held back; a client opens a session via follower %d"
              % (leader, b))
        ens.qproxy[leader].hold_s2c.set()
        hang = load("hang", "127.0.0.1:%d" % ens.client[b], wait=False)
        time.sleep(2.5)
        phase("orphan: leader %d killed (SIGKILL)" % leader)
        ens.kill(leader)
        hang.kill()
        hang.wait()
        ens.qproxy[leader].drop_all("leader killed")
        ens.qproxy[leader].hold_s2c.clear()

        phase("failover: servers %d and %d elect a new leader" % (a, b))
        ens.wait_serving([a, b])
        phase("failover done: modes %s" % sorted(ens.modes().items()))
        time.sleep(1)

        # No write in the new epoch yet: the old leader's orphan zxid is then above the new leader's
        # last committed zxid, in the same epoch, so LearnerHandler.syncFollower answers TRUNC.
        phase("rejoin: old leader %d restarts" % leader)
        ens.start(leader)
        ens.wait_serving(ens.ids)
        phase("rejoin done: modes %s" % sorted(ens.modes().items()))
        load("create", "127.0.0.1:%d" % ens.client[leader], "/after-rejoin")
        time.sleep(1)

        phase("diff: follower %d killed; two writes; restarted" % a)
        ens.kill(a)
        load("create", "127.0.0.1:%d" % ens.client[leader], "/while-down-1")
        load("create", "127.0.0.1:%d" % ens.client[leader], "/while-down-2")
        ens.start(a)
        ens.wait_serving(ens.ids)
        time.sleep(2)
        phase("end")
    finally:
        ens.stop()
        for f in fixtures.values():
            f.close()

    os.makedirs(args.out, exist_ok=True)
    for k in ("election", "quorum"):
        shutil.copy(os.path.join(work, "%s.txt" % k), os.path.join(args.out, "%s.txt" % k))
        with open(os.path.join(args.out, "%s.txt" % k)) as f:
            n = sum(1 for line in f if line[:1] in "eq")
        print("quorum_capture: %s.txt: %d messages" % (k, n), file=sys.stderr)
    if args.keep:
        print("quorum_capture: kept %s" % work, file=sys.stderr)
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""kazoo through a server crash: the session and its watches survive `kill -9` + restart.

Usage: kazoo_restart.py HOST:PORT LOG_FILE [--clean-exit] -- SERVER_COMMAND...

Starts the server (SERVER_COMMAND, output appended to LOG_FILE), connects a kazoo client,
creates an ephemeral and starts a DataWatch and a ChildrenWatch, kills the server with SIGKILL and
starts it again on the same data dir. kazoo must go SUSPENDED then CONNECTED again with the
same session (never LOST), the ephemeral must still be there, and the watch recipes must see
changes made by another client afterwards. Finally the server gets SIGTERM; with --clean-exit it
must exit 0 (graceful shutdown).

Prints `PASS restart` or `FAIL restart: <reason>` and a traceback; exits 0 or 1. Every wait has a
deadline; nothing sleeps for a fixed time except short polls.
"""

import signal
import socket
import subprocess
import sys
import time
import traceback

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch, DataWatch

DEADLINE = 30.0


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def wait_until(pred, what, timeout=DEADLINE):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= end:
            raise CheckFailed("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.01)


def wait_event(event, what):
    if not event.wait(DEADLINE):
        raise CheckFailed("timed out after %.0fs waiting for %s" % (DEADLINE, what))


def serving(hosts):
    host, port = hosts.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1) as s:
            s.sendall(b"ruok")
            return s.recv(4) == b"imok"
    except OSError:
        return False


def start_server(cmd, log, hosts):
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: proc.poll() is None and serving(hosts) or proc.poll() is not None,
                   "the server to serve")
    except CheckFailed:
        proc.kill()
        raise
    check(proc.poll() is None, "server exited with %s during start" % proc.returncode)
    return proc


def run(hosts, log_path, clean_exit, cmd):
    with open(log_path, "ab") as log:
        proc = start_server(cmd, log, hosts)
        clients = []
        try:
            zk = KazooClient(hosts=hosts, timeout=10.0)
            states = []
            zk.add_listener(states.append)
            zk.start(timeout=DEADLINE)
            clients.append(zk)
            session_id = zk.client_id[0]
            eph = zk.create("/restart/eph", b"mine", ephemeral=True, makepath=True)
            zk.create("/restart/data", b"0")
            # kazoo 2.10 sends no SetWatches: on a connection loss it fires every one-shot watch
            # with a NONE event and forgets it. Its DataWatch/ChildrenWatch recipes re-read and
            # re-watch after reconnecting; they must carry on across the restart.
            values, kids = [], []
            DataWatch(zk, "/restart/data", lambda data, stat: values.append(data))
            ChildrenWatch(zk, "/restart", lambda children: kids.append(sorted(children)))
            wait_until(lambda: values == [b"0"], "DataWatch's first call")
            wait_until(lambda: kids == [["data", "eph"]], "ChildrenWatch's first call")

            proc.kill()  # SIGKILL
            proc.wait(DEADLINE)
            wait_until(lambda: KazooState.SUSPENDED in states, "SUSPENDED after the kill")
            proc = start_server(cmd, log, hosts)
            wait_until(lambda: zk.state == KazooState.CONNECTED, "CONNECTED after the restart")
            check(KazooState.LOST not in states, "session LOST across the restart: %r" % states)
            check(zk.client_id[0] == session_id,
                  "session changed: %#x -> %#x" % (session_id, zk.client_id[0]))
            stat = zk.exists(eph)
            check(stat is not None, "ephemeral gone after the restart")
            check(stat.ephemeralOwner == session_id, "ephemeral owner %#x" % stat.ephemeralOwner)

            other = KazooClient(hosts=hosts, timeout=10.0)
            other.start(timeout=DEADLINE)
            clients.append(other)
            other.set("/restart/data", b"1")
            wait_until(lambda: values[-1:] == [b"1"], "DataWatch to see the change after the restart")
            other.create("/restart/new", b"")
            wait_until(lambda: kids[-1:] == [["data", "eph", "new"]],
                       "ChildrenWatch to see the new child after the restart")
            check(zk.get("/restart/data")[0] == b"1", "read after the event")
            zk.delete("/restart", recursive=True)
        finally:
            for c in clients:
                c.stop()
                c.close()
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(DEADLINE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raise CheckFailed("server ignored SIGTERM for %.0fs" % DEADLINE)
                if clean_exit:
                    check(code == 0, "server exited with %s after SIGTERM" % code)


def main(argv):
    if "--" not in argv or len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    opts, cmd = argv[1:split], argv[split + 1:]
    hosts, log_path = opts[0], opts[1]
    clean_exit = "--clean-exit" in opts[2:]
    try:
        run(hosts, log_path, clean_exit, cmd)
    except Exception as e:  # noqa: BLE001
        print("FAIL restart: %s" % e, flush=True)
        traceback.print_exc(file=sys.stdout)
        return 1
    print("PASS restart", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

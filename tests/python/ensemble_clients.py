#!/usr/bin/env python3
"""kazoo as one of the mixed clients of tests/ensemble_clients.rs, driven line by line over stdin.

Usage: ensemble_clients.py HOSTS PREFIX

Connects to HOSTS in the order given (randomize_hosts=False, so it starts on the first server),
creates the ephemeral PREFIX/eph and starts a DataWatch on PREFIX/watched (which must exist), then
prints `READY <session id hex>` and answers one command per stdin line, one reply line each:

  WAIT_CONNECTED [moved] wait until kazoo is CONNECTED, with the same session and never LOST since
                         the previous WAIT_CONNECTED; with `moved` (the test killed our server) it
                         must also have gone SUSPENDED first -> `CONNECTED <session hex>`
  WAIT_DATA <value>      wait until the DataWatch has seen <value> -> `DATA <value>`
  CHECK_EPH              PREFIX/eph exists and this session owns it -> `EPH ok`
  SYNC_READ <path> <v>   sync(path), then get(path) must return <v> -> `READ ok`
  QUIT                   stop the client (closing the session) -> `BYE`

Any failure prints `FAIL <reason>` (and a traceback) and exits 1. kazoo 2.10 sends no SetWatches on
reconnect: its one-shot watches fire with a NONE event on connection loss and are gone, so the watch
that must survive the move is kazoo's DataWatch recipe, which re-reads and re-watches on reconnect.
Every wait has a deadline; nothing sleeps for a fixed time except short polls.
"""

import sys
import time
import traceback

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import DataWatch

DEADLINE = 30.0
SESSION_TIMEOUT = 20.0


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


def reply(line):
    print(line, flush=True)


def run(hosts, prefix):
    zk = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT, randomize_hosts=False)
    states = []
    zk.add_listener(states.append)
    zk.start(timeout=DEADLINE)
    try:
        session = zk.client_id[0]
        eph = prefix + "/eph"
        zk.create(eph, b"kazoo", ephemeral=True)
        values = []
        DataWatch(zk, prefix + "/watched", lambda data, stat: values.append(data))
        wait_until(lambda: len(values) > 0, "DataWatch's first call")
        reply("READY %#x" % session)
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            cmd, args = words[0], words[1:]
            if cmd == "WAIT_CONNECTED":
                if args[:1] == ["moved"]:
                    wait_until(lambda: KazooState.SUSPENDED in states, "SUSPENDED after the kill")
                wait_until(lambda: zk.state == KazooState.CONNECTED, "CONNECTED after the move")
                check(KazooState.LOST not in states, "session LOST in the move: %r" % states)
                check(zk.client_id[0] == session,
                      "session changed: %#x -> %#x" % (session, zk.client_id[0]))
                del states[:]
                reply("CONNECTED %#x" % session)
            elif cmd == "WAIT_DATA":
                want = args[0].encode()
                wait_until(lambda: values[-1:] == [want],
                           "DataWatch to see %r (seen %r)" % (want, values[-3:]))
                reply("DATA %s" % args[0])
            elif cmd == "CHECK_EPH":
                stat = zk.exists(eph)
                check(stat is not None, "ephemeral %s gone" % eph)
                check(stat.ephemeralOwner == session,
                      "ephemeral owner %#x, session %#x" % (stat.ephemeralOwner, session))
                reply("EPH ok")
            elif cmd == "SYNC_READ":
                path, want = args[0], args[1].encode()
                zk.sync(path)
                data, _ = zk.get(path)
                check(data == want, "read %r from %s after sync, expected %r" % (data, path, want))
                reply("READ ok")
            elif cmd == "QUIT":
                break
            else:
                raise CheckFailed("unknown command %r" % line)
    finally:
        zk.stop()
        zk.close()
    reply("BYE")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(argv[1], argv[2])
    except Exception as e:  # noqa: BLE001
        reply("FAIL %s" % e)
        traceback.print_exc(file=sys.stdout)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

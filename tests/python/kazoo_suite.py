#!/usr/bin/env python3
"""kazoo (python-zk) against a ZooKeeper-wire server: basic operations and kazoo's own recipes.

Usage: kazoo_suite.py HOST:PORT [CHECK ...]

Runs every check (or the named ones) in order, each under its own root node, and prints one line
per check: `PASS <name> (<ms> ms)` or `FAIL <name>: <reason>` followed by the traceback. Exits 0
when every check passed, 1 otherwise, 2 on bad usage. Nothing waits on a fixed sleep: every wait
is an Event, a recipe call or a poll loop with a deadline (DEADLINE seconds).

tests/thirdparty_kazoo.rs runs it against zk-server and, as a control, against Apache ZooKeeper.
"""

import sys
import threading
import time
import traceback
import uuid

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    NoChildrenForEphemeralsError,
)
from kazoo.protocol.states import EventType, KazooState
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.recipe.watchers import ChildrenWatch, DataWatch
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

# Longest wait for any single condition; generous for a loaded 2-core CI machine.
DEADLINE = 20.0

HOSTS = None
ROOT = None
CLIENTS = []


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)


def eq(got, expected, what):
    if got != expected:
        raise CheckFailed("%s: expected %r, got %r" % (what, expected, got))


def wait_until(pred, what, timeout=DEADLINE):
    """Polls pred() (cheap, local) until true or the deadline passes."""
    end = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() >= end:
            raise CheckFailed("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(0.01)


def wait_event(event, what, timeout=DEADLINE):
    if not event.wait(timeout):
        raise CheckFailed("timed out after %.0fs waiting for %s" % (timeout, what))


def client(**kwargs):
    kwargs.setdefault("timeout", 10.0)
    c = KazooClient(hosts=HOSTS, **kwargs)
    c.start(timeout=DEADLINE)
    CLIENTS.append(c)
    return c


def close(c):
    c.stop()
    c.close()
    if c in CLIENTS:
        CLIENTS.remove(c)


def p(name):
    return "%s/%s" % (ROOT, name)


# ---------------------------------------------------------------- basic operations


def check_crud(zk):
    path = zk.create(p("crud"), b"v1")
    eq(path, p("crud"), "created path")
    data, stat = zk.get(path)
    eq(data, b"v1", "data")
    eq((stat.version, stat.dataLength, stat.numChildren), (0, 2, 0), "stat")
    check(stat.czxid == stat.mzxid, "czxid == mzxid on a new node")
    stat2 = zk.set(path, b"v2", version=0)
    eq(stat2.version, 1, "version after set")
    check(stat2.mzxid > stat2.czxid, "mzxid grows")
    try:
        zk.set(path, b"v3", version=0)
        raise CheckFailed("set with a stale version succeeded")
    except BadVersionError:
        pass
    try:
        zk.create(path, b"")
        raise CheckFailed("second create succeeded")
    except NodeExistsError:
        pass
    try:
        zk.create(p("missing/child"), b"")
        raise CheckFailed("create under a missing parent succeeded")
    except NoNodeError:
        pass
    zk.create(p("crud/a"), b"")
    zk.create(p("crud/b/c"), b"deep", makepath=True)
    eq(sorted(zk.get_children(path)), ["a", "b"], "children")
    kids, st = zk.get_children(path, include_data=True)
    eq(st.numChildren, 2, "numChildren")
    try:
        zk.delete(path)
        raise CheckFailed("delete of a non-empty node succeeded")
    except NotEmptyError:
        pass
    zk.delete(path, recursive=True)
    eq(zk.exists(path), None, "exists after recursive delete")
    zk.ensure_path(p("ensure/x/y"))
    check(zk.exists(p("ensure/x/y")) is not None, "ensure_path created the chain")
    zk.sync(p("ensure"))
    eq(zk.get(p("ensure/x/y"))[0], b"", "empty data")


def check_sequence_and_ephemeral(zk):
    zk.create(p("seq"), b"")
    names = [zk.create(p("seq/n-"), b"", sequence=True) for _ in range(3)]
    eq(names, [p("seq/n-%010d" % i) for i in range(3)], "sequential names")
    other = client()
    eph = other.create(p("eph"), b"mine", ephemeral=True)
    _, st = zk.get(eph)
    eq(st.ephemeralOwner, other.client_id[0], "ephemeralOwner")
    try:
        other.create(p("eph/child"), b"")
        raise CheckFailed("child of an ephemeral was created")
    except NoChildrenForEphemeralsError:
        pass
    eseq = other.create(p("seq/e-"), b"", ephemeral=True, sequence=True)
    eq(eseq, p("seq/e-%010d" % 3), "ephemeral sequential name")
    gone = threading.Event()

    def watcher(event):
        if event.type == EventType.DELETED:
            gone.set()

    check(zk.exists(eph, watch=watcher) is not None, "ephemeral visible to another session")
    close(other)  # closes the session: its ephemerals go
    wait_event(gone, "NodeDeleted of the ephemeral after its session closed")
    eq(zk.exists(eph), None, "ephemeral after close")
    eq(zk.exists(eseq), None, "ephemeral sequential after close")


def check_transactions(zk):
    zk.create(p("txn"), b"")
    t = zk.transaction()
    t.create(p("txn/a"), b"1")
    t.create(p("txn/b"), b"2")
    t.set_data(p("txn"), b"parent", version=0)
    t.check(p("txn/a"), 0)
    results = t.commit()
    eq(results[:2], [p("txn/a"), p("txn/b")], "created paths in the results")
    eq(len(results), 4, "one result per op")
    eq(zk.get(p("txn"))[0], b"parent", "set inside the txn")
    t = zk.transaction()
    t.create(p("txn/c"), b"")
    t.delete(p("txn/missing"))
    t.create(p("txn/d"), b"")
    results = t.commit()
    check(isinstance(results[1], NoNodeError), "failing op reports NoNode: %r" % (results,))
    check(zk.exists(p("txn/c")) is None, "nothing of a failed txn is applied")
    t = zk.transaction()
    t.delete(p("txn/a"))
    t.delete(p("txn/b"), version=0)
    eq(t.commit(), [True, True], "delete results")
    eq(zk.get_children(p("txn")), [], "children after txn deletes")


def check_watches(zk):
    other = client()
    zk.create(p("w"), b"0")
    data_ev = threading.Event()
    child_ev = threading.Event()
    exist_ev = threading.Event()
    got = {}

    def on_data(event):
        got["data"] = event
        data_ev.set()

    def on_child(event):
        got["child"] = event
        child_ev.set()

    def on_exist(event):
        got["exist"] = event
        exist_ev.set()

    zk.get(p("w"), watch=on_data)
    zk.get_children(p("w"), watch=on_child)
    check(zk.exists(p("w/new"), watch=on_exist) is None, "no node yet")
    other.set(p("w"), b"1")
    other.create(p("w/new"), b"")
    wait_event(data_ev, "NodeDataChanged")
    wait_event(child_ev, "NodeChildrenChanged")
    wait_event(exist_ev, "NodeCreated")
    eq((got["data"].type, got["data"].path), (EventType.CHANGED, p("w")), "data event")
    eq((got["child"].type, got["child"].path), (EventType.CHILD, p("w")), "child event")
    eq((got["exist"].type, got["exist"].path), (EventType.CREATED, p("w/new")), "exist event")
    # A client that receives an event already sees the write that caused it.
    eq(zk.get(p("w"))[0], b"1", "read after the event")

    # DataWatch: called with the current value, then on every change, then on delete.
    seen = []
    cond = threading.Condition()

    def data_watch(data, stat):
        with cond:
            seen.append(data)
            cond.notify_all()

    DataWatch(zk, p("w/new"), data_watch)
    wait_until(lambda: seen == [b""], "DataWatch initial call")
    # One change at a time: DataWatch re-reads on each event, so changes made before that read
    # would legitimately coalesce.
    for v in (b"a", b"b"):
        other.set(p("w/new"), v)
        wait_until(lambda: seen[-1:] == [v], "DataWatch to see %r" % v)
    other.delete(p("w/new"))
    wait_until(lambda: seen[-1:] == [None], "DataWatch to see the delete")
    eq(seen, [b"", b"a", b"b", None], "DataWatch values")

    # ChildrenWatch: called with the current children, then on every change.
    kids = []

    def children_watch(children):
        kids.append(sorted(children))

    ChildrenWatch(zk, p("w"), children_watch)
    other.create(p("w/x"), b"")
    wait_until(lambda: kids[-1:] == [["x"]], "ChildrenWatch to see x")
    other.create(p("w/y"), b"")
    wait_until(lambda: kids[-1:] == [["x", "y"]], "ChildrenWatch to see y")
    other.delete(p("w/x"))
    wait_until(lambda: kids[-1:] == [["y"]], "ChildrenWatch to see x go")
    eq(kids[0], [], "ChildrenWatch initial call")
    close(other)


def check_acls_and_auth(zk):
    owner = client(auth_data=[("digest", "alice:secret")])
    acl = make_digest_acl("alice", "secret", all=True)
    owner.create(p("private"), b"x", acl=[acl])
    try:
        zk.get(p("private"))
        raise CheckFailed("read without auth succeeded")
    except NoAuthError:
        pass
    acls, st = owner.get_acls(p("private"))
    eq(len(acls), 1, "one ACL")
    eq((acls[0].id.scheme, acls[0].id.id), ("digest", acl.id.id), "digest ACL id")
    eq(acls[0].perms, 31, "ALL perms")
    owner.set_acls(p("private"), OPEN_ACL_UNSAFE, version=st.aversion)
    eq(zk.get(p("private"))[0], b"x", "readable after setACL")
    eq(zk.get_acls(p("private"))[1].aversion, 1, "aversion after setACL")
    zk.add_auth("digest", "bob:pw")
    zk.set(p("private"), b"y")
    close(owner)


def check_server_info(zk):
    version = zk.server_version()
    check(len(version) >= 2 and all(isinstance(x, int) for x in version),
          "server_version() parses envi: %r" % (version,))
    eq(zk.command(b"ruok"), "imok", "ruok")
    eq(zk.get_children("/zookeeper") and sorted(zk.get_children("/zookeeper")),
       ["config", "quota"], "/zookeeper children")


# ---------------------------------------------------------------- recipes


def check_lock(zk):
    a, b = client(), client()
    la = a.Lock(p("lock"), "a")
    lb = b.Lock(p("lock"), "b")
    check(la.acquire(timeout=DEADLINE), "a acquires a free lock")
    check(not lb.acquire(blocking=False), "b must not acquire a held lock")
    acquired = threading.Event()

    def contender():
        if lb.acquire(timeout=DEADLINE):
            acquired.set()

    t = threading.Thread(target=contender)
    t.start()
    # b is queued behind a: both are contenders, and b does not hold the lock.
    wait_until(lambda: len(la.contenders()) == 2, "b to queue behind a")
    eq(la.contenders(), ["a", "b"], "contenders in order")
    check(not acquired.is_set(), "b acquired while a held the lock")
    la.release()
    wait_event(acquired, "b to acquire after a released")
    t.join(DEADLINE)
    check(lb.is_acquired, "b holds the lock")
    lb.release()

    # Mutual exclusion under contention: read-modify-write of one node without versions, under
    # the lock, from several sessions; lost updates would show a mutual-exclusion failure.
    zk.create(p("guarded"), b"0")
    workers, rounds = 4, 10
    sessions = [client() for _ in range(workers)]
    inside = []
    overlaps = []
    errors = []

    def worker(c, name):
        try:
            lock = c.Lock(p("lock2"), name)
            for _ in range(rounds):
                with lock:
                    inside.append(name)
                    if len(inside) > 1:
                        overlaps.append(list(inside))
                    v = int(c.get(p("guarded"))[0])
                    c.set(p("guarded"), str(v + 1).encode())
                    inside.remove(name)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append("%s: %r" % (name, e))

    threads = [threading.Thread(target=worker, args=(c, "w%d" % i)) for i, c in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE * 2)
    check(not any(t.is_alive() for t in threads), "lock workers finished")
    eq(errors, [], "lock worker errors")
    eq(overlaps, [], "two holders at once")
    eq(int(zk.get(p("guarded"))[0]), workers * rounds, "increments under the lock")
    for c in sessions:
        close(c)

    # A holder whose session closes loses the lock to the next contender.
    c1, c2 = client(), client()
    l1, l2 = c1.Lock(p("lock3"), "one"), c2.Lock(p("lock3"), "two")
    check(l1.acquire(timeout=DEADLINE), "one acquires")
    got = threading.Event()
    t = threading.Thread(target=lambda: l2.acquire(timeout=DEADLINE) and got.set())
    t.start()
    wait_until(lambda: len(l1.contenders()) == 2, "two to queue")
    close(c1)
    wait_event(got, "two to acquire after one's session closed")
    t.join(DEADLINE)
    l2.release()
    close(a)
    close(b)
    close(c2)


def check_rw_lock_and_semaphore(zk):
    a, b = client(), client()
    r1, r2 = a.ReadLock(p("rw"), "r1"), b.ReadLock(p("rw"), "r2")
    check(r1.acquire(timeout=DEADLINE), "first reader")
    check(r2.acquire(timeout=DEADLINE), "readers share the lock")
    w = zk.WriteLock(p("rw"), "w")
    check(not w.acquire(blocking=False), "writer must wait for readers")
    r1.release()
    r2.release()
    check(w.acquire(timeout=DEADLINE), "writer after readers left")
    check(not r1.acquire(blocking=False), "reader must wait for the writer")
    w.release()

    s1 = a.Semaphore(p("sem"), "s1", max_leases=2)
    s2 = b.Semaphore(p("sem"), "s2", max_leases=2)
    s3 = zk.Semaphore(p("sem"), "s3", max_leases=2)
    check(s1.acquire(timeout=DEADLINE) and s2.acquire(timeout=DEADLINE), "two leases")
    check(not s3.acquire(blocking=False), "no third lease")
    eq(sorted(s3.lease_holders()), ["s1", "s2"], "lease holders")
    s1.release()
    check(s3.acquire(timeout=DEADLINE), "third after a release")
    s2.release()
    s3.release()
    close(a)
    close(b)


ABANDON_SESSION = """
import os, sys
from kazoo.client import KazooClient
c = KazooClient(hosts=sys.argv[1], timeout=10.0)
c.start(timeout=20)
c.create(sys.argv[2], b"", ephemeral=True)
sid, pw = c.client_id
print("%d %s" % (sid, pw.hex()), flush=True)
os._exit(0)  # no closeSession: the session lives on until it times out
"""


def check_session_resume(zk):
    # Another process creates an ephemeral and exits without closing its session.
    import subprocess

    out = subprocess.run([sys.executable, "-c", ABANDON_SESSION, HOSTS, p("held")],
                         capture_output=True, text=True, timeout=DEADLINE)
    check(out.returncode == 0, "abandoning process failed: %s" % out.stderr)
    sid, pw = out.stdout.split()
    session_id, password = int(sid), bytes.fromhex(pw)
    eq(zk.exists(p("held")).ephemeralOwner, session_id, "abandoned session's ephemeral")
    # Presenting the same id and password resumes the session: same id, ephemeral kept.
    resumed = client(client_id=(session_id, password), timeout=10.0)
    eq(resumed.client_id[0], session_id, "resumed session id")
    eq(resumed.exists(p("held")).ephemeralOwner, session_id, "ephemeral owner after resume")
    resumed.create(p("held2"), b"", ephemeral=True)
    close(resumed)
    # kazoo's stop() leaves its loop once stopping is flagged, without waiting for the
    # closeSession reply, so the deletion is only eventually visible to another session.
    wait_until(lambda: zk.exists(p("held")) is None and zk.exists(p("held2")) is None,
               "the resumed session's ephemerals to go after it closed")


def check_election(zk):
    clients = [client() for _ in range(3)]
    elections = [c.Election(p("election"), "e%d" % i) for i, c in enumerate(clients)]
    leaders = []
    current = []
    overlaps = []
    release = {i: threading.Event() for i in range(3)}
    lock = threading.Lock()

    def lead(i):
        with lock:
            current.append(i)
            if len(current) > 1:
                overlaps.append(list(current))
            leaders.append(i)
        release[i].wait(DEADLINE * 2)
        with lock:
            current.remove(i)

    threads = [threading.Thread(target=e.run, args=(lead, i)) for i, e in enumerate(elections)]
    for t in threads:
        t.start()
    wait_until(lambda: len(leaders) == 1 and len(elections[0].contenders()) == 3,
               "a first leader and three contenders")
    first = leaders[0]
    eq(sorted(elections[0].contenders()), ["e0", "e1", "e2"], "contenders")
    # Each leader steps down in turn; the next one takes over, never two at once.
    for n in range(1, 3):
        release[leaders[-1]].set()
        wait_until(lambda: len(leaders) == n + 1, "leader number %d" % (n + 1))
    release[leaders[-1]].set()
    for t in threads:
        t.join(DEADLINE)
    eq(sorted(leaders), [0, 1, 2], "every contender led once")
    eq(overlaps, [], "two leaders at once")
    check(first in (0, 1, 2), "first leader")
    for c in clients:
        close(c)


def check_counter(zk):
    counter = zk.Counter(p("counter"))
    eq(counter.value, 0, "default value")
    counter += 5
    counter -= 2
    eq(counter.value, 3, "after += 5, -= 2")
    sessions = [client() for _ in range(3)]
    errors = []

    def bump(c):
        try:
            cnt = c.Counter(p("counter"))
            for _ in range(10):
                cnt += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=bump, args=(c,)) for c in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE * 2)
    eq(errors, [], "counter errors")
    eq(zk.Counter(p("counter")).value, 33, "concurrent increments (optimistic, versioned)")
    fc = zk.Counter(p("fcounter"), default=0.0)
    fc += 2.5
    eq(fc.value, 2.5, "float counter")
    for c in sessions:
        close(c)


def check_barrier(zk):
    other = client()
    barrier = zk.Barrier(p("barrier"))
    barrier.create()
    check(not barrier.wait(timeout=0.2), "wait on a set barrier times out")
    passed = threading.Event()
    t = threading.Thread(target=lambda: barrier.wait(timeout=DEADLINE) and passed.set())
    t.start()
    check(not passed.is_set(), "passed a set barrier")
    eq(other.Barrier(p("barrier")).remove(), True, "remove")
    wait_event(passed, "waiter to pass the removed barrier")
    t.join(DEADLINE)

    # DoubleBarrier: nobody enters until all have arrived; nobody leaves until all have left.
    n = 3
    sessions = [client() for _ in range(n)]
    entered = []
    left = []
    errors = []

    def participant(c, i):
        try:
            db = c.DoubleBarrier(p("double"), n, identifier="p%d" % i)
            db.enter()
            entered.append(i)
            db.leave()
            left.append(i)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=participant, args=(c, i)) for i, c in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE * 2)
    check(not any(t.is_alive() for t in threads), "double barrier participants finished")
    eq(errors, [], "double barrier errors")
    eq((sorted(entered), sorted(left)), (list(range(n)), list(range(n))), "entered/left")
    for c in sessions:
        close(c)
    close(other)


def check_queue(zk):
    q = zk.Queue(p("queue"))
    for v in (b"one", b"two", b"three"):
        q.put(v)
    q.put(b"urgent", priority=1)
    eq(len(q), 4, "queue length")
    other = client()
    q2 = other.Queue(p("queue"))
    eq([q2.get() for _ in range(4)], [b"urgent", b"one", b"two", b"three"], "queue order")
    eq(q.get(), None, "empty queue")

    lq = zk.LockingQueue(p("lqueue"))
    lq.put_all([b"a", b"b"])
    lq.put(b"first", priority=10)
    eq(len(lq), 3, "locking queue length")
    lq2 = other.LockingQueue(p("lqueue"))
    eq(lq2.get(timeout=DEADLINE), b"first", "highest priority first")
    check(lq2.holds_lock(), "consumer holds the item's lock")
    # A second consumer skips the locked item.
    eq(lq.get(timeout=DEADLINE), b"a", "second consumer skips the taken item")
    check(lq2.consume(), "consume")
    check(lq.release(), "release puts the item back")
    eq(lq2.get(timeout=DEADLINE), b"a", "released item is available again")
    check(lq2.consume(), "consume a")
    eq(lq.get(timeout=DEADLINE), b"b", "last item")
    check(lq.consume(), "consume b")
    eq(len(lq), 0, "empty after consuming")
    # A blocked get wakes up when an item arrives.
    got = []
    t = threading.Thread(target=lambda: got.append(lq.get(timeout=DEADLINE)))
    t.start()
    lq2.put(b"late")
    t.join(DEADLINE + 5)
    eq(got, [b"late"], "blocked get receives a later put")
    check(lq.consume(), "consume late")
    close(other)


def check_tree_cache(zk):
    other = client()
    zk.create(p("tree/a"), b"1", makepath=True)
    events = []
    initialized = threading.Event()

    def listener(event):
        events.append(event)
        if event.event_type == TreeEvent.INITIALIZED:
            initialized.set()

    cache = TreeCache(zk, p("tree"))
    cache.listen(listener)
    cache.start()
    wait_event(initialized, "TreeCache INITIALIZED")
    eq(cache.get_data(p("tree/a")).data, b"1", "cached initial data")
    other.create(p("tree/b/c"), b"deep", makepath=True)
    other.set(p("tree/a"), b"2")
    wait_until(lambda: cache.get_data(p("tree/b/c")) is not None, "cache to see tree/b/c")
    wait_until(lambda: cache.get_data(p("tree/a")).data == b"2", "cache to see tree/a=2")
    eq(sorted(cache.get_children(p("tree"))), ["a", "b"], "cached children")
    other.delete(p("tree/a"))
    wait_until(lambda: cache.get_data(p("tree/a")) is None, "cache to drop tree/a")
    # Listeners run on kazoo's callback thread, after the cache state changed: wait for them.
    def emitted(kind, path):
        return any(e.event_type == kind and e.event_data is not None and e.event_data.path == path
                   for e in list(events))

    for kind, path in ((TreeEvent.NODE_ADDED, p("tree/b/c")), (TreeEvent.NODE_UPDATED, p("tree/a")),
                       (TreeEvent.NODE_REMOVED, p("tree/a"))):
        wait_until(lambda: emitted(kind, path), "TreeCache event %d for %s: %r"
                   % (kind, path, [(e.event_type, e.event_data and e.event_data.path) for e in events]))
    cache.close()
    close(other)


CHECKS = [
    ("crud", check_crud),
    ("sequence_and_ephemeral", check_sequence_and_ephemeral),
    ("transactions", check_transactions),
    ("watches", check_watches),
    ("acls_and_auth", check_acls_and_auth),
    ("server_info", check_server_info),
    ("session_resume", check_session_resume),
    ("lock", check_lock),
    ("rw_lock_and_semaphore", check_rw_lock_and_semaphore),
    ("election", check_election),
    ("counter", check_counter),
    ("barrier", check_barrier),
    ("queue", check_queue),
    ("tree_cache", check_tree_cache),
]


def main(argv):
    global HOSTS, ROOT
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    HOSTS = argv[1]
    wanted = argv[2:]
    unknown = [w for w in wanted if w not in dict(CHECKS)]
    if unknown:
        print("unknown checks: %s" % unknown, file=sys.stderr)
        return 2
    failures = 0
    zk = client()
    eq(zk.state, KazooState.CONNECTED, "connected")
    suite_root = "/kazoo-suite-%s" % uuid.uuid4().hex[:8]
    for name, fn in CHECKS:
        if wanted and name not in wanted:
            continue
        ROOT = "%s/%s" % (suite_root, name)
        started = time.monotonic()
        try:
            zk.ensure_path(ROOT)
            fn(zk)
            print("PASS %s (%d ms)" % (name, (time.monotonic() - started) * 1000), flush=True)
        except Exception as e:  # noqa: BLE001 (every failure is reported, then the next check runs)
            failures += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
        finally:
            for c in list(CLIENTS):
                if c is not zk:
                    try:
                        close(c)
                    except Exception:  # noqa: BLE001
                        pass
    zk.delete(suite_root, recursive=True)
    close(zk)
    print("%d of %d checks failed" % (failures, len(wanted or CHECKS)), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

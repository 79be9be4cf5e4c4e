// Drives Apache ZooKeeper's own Java client through zkproxy.py to record golden wire fixtures.
//
// Usage: java -cp <classes>:/usr/share/java/zookeeper.jar Capture <proxy port> <control port> <server port> <out dir>
//
// Each scenario opens its own fixture file on the proxy, connects one session *through* the proxy (only that
// session is recorded) and uses a second "admin" session connected *directly* to the server to prepare nodes
// and to make changes that fire watches. Every step is announced with a "# --- ..." comment line before its
// frames. Run by capture.sh; see proto/tests/fixtures/README.md.

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.Version;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public final class Capture {
    private static final long AWAIT_SECONDS = 30;
    private static final int SESSION_TIMEOUT_MS = 30000;
    private static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE;

    /** The proxy's control connection: one command per line, answered "ok" or "err ...". */
    static final class Control {
        private final BufferedReader in;
        private final Writer out;

        Control(int port) throws IOException {
            Socket socket = new Socket("127.0.0.1", port);
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            out = new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8);
        }

        void send(String line) throws IOException {
            out.write(line + "\n");
            out.flush();
            String reply = in.readLine();
            if (!"ok".equals(reply)) {
                throw new IOException("proxy control `" + line + "`: " + reply);
            }
        }
    }

    /** A watcher that remembers every event so a test step can wait for a particular one. */
    static final class Events implements Watcher {
        private final List<WatchedEvent> events = new ArrayList<>();

        @Override
        public synchronized void process(WatchedEvent event) {
            events.add(event);
            notifyAll();
        }

        /** Waits for (and consumes) the first event with this type, state and path (null = any path). */
        synchronized WatchedEvent await(EventType type, KeeperState state, String path) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(AWAIT_SECONDS);
            while (true) {
                for (WatchedEvent e : events) {
                    if (e.getType() == type && e.getState() == state
                            && (path == null || path.equals(e.getPath()))) {
                        events.remove(e);
                        return e;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("no " + type + "/" + state + " " + path + " in " + events);
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
        }
    }

    /** A connected ZooKeeper handle and its default watcher. */
    static final class Session implements AutoCloseable {
        final ZooKeeper zk;
        final Events events;

        Session(String connect, int timeoutMs) throws Exception {
            events = new Events();
            zk = new ZooKeeper(connect, timeoutMs, events);
            events.await(EventType.None, KeeperState.SyncConnected, null);
        }

        @Override
        public void close() throws InterruptedException {
            zk.close();
        }
    }

    interface Body {
        void run() throws Exception;
    }

    private final String proxy;
    private final Control control;
    private final File outDir;
    private final Session admin;

    Capture(int proxyPort, int controlPort, int serverPort, File outDir) throws Exception {
        this.proxy = "127.0.0.1:" + proxyPort;
        this.control = new Control(controlPort);
        this.outDir = outDir;
        this.admin = new Session("127.0.0.1:" + serverPort, SESSION_TIMEOUT_MS);
    }

    private void comment(String text) throws IOException {
        control.send("comment " + text);
    }

    private void step(String text) throws IOException {
        comment("--- " + text);
    }

    private void scenario(String file, String[] description, Body body) throws Exception {
        control.send("open " + new File(outDir, file).getAbsolutePath());
        comment("Golden ZooKeeper client-protocol frames: Apache ZooKeeper " + Version.getFullVersion());
        comment("(server and Java client), recorded by scripts/capture/zkproxy.py; see README.md here.");
        comment("Format: one frame per line, `c2s|s2c <hex of length prefix + body>  # decoded summary`.");
        comment("Session ids, passwords, zxids and times differ on every capture.");
        comment("");
        for (String line : description) {
            comment(line);
        }
        comment("");
        body.run();
        // Let the proxy record the server closing the connection before the fixture is closed.
        Thread.sleep(200);
        control.send("close");
        System.out.println("captured " + file);
    }

    private Session connect() throws Exception {
        return new Session(proxy, SESSION_TIMEOUT_MS);
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Asserts that `body` fails with exactly `code`. */
    private static void expect(KeeperException.Code code, Body body) throws Exception {
        try {
            body.run();
        } catch (KeeperException e) {
            if (e.code() != code) {
                throw e;
            }
            return;
        }
        throw new IllegalStateException("expected " + code);
    }

    void handshake() throws Exception {
        scenario("connect_close.txt", new String[] {
            "Scenario: a new session is established and closed, nothing else.",
            "c2s 1: ConnectRequest (no RequestHeader): protocolVersion, lastZxidSeen, timeOut, sessionId=0,",
            "       passwd (16 zero bytes), readOnly.",
            "s2c 1: ConnectResponse: protocolVersion, negotiated timeOut, sessionId, passwd, readOnly.",
            "c2s 2: closeSession (xid 1, opcode -11, no body); s2c 2: its reply; then the server closes.",
        }, () -> {
            step("connect");
            Session s = connect();
            step("close the session");
            s.close();
        });
    }

    void create() throws Exception {
        scenario("create.txt", new String[] {
            "Scenario: the create family: create (1) PERSISTENT and EPHEMERAL_SEQUENTIAL, create2 (15),",
            "createContainer (19), createTTL (21; the capture server runs with extendedTypesEnabled=true),",
            "and two failures whose replies carry only a ReplyHeader: NodeExists (-110) and NoNode (-101).",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("create /golden-create data=hello PERSISTENT: opcode 1, reply is the path");
                s.zk.create("/golden-create", bytes("hello"), OPEN, CreateMode.PERSISTENT);
                step("create /golden-create/eph- EPHEMERAL_SEQUENTIAL (flags 3): reply path has a 10-digit suffix");
                s.zk.create("/golden-create/eph-", bytes("e"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
                step("create2 /golden-create/with-stat PERSISTENT (Stat-returning create): opcode 15, reply path + Stat");
                s.zk.create("/golden-create/with-stat", bytes("s"), OPEN, CreateMode.PERSISTENT, new Stat());
                step("create /golden-create/container CONTAINER: opcode 19, reply path + Stat");
                s.zk.create("/golden-create/container", bytes("c"), OPEN, CreateMode.CONTAINER, new Stat());
                step("create /golden-create/ttl PERSISTENT_WITH_TTL ttl=60000: opcode 21, reply path + Stat");
                s.zk.create("/golden-create/ttl", bytes("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 60000);
                step("create /golden-create again: NodeExists (-110), reply header only");
                expect(KeeperException.Code.NODEEXISTS,
                    () -> s.zk.create("/golden-create", bytes("x"), OPEN, CreateMode.PERSISTENT));
                step("create2 /golden-missing/child: parent missing, NoNode (-101), reply header only");
                expect(KeeperException.Code.NONODE,
                    () -> s.zk.create("/golden-missing/child", bytes("x"), OPEN, CreateMode.PERSISTENT, new Stat()));
                step("close the session (the ephemeral node goes with it)");
            }
        });
    }

    void getSetData() throws Exception {
        admin.zk.create("/golden-data", bytes("v0"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-data/null", null, OPEN, CreateMode.PERSISTENT);
        scenario("get_set_data.txt", new String[] {
            "Scenario: getData (4) with a watch, setData (5) by the same session (the watch notification,",
            "xid -1, arrives before the setData reply), setData with a wrong version (BadVersion -103),",
            "getData without a watch, and getData of a node created with null data (data length -1).",
            "Prepared by a direct session: /golden-data = \"v0\", /golden-data/null = null.",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("getData /golden-data watch=true");
                s.zk.getData("/golden-data", true, new Stat());
                step("setData /golden-data v1 version=0: notification NodeDataChanged, then the reply with Stat");
                s.zk.setData("/golden-data", bytes("v1"), 0);
                s.events.await(EventType.NodeDataChanged, KeeperState.SyncConnected, "/golden-data");
                step("setData /golden-data version=7: BadVersion (-103), reply header only");
                expect(KeeperException.Code.BADVERSION, () -> s.zk.setData("/golden-data", bytes("v2"), 7));
                step("getData /golden-data watch=false");
                s.zk.getData("/golden-data", false, new Stat());
                step("getData /golden-data/null: data is a null buffer (length -1)");
                s.zk.getData("/golden-data/null", false, new Stat());
                step("close the session");
            }
        });
    }

    void getChildren() throws Exception {
        admin.zk.create("/golden-children", bytes("p"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-children/a", bytes("a"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-children/b", bytes("b"), OPEN, CreateMode.PERSISTENT);
        scenario("get_children2.txt", new String[] {
            "Scenario: getChildren2 (12, getChildren with a Stat) with and without a watch, getChildren (8)",
            "for comparison, and getChildren2 of a missing node (NoNode -101).",
            "Prepared by a direct session: /golden-children with children a and b.",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("getChildren2 /golden-children watch=false: opcode 12, reply children + Stat");
                s.zk.getChildren("/golden-children", false, new Stat());
                step("getChildren2 /golden-children watch=true");
                s.zk.getChildren("/golden-children", true, new Stat());
                step("getChildren /golden-children watch=false: opcode 8, reply children only");
                s.zk.getChildren("/golden-children", false);
                step("getChildren2 /golden-children/missing: NoNode (-101)");
                expect(KeeperException.Code.NONODE, () -> s.zk.getChildren("/golden-children/missing", false, new Stat()));
                step("close the session");
            }
        });
    }

    void multi() throws Exception {
        admin.zk.create("/golden-multi", bytes("m0"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-multi/old", bytes("o"), OPEN, CreateMode.PERSISTENT);
        scenario("multi.txt", new String[] {
            "Scenario: multi (14): one that succeeds (create + setData + delete + check), one that fails",
            "(create + check with a wrong version + setData: BadVersion), and a multiRead (22).",
            "A failed multi still has err 0 in its ReplyHeader; every result is an error result",
            "(MultiHeader type -1, err e, then int e): 0 for ops before the failing one, the failure's",
            "code, and RuntimeInconsistency (-2) after it. The closing MultiHeader is type -1, done, err -1.",
            "Failed writes consume a zxid, as every write does.",
            "Prepared by a direct session: /golden-multi = \"m0\" with child old.",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("multi [create /golden-multi/new, setData /golden-multi, delete /golden-multi/old, check /golden-multi version=1]");
                s.zk.multi(Arrays.asList(
                    Op.create("/golden-multi/new", bytes("n"), OPEN, CreateMode.PERSISTENT),
                    Op.setData("/golden-multi", bytes("m1"), -1),
                    Op.delete("/golden-multi/old", -1),
                    Op.check("/golden-multi", 1)));
                step("failing multi [create /golden-multi/never, check /golden-multi version=99, setData /golden-multi]");
                try {
                    s.zk.multi(Arrays.asList(
                        Op.create("/golden-multi/never", bytes("x"), OPEN, CreateMode.PERSISTENT),
                        Op.check("/golden-multi", 99),
                        Op.setData("/golden-multi", bytes("m2"), -1)));
                    throw new IllegalStateException("multi should have failed");
                } catch (KeeperException.BadVersionException e) {
                    List<OpResult> results = e.getResults();
                    comment("(the Java client saw " + results.size() + " results for the failed multi)");
                }
                step("multiRead [getData /golden-multi, getChildren /golden-multi, getData /golden-multi/missing]");
                s.zk.multi(Arrays.asList(
                    Op.getData("/golden-multi"),
                    Op.getChildren("/golden-multi"),
                    Op.getData("/golden-multi/missing")));
                step("close the session");
            }
        });
    }

    void watchNotification() throws Exception {
        admin.zk.create("/golden-watch", bytes("w0"), OPEN, CreateMode.PERSISTENT);
        scenario("watch_notification.txt", new String[] {
            "Scenario: watches set by this session fire on changes made by another (direct) session;",
            "each notification is a frame with xid -1, zxid -1, err 0 and a WatcherEvent (type, state, path).",
            "Prepared by a direct session: /golden-watch = \"w0\".",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("getData /golden-watch watch=true");
                s.zk.getData("/golden-watch", true, new Stat());
                step("exists /golden-watch/new watch=true: NoNode (-101), the watch is still set");
                s.zk.exists("/golden-watch/new", true);
                step("getChildren /golden-watch watch=true");
                s.zk.getChildren("/golden-watch", true);
                step("other session: setData /golden-watch -> notification NodeDataChanged /golden-watch");
                admin.zk.setData("/golden-watch", bytes("w1"), -1);
                s.events.await(EventType.NodeDataChanged, KeeperState.SyncConnected, "/golden-watch");
                step("other session: create /golden-watch/new -> NodeCreated /golden-watch/new and NodeChildrenChanged /golden-watch");
                admin.zk.create("/golden-watch/new", bytes("x"), OPEN, CreateMode.PERSISTENT);
                s.events.await(EventType.NodeCreated, KeeperState.SyncConnected, "/golden-watch/new");
                s.events.await(EventType.NodeChildrenChanged, KeeperState.SyncConnected, "/golden-watch");
                step("exists /golden-watch/new watch=true (now a Stat)");
                s.zk.exists("/golden-watch/new", true);
                step("other session: delete /golden-watch/new -> NodeDeleted /golden-watch/new");
                admin.zk.delete("/golden-watch/new", -1);
                s.events.await(EventType.NodeDeleted, KeeperState.SyncConnected, "/golden-watch/new");
                step("close the session");
            }
        });
    }

    void missing() throws Exception {
        scenario("exists_missing.txt", new String[] {
            "Scenario: reads and deletes of a missing node: the reply is a bare ReplyHeader with err NoNode",
            "(-101) and no body, even for exists (the Java client turns it into a null Stat).",
            "exists / is included for contrast (err 0 and a Stat).",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("exists /golden-missing watch=false: NoNode (-101), no body");
                if (s.zk.exists("/golden-missing", false) != null) {
                    throw new IllegalStateException("/golden-missing exists");
                }
                step("getData /golden-missing: NoNode (-101)");
                expect(KeeperException.Code.NONODE, () -> s.zk.getData("/golden-missing", false, null));
                step("delete /golden-missing version=-1: NoNode (-101)");
                expect(KeeperException.Code.NONODE, () -> s.zk.delete("/golden-missing", -1));
                step("exists / watch=false: err 0 and a Stat");
                s.zk.exists("/", false);
                step("close the session");
            }
        });
    }

    /** Drops the proxied connection and waits until the client has reconnected and its re-sent requests are answered. */
    private void dropAndReconnect(Session s, String flushPath) throws Exception {
        step("the proxy drops the connection; the client reconnects (a new connection below)");
        control.send("drop");
        s.events.await(EventType.None, KeeperState.Disconnected, null);
        s.events.await(EventType.None, KeeperState.SyncConnected, null);
        step("exists " + flushPath + " watch=false: its reply shows every re-sent request was answered");
        s.zk.exists(flushPath, false);
    }

    void reconnectSetWatches() throws Exception {
        admin.zk.create("/golden-rw1", bytes("r0"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-rw1/child", bytes("c"), OPEN, CreateMode.PERSISTENT);
        scenario("reconnect_set_watches.txt", new String[] {
            "Scenario: reconnect with only one-shot watches and an auth id. After the proxy drops the",
            "connection, the client sends on the new connection: ConnectRequest (its sessionId, passwd and",
            "lastZxidSeen), and once the ConnectResponse is in, auth (xid -4, opcode 100) then setWatches",
            "(opcode 101, the pre-3.6 record, because no persistent watch exists). ClientCnxn builds",
            "setWatches with SET_WATCHES_XID (-8), but ClientCnxnSocketNIO gives every packet except ping",
            "and auth the next sequential xid when it serializes it, so on the wire setWatches has an",
            "ordinary xid. The re-registered watches then fire.",
            "Prepared by a direct session: /golden-rw1 = \"r0\" with child child.",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("addAuthInfo digest golden:secret (auth: xid -4, opcode 100; the call does not wait for"
                    + " the reply) and getData /golden-rw1 watch=true (data watch)");
                s.zk.addAuthInfo("digest", bytes("golden:secret"));
                s.zk.getData("/golden-rw1", true, new Stat());
                step("exists /golden-rw1/missing watch=true (exist watch, NoNode)");
                s.zk.exists("/golden-rw1/missing", true);
                step("getChildren /golden-rw1 watch=true (child watch)");
                s.zk.getChildren("/golden-rw1", true);
                dropAndReconnect(s, "/golden-rw1");
                step("other session: setData /golden-rw1 and create /golden-rw1/missing: the re-set watches fire");
                admin.zk.setData("/golden-rw1", bytes("r1"), -1);
                admin.zk.create("/golden-rw1/missing", bytes("m"), OPEN, CreateMode.PERSISTENT);
                s.events.await(EventType.NodeDataChanged, KeeperState.SyncConnected, "/golden-rw1");
                s.events.await(EventType.NodeCreated, KeeperState.SyncConnected, "/golden-rw1/missing");
                s.events.await(EventType.NodeChildrenChanged, KeeperState.SyncConnected, "/golden-rw1");
                step("close the session");
            }
        });
    }

    void reconnectSetWatches2() throws Exception {
        admin.zk.create("/golden-rw2", bytes("r0"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-rw2/child", bytes("c0"), OPEN, CreateMode.PERSISTENT);
        scenario("reconnect_set_watches2.txt", new String[] {
            "Scenario: reconnect with one-shot and persistent watches. addWatch (106) registers a",
            "PERSISTENT_RECURSIVE watch on /golden-rw2 and a PERSISTENT watch on /golden-rw2/child. After",
            "the proxy drops the connection the client re-sends them with setWatches2 (opcode 105, an",
            "ordinary sequential xid as in reconnect_set_watches.txt), which carries two more lists",
            "(persistent, persistentRecursive) than setWatches (101). The addWatch reply has a body: an",
            "ErrorResponse (int err, 0). The client does not wait for the setWatches2 reply before",
            "sending its next request, so the two may interleave.",
            "Prepared by a direct session: /golden-rw2 = \"r0\" with child child = \"c0\".",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("getData /golden-rw2 watch=true (one-shot data watch)");
                s.zk.getData("/golden-rw2", true, new Stat());
                step("addWatch /golden-rw2 PERSISTENT_RECURSIVE (mode 1)");
                s.zk.addWatch("/golden-rw2", AddWatchMode.PERSISTENT_RECURSIVE);
                step("addWatch /golden-rw2/child PERSISTENT (mode 0)");
                s.zk.addWatch("/golden-rw2/child", AddWatchMode.PERSISTENT);
                dropAndReconnect(s, "/golden-rw2");
                step("other session: setData /golden-rw2/child -> one NodeDataChanged /golden-rw2/child");
                admin.zk.setData("/golden-rw2/child", bytes("c1"), -1);
                s.events.await(EventType.NodeDataChanged, KeeperState.SyncConnected, "/golden-rw2/child");
                step("other session: setData /golden-rw2 -> NodeDataChanged /golden-rw2");
                admin.zk.setData("/golden-rw2", bytes("r1"), -1);
                s.events.await(EventType.NodeDataChanged, KeeperState.SyncConnected, "/golden-rw2");
                step("other session: create /golden-rw2/new -> NodeCreated /golden-rw2/new (recursive watch)");
                admin.zk.create("/golden-rw2/new", bytes("n"), OPEN, CreateMode.PERSISTENT);
                s.events.await(EventType.NodeCreated, KeeperState.SyncConnected, "/golden-rw2/new");
                step("close the session");
            }
        });
    }

    void misc() throws Exception {
        admin.zk.create("/golden-misc", bytes("x"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-misc/a", bytes("a"), OPEN, CreateMode.PERSISTENT);
        admin.zk.create("/golden-misc/a/b", bytes("b"), OPEN, CreateMode.PERSISTENT);
        scenario("acl_sync_misc.txt", new String[] {
            "Scenario: the remaining request kinds the 3.8 Java client sends: getACL (6), setACL (7),",
            "sync (9), getAllChildrenNumber (104), getEphemerals (103), whoAmI (107), removeWatches (18).",
            "Prepared by a direct session: /golden-misc/a/b.",
        }, () -> {
            step("connect");
            try (Session s = connect()) {
                step("create /golden-misc/eph EPHEMERAL (so getEphemerals has something to list)");
                s.zk.create("/golden-misc/eph", bytes("e"), OPEN, CreateMode.EPHEMERAL);
                step("getACL /golden-misc: acl [world:anyone:31] + Stat");
                s.zk.getACL("/golden-misc", new Stat());
                step("setACL /golden-misc [world:anyone READ|WRITE|CREATE|DELETE] version=-1: reply Stat");
                s.zk.setACL("/golden-misc", Arrays.asList(new ACL(
                    ZooDefs.Perms.READ | ZooDefs.Perms.WRITE | ZooDefs.Perms.CREATE | ZooDefs.Perms.DELETE,
                    new Id("world", "anyone"))), -1);
                step("sync /golden-misc: reply is the path");
                CountDownLatch synced = new CountDownLatch(1);
                s.zk.sync("/golden-misc", (rc, path, ctx) -> synced.countDown(), null);
                if (!synced.await(AWAIT_SECONDS, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("sync did not complete");
                }
                step("getAllChildrenNumber /golden-misc: 3 (a, a/b, eph)");
                s.zk.getAllChildrenNumber("/golden-misc");
                step("getEphemerals /golden-misc: [/golden-misc/eph]");
                s.zk.getEphemerals("/golden-misc");
                step("whoAmI: [ip:127.0.0.1]");
                s.zk.whoAmI();
                step("getData /golden-misc watch=true, then removeAllWatches (18, type 3 = Any, local=false)");
                s.zk.getData("/golden-misc", true, new Stat());
                s.zk.removeAllWatches("/golden-misc", Watcher.WatcherType.Any, false);
                step("close the session");
            }
        });
    }

    void ping() throws Exception {
        scenario("ping.txt", new String[] {
            "Scenario: an idle session with a 4000 ms timeout (the server's minimum, 2 x tickTime 2000)",
            "sends pings: xid -2, opcode 11, no body; the reply is a ReplyHeader with xid -2, the last",
            "zxid and err 0. The client pings after about a third of the timeout without sending.",
        }, () -> {
            step("connect with sessionTimeout 4000");
            Session s = new Session(proxy, 4000);
            step("idle for 3 s");
            Thread.sleep(3000);
            step("close the session");
            s.close();
        });
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Capture <proxy port> <control port> <server port> <out dir>");
            System.exit(2);
        }
        Capture c = new Capture(Integer.parseInt(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]),
            new File(args[3]));
        c.handshake();
        c.create();
        c.getSetData();
        c.getChildren();
        c.multi();
        c.watchNotification();
        c.missing();
        c.reconnectSetWatches();
        c.reconnectSetWatches2();
        c.misc();
        c.ping();
        c.admin.close();
        System.exit(0);
    }
}

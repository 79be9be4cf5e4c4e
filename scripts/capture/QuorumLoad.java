// Client load for quorum_capture.py: Apache's own Java client makes the writes whose quorum traffic
// (REQUEST forwarding, PROPOSAL/ACK/COMMIT, SYNC, PING session touches, REVALIDATE) the peer proxies record.
//
// Usage: java -cp <classes>:/usr/share/java/zookeeper.jar QuorumLoad <mode> <args...>
//   writes <follower A host:port> <follower B host:port>
//       one session on follower A: create, setData, ephemeral + sequential creates, multi, delete, sync;
//       idles ~3 s (learner PINGs carry the session), then moves the session to follower B (REVALIDATE)
//       and closes it there.
//   create <host:port> <path>
//       one session: create <path>, close.
//   hang <host:port>
//       tries to open a session and create /hang; used while the leader's PROPOSALs are held back, so it
//       never completes (the orchestrator kills it).

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public final class QuorumLoad {
    private static final int SESSION_TIMEOUT_MS = 6000;

    static ZooKeeper connect(String hostPort, long sessionId, byte[] passwd) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        Watcher watcher = event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        };
        ZooKeeper zk = passwd == null
            ? new ZooKeeper(hostPort, SESSION_TIMEOUT_MS, watcher)
            : new ZooKeeper(hostPort, SESSION_TIMEOUT_MS, watcher, sessionId, passwd);
        if (!connected.await(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("no session on " + hostPort);
        }
        return zk;
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
        case "writes": {
            ZooKeeper zk = connect(args[1], 0, null);
            zk.create("/q", "v0".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.setData("/q", "v1".getBytes(), 0);
            zk.create("/q/e", "eph".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.create("/q/s-", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
            zk.multi(Arrays.asList(
                Op.create("/q/m", "m".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData("/q", "v2".getBytes(), 1)));
            zk.delete("/q/m", -1);
            CountDownLatch synced = new CountDownLatch(1);
            zk.sync("/q", (rc, path, ctx) -> synced.countDown(), null);
            synced.await(30, TimeUnit.SECONDS);
            zk.getData("/q", false, null);
            Thread.sleep(3000);
            ZooKeeper moved = connect(args[2], zk.getSessionId(), zk.getSessionPasswd());
            moved.getData("/q", false, null);
            moved.close();
            System.exit(0);
            break;
        }
        case "create": {
            ZooKeeper zk = connect(args[1], 0, null);
            zk.create(args[2], "x".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.close();
            break;
        }
        case "hang": {
            ZooKeeper zk = connect(args[1], 0, null);
            zk.create("/hang", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            break;
        }
        default:
            throw new IllegalArgumentException(args[0]);
        }
    }
}

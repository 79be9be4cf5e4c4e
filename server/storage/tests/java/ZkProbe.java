// A tiny Apache ZooKeeper client for zk-storage's interop tests.
//
//   java ZkProbe write <host:port>   create a varied tree (> 30 txns), print "SESSION <id> <timeout>",
//                                    and exit without closing the session (its ephemerals stay)
//   java ZkProbe dump <host:port>    print every node: path, data (hex or NULL), stat, ACL; then END
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class ZkProbe {
    static final String AUTH = "user:secret";

    static ZooKeeper connect(String connect) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 30000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("not connected to " + connect);
        }
        zk.addAuthInfo("digest", AUTH.getBytes("UTF-8"));
        return zk;
    }

    public static void main(String[] args) throws Exception {
        ZooKeeper zk = connect(args[1]);
        if (args[0].equals("write")) {
            write(zk);
            System.out.println("SESSION " + Long.toHexString(zk.getSessionId()) + " " + zk.getSessionTimeout());
            System.out.flush();
            Runtime.getRuntime().halt(0); // no closeSession: the session and its ephemerals live on
        } else {
            dump(zk, "/");
            System.out.println("END");
            zk.close();
        }
    }

    static void write(ZooKeeper zk) throws Exception {
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        zk.create("/a", "a0".getBytes(), open, CreateMode.PERSISTENT);
        zk.setData("/a", "a1".getBytes(), -1);
        zk.setData("/a", "a2".getBytes(), -1);
        zk.create("/a/b", new byte[] {0, 1, 2, (byte) 0xff}, open, CreateMode.PERSISTENT);
        zk.create("/a/b/c", "deep".getBytes(), open, CreateMode.PERSISTENT);
        zk.create("/q", null, open, CreateMode.PERSISTENT);
        for (int i = 0; i < 3; i++) {
            zk.create("/q/item-", ("i" + i).getBytes(), open, CreateMode.PERSISTENT_SEQUENTIAL);
        }
        zk.create("/eph", "e".getBytes(), open, CreateMode.EPHEMERAL);
        zk.create("/q/eseq-", "es".getBytes(), open, CreateMode.EPHEMERAL_SEQUENTIAL);
        List<ACL> secure = new ArrayList<>();
        secure.add(new ACL(ZooDefs.Perms.ALL, new Id("digest", DigestAuthenticationProvider.generateDigest(AUTH))));
        secure.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
        zk.create("/secure", "s".getBytes(), secure, CreateMode.PERSISTENT);
        zk.create("/secure/child", "sc".getBytes(), secure, CreateMode.PERSISTENT);
        zk.create("/acl2", "x".getBytes(), open, CreateMode.PERSISTENT);
        zk.setACL("/acl2", ZooDefs.Ids.READ_ACL_UNSAFE, -1);
        zk.create("/cont", null, open, CreateMode.CONTAINER);
        zk.create("/cont/x", "in container".getBytes(), open, CreateMode.PERSISTENT);
        zk.create("/ttl", "t".getBytes(), open, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 600000);
        zk.create("/del", "gone".getBytes(), open, CreateMode.PERSISTENT);
        zk.delete("/del", -1);
        zk.create("/nulldata", null, open, CreateMode.PERSISTENT);
        zk.create("/empty", new byte[0], open, CreateMode.PERSISTENT);
        zk.multi(Arrays.asList(
            Op.create("/m1", "multi".getBytes(), open, CreateMode.PERSISTENT),
            Op.setData("/a", "a3".getBytes(), -1),
            Op.check("/a/b", 0)));
        zk.create("/bulk", null, open, CreateMode.PERSISTENT);
        for (int i = 0; i < 15; i++) {
            zk.create("/bulk/n" + i, ("v" + i).getBytes(), open, CreateMode.PERSISTENT);
        }
        for (int i = 0; i < 5; i++) {
            zk.setData("/bulk/n" + i, ("w" + i).getBytes(), -1);
        }
        zk.delete("/bulk/n14", -1);
    }

    static String hex(byte[] data) {
        if (data == null) {
            return "NULL";
        }
        StringBuilder sb = new StringBuilder();
        for (byte b : data) {
            sb.append(String.format("%02x", b));
        }
        return sb.length() == 0 ? "-" : sb.toString();
    }

    static void dump(ZooKeeper zk, String path) throws Exception {
        Stat stat = new Stat();
        byte[] data = zk.getData(path, false, stat);
        List<ACL> acl = zk.getACL(path, new Stat());
        StringBuilder acls = new StringBuilder();
        for (ACL a : acl) {
            if (acls.length() > 0) {
                acls.append(',');
            }
            acls.append(a.getPerms()).append(':').append(a.getId().getScheme()).append(':').append(a.getId().getId());
        }
        System.out.println("NODE\t" + path + "\t" + hex(data)
            + "\t" + stat.getCzxid() + "\t" + stat.getMzxid() + "\t" + stat.getCtime() + "\t" + stat.getMtime()
            + "\t" + stat.getVersion() + "\t" + stat.getCversion() + "\t" + stat.getAversion()
            + "\t" + stat.getEphemeralOwner() + "\t" + stat.getPzxid() + "\t" + stat.getNumChildren()
            + "\t" + stat.getDataLength() + "\t" + acls);
        List<String> children = zk.getChildren(path, false);
        java.util.Collections.sort(children);
        for (String child : children) {
            dump(zk, path.equals("/") ? "/" + child : path + "/" + child);
        }
    }
}

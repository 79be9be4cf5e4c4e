// A Curator 5 participant driven line by line over stdin/stdout by recipes/tests/curator_interop.rs.
// Usage: java CuratorPeer <connectString>. Every command prints exactly one reply line; the leader
// latch also prints "event leader" / "event notleader" lines as Curator reports them.
//
//   mutex <lockPath> <iterations> <counterPath> <markerPath>
//       takes an InterProcessMutex <iterations> times; inside: creates the ephemeral <markerPath>
//       (NodeExists means another holder is inside: an overlap), increments <counterPath> with an
//       unversioned read-then-write, deletes the marker. Replies "done <overlaps>".
//   latch <latchPath> <id>   starts a LeaderLatch; replies "ok latch"
//   close-latch              closes it; replies "ok closed"
//   quit                     closes the client and exits
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

public final class CuratorPeer {
    private static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        CuratorFramework client = CuratorFrameworkFactory.newClient(
            args[0], 10_000, 10_000, new ExponentialBackoffRetry(100, 10));
        client.start();
        client.blockUntilConnected();
        LeaderLatch latch = null;
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        say("ready");
        String line;
        while ((line = in.readLine()) != null) {
            String[] w = line.trim().split(" ");
            switch (w[0]) {
                case "mutex": {
                    InterProcessMutex mutex = new InterProcessMutex(client, w[1]);
                    int overlaps = 0;
                    for (int i = 0; i < Integer.parseInt(w[2]); i++) {
                        mutex.acquire();
                        try {
                            try {
                                client.create().withMode(CreateMode.EPHEMERAL).forPath(w[4]);
                            } catch (KeeperException.NodeExistsException e) {
                                overlaps++;
                            }
                            byte[] data = client.getData().forPath(w[3]);
                            int value = Integer.parseInt(new String(data, StandardCharsets.UTF_8));
                            Thread.yield();
                            client.setData().forPath(w[3], Integer.toString(value + 1).getBytes(StandardCharsets.UTF_8));
                            try {
                                client.delete().forPath(w[4]);
                            } catch (KeeperException.NoNodeException e) {
                                overlaps++;
                            }
                        } finally {
                            mutex.release();
                        }
                    }
                    say("done " + overlaps);
                    break;
                }
                case "latch": {
                    latch = new LeaderLatch(client, w[1], w[2]);
                    latch.addListener(new LeaderLatchListener() {
                        @Override public void isLeader() { say("event leader"); }
                        @Override public void notLeader() { say("event notleader"); }
                    });
                    latch.start();
                    say("ok latch");
                    break;
                }
                case "close-latch": {
                    latch.close();
                    latch = null;
                    say("ok closed");
                    break;
                }
                case "quit": {
                    client.close();
                    say("bye");
                    return;
                }
                default:
                    say("error unknown command " + w[0]);
            }
        }
        client.close();
    }
}

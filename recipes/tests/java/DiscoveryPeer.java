// A Curator 5 (curator-x-discovery) service instance and consumer, driven by
// recipes/tests/registry_interop.rs.
// Usage: java DiscoveryPeer <connectString> <basePath> <service> <javaId> <rustId>
//   Registers <javaId> with a LinkedHashMap payload {weight: 5, metadata: {lang: java}}, then waits
//   (ServiceCache listener, no polling) until <rustId> is discovered and prints one line:
//     saw id=<id> address=<a> port=<p> weight=<w> lang=<l> enabled=<e> payloadClass=<class>
//   then waits for "quit" on stdin, closes everything (unregistering <javaId>) and prints "bye".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.curator.x.discovery.details.ServiceCacheListener;

public final class DiscoveryPeer {
    public static void main(String[] args) throws Exception {
        String connect = args[0], base = args[1], service = args[2], javaId = args[3], rustId = args[4];
        CuratorFramework client = CuratorFrameworkFactory.newClient(
            connect, 10_000, 10_000, new ExponentialBackoffRetry(100, 10));
        client.start();
        client.blockUntilConnected();

        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("weight", 5);
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("lang", "java");
        payload.put("metadata", metadata);
        ServiceInstance<Object> me = ServiceInstance.builder()
            .name(service).id(javaId).address("127.0.0.2").port(9100).payload(payload).build();

        ServiceDiscovery<Object> discovery = ServiceDiscoveryBuilder.builder(Object.class)
            .client(client).basePath(base)
            .serializer(new JsonInstanceSerializer<>(Object.class))
            .thisInstance(me).build();
        discovery.start();

        ServiceCache<Object> cache = discovery.serviceCacheBuilder().name(service).build();
        CountDownLatch seen = new CountDownLatch(1);
        cache.addListener(new ServiceCacheListener() {
            @Override public void cacheChanged() {
                if (find(cache, rustId) != null) seen.countDown();
            }
            @Override public void stateChanged(CuratorFramework c, ConnectionState s) {}
        });
        cache.start();
        if (find(cache, rustId) != null) seen.countDown();
        seen.await();

        ServiceInstance<Object> rust = find(cache, rustId);
        @SuppressWarnings("unchecked")
        Map<String, Object> p = (Map<String, Object>) rust.getPayload();
        @SuppressWarnings("unchecked")
        Map<String, Object> md = (Map<String, Object>) p.get("metadata");
        System.out.println("saw id=" + rust.getId() + " address=" + rust.getAddress() + " port=" + rust.getPort()
            + " weight=" + p.get("weight") + " lang=" + md.get("lang") + " enabled=" + rust.isEnabled()
            + " payloadClass=" + rust.getPayload().getClass().getName());
        System.out.flush();

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals("quit")) {}
        cache.close();
        discovery.close();
        client.close();
        System.out.println("bye");
        System.out.flush();
    }

    private static ServiceInstance<Object> find(ServiceCache<Object> cache, String id) {
        for (ServiceInstance<Object> i : cache.getInstances()) {
            if (i.getId().equals(id)) return i;
        }
        return null;
    }
}

//! Differential: watches (one-shot data/exist/child rules, persistent and persistent-recursive
//! watches, removeWatches/checkWatches, setWatches after a reconnect, event-before-reply ordering),
//! Apache ZooKeeper vs zk-server.

mod support;

use support::*;
use zk_proto::records::watches::SetWatches;
use zk_proto::{AddWatchMode, CreateMode, WatcherType};

#[test]
fn data_and_exist_watches_are_one_shot() {
    let mut s = Script::new("watch_data");
    let a = s.connect();
    let b = s.connect();
    let w = s.path("w");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&w, b"0", CreateMode::Persistent));
    s.req(a, get_data(&w, true));
    s.req(b, set_data(&w, b"1", -1));
    s.flush(a);
    s.req(b, set_data(&w, b"2", -1));
    s.flush(a);
    // exists on a node that is there: a data watch.
    s.req(a, exists(&w, true));
    s.req(b, set_data(&w, b"3", -1));
    s.flush(a);
    // exists on a missing node: fires on create, then is gone.
    s.req(a, exists(&s.path("later"), true));
    s.req(b, create(&s.path("later"), b"", CreateMode::Persistent));
    s.req(b, set_data(&s.path("later"), b"x", -1));
    s.flush(a);
    // getData and exists watches on one node from one session: one event on delete.
    s.req(a, get_data(&w, true));
    s.req(a, exists(&w, true));
    s.req(a, get_children(&w, true));
    s.req(b, delete(&w, -1));
    s.flush(a);
    // Watches of two sessions both fire, and the writer's own watch fires before its reply.
    s.req(a, exists(&w, true));
    s.req(b, exists(&w, true));
    s.req(b, create(&w, b"", CreateMode::Persistent));
    s.flush(a);
    // A failed getData leaves no watch; a failed exists does.
    s.req(a, get_data(&s.path("none"), true));
    s.req(b, create(&s.path("none"), b"", CreateMode::Persistent));
    s.flush(a);
    s.req(a, exists(&s.path("none2"), true));
    s.req(a, get_children(&s.path("none2"), true));
    s.req(b, create(&s.path("none2"), b"", CreateMode::Persistent));
    s.flush(a);
    check(s);
}

#[test]
fn child_watches() {
    let mut s = Script::new("watch_children");
    let a = s.connect();
    let b = s.connect();
    let p = s.path("p");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&p, b"", CreateMode::Persistent));
    s.req(a, get_children(&p, true));
    s.req(b, set_data(&p, b"data does not fire a child watch", -1));
    s.req(b, create(&format!("{p}/c1"), b"", CreateMode::Persistent));
    s.req(b, create(&format!("{p}/c2"), b"", CreateMode::Persistent));
    s.flush(a);
    s.req(a, get_children2(&p, true));
    s.req(
        b,
        create(&format!("{p}/c1/grandchild"), b"", CreateMode::Persistent),
    );
    s.req(b, set_data(&format!("{p}/c1"), b"x", -1));
    s.req(b, delete(&format!("{p}/c2"), -1));
    s.flush(a);
    // Child watch on a node that is then deleted, and an ephemeral child that goes away with its
    // session.
    s.req(a, get_children(&format!("{p}/c1/grandchild"), true));
    s.req(b, delete(&format!("{p}/c1/grandchild"), -1));
    s.flush(a);
    s.req(b, create(&format!("{p}/eph"), b"", CreateMode::Ephemeral));
    s.req(a, get_children(&p, true));
    s.close(b);
    s.flush(a);
    s.req(a, get_children(&p, false));
    check(s);
}

#[test]
fn events_come_before_later_replies() {
    let mut s = Script::new("watch_ordering");
    let a = s.connect();
    let b = s.connect();
    let x = s.path("x");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&x, b"0", CreateMode::Persistent));
    s.req(a, get_data(&x, true));
    s.req(a, get_children(&x, true));
    s.pipeline(
        a,
        vec![
            set_data(&x, b"1", -1),
            get_data(&x, true),
            create(&format!("{x}/c"), b"", CreateMode::Persistent),
            get_children(&x, false),
            set_data(&x, b"2", -1),
            exists(&x, false),
        ],
    );
    // Another session's watch: the event is out before the writer's reply, so a ping right after
    // the reply finds it.
    s.req(b, get_data(&x, true));
    s.req(a, set_data(&x, b"3", -1));
    s.flush(b);
    check(s);
}

#[test]
fn persistent_watch() {
    let mut s = Script::new("watch_persistent");
    let a = s.connect();
    let b = s.connect();
    let w = s.path("w");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, add_watch(&w, AddWatchMode::Persistent));
    s.req(b, create(&w, b"", CreateMode::Persistent));
    s.req(b, set_data(&w, b"1", -1));
    s.req(b, set_data(&w, b"2", -1));
    s.req(b, create(&format!("{w}/c"), b"", CreateMode::Persistent));
    s.req(b, create(&format!("{w}/c/d"), b"", CreateMode::Persistent));
    s.req(b, set_data(&format!("{w}/c"), b"", -1));
    s.req(b, delete(&format!("{w}/c/d"), -1));
    s.req(b, delete(&format!("{w}/c"), -1));
    s.req(b, delete(&w, -1));
    s.req(b, create(&w, b"again", CreateMode::Persistent));
    s.flush(a);
    // A one-shot watch on the same path fires alongside it, then is gone.
    s.req(a, get_data(&w, true));
    s.req(b, set_data(&w, b"3", -1));
    s.req(b, set_data(&w, b"4", -1));
    s.flush(a);
    // Adding it twice, and on a missing path.
    s.req(a, add_watch(&w, AddWatchMode::Persistent));
    s.req(a, add_watch(&s.path("missing"), AddWatchMode::Persistent));
    s.req(b, delete(&w, -1));
    s.flush(a);
    check(s);
}

#[test]
fn persistent_recursive_watch() {
    let mut s = Script::new("watch_recursive");
    let a = s.connect();
    let b = s.connect();
    let w = s.path("w");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, add_watch(&w, AddWatchMode::PersistentRecursive));
    s.req(b, create(&w, b"", CreateMode::Persistent));
    s.req(b, create(&format!("{w}/a"), b"", CreateMode::Persistent));
    s.req(b, create(&format!("{w}/a/b"), b"", CreateMode::Persistent));
    s.req(b, set_data(&format!("{w}/a/b"), b"x", -1));
    s.req(
        b,
        create(&format!("{w}/e"), b"", CreateMode::EphemeralSequential),
    );
    // Siblings that share a string prefix are not below the watch.
    s.req(b, create(&s.path("w2"), b"", CreateMode::Persistent));
    s.req(b, set_data(&s.path("w2"), b"", -1));
    s.req(b, create(&s.path("w2/x"), b"", CreateMode::Persistent));
    s.req(b, delete(&format!("{w}/a/b"), -1));
    s.req(b, set_data(&w, b"root", -1));
    s.flush(a);
    // A one-shot child watch still gets NodeChildrenChanged next to the recursive watch.
    s.req(a, get_children(&w, true));
    s.req(b, delete(&format!("{w}/a"), -1));
    s.flush(a);
    // Ephemerals going away with their session.
    s.close(b);
    s.flush(a);
    // A watch on the root of the script sees everything below, including the watched node.
    let c = s.connect();
    s.req(c, add_watch(&s.root(), AddWatchMode::PersistentRecursive));
    s.req(a, set_data(&s.path("w2/x"), b"y", -1));
    s.req(a, delete(&s.path("w2/x"), -1));
    s.flush(c);
    check(s);
}

#[test]
fn remove_and_check_watches() {
    let mut s = Script::new("watch_remove");
    let a = s.connect();
    let b = s.connect();
    let x = s.path("x");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&x, b"", CreateMode::Persistent));
    // Nothing registered yet.
    for kind in [WatcherType::Data, WatcherType::Children, WatcherType::Any] {
        s.req(a, check_watches(&x, kind));
        s.req(a, remove_watches(&x, kind));
    }
    s.req(a, check_watches(&s.path("missing"), WatcherType::Any));
    // A data watch: checkWatches finds it, removing children watches does not.
    s.req(a, get_data(&x, true));
    s.req(a, check_watches(&x, WatcherType::Data));
    s.req(a, check_watches(&x, WatcherType::Children));
    s.req(a, check_watches(&x, WatcherType::Any));
    s.req(a, remove_watches(&x, WatcherType::Children));
    s.req(a, remove_watches(&x, WatcherType::Data));
    s.req(a, check_watches(&x, WatcherType::Data));
    s.req(b, set_data(&x, b"no event", -1));
    s.flush(a);
    // Child and exist watches, removed with Any.
    s.req(a, get_children(&x, true));
    s.req(a, exists(&s.path("later"), true));
    s.req(a, check_watches(&x, WatcherType::Children));
    s.req(a, remove_watches(&x, WatcherType::Any));
    s.req(a, remove_watches(&s.path("later"), WatcherType::Data));
    s.req(b, create(&format!("{x}/c"), b"", CreateMode::Persistent));
    s.req(b, create(&s.path("later"), b"", CreateMode::Persistent));
    s.flush(a);
    // Persistent watches.
    s.req(a, add_watch(&x, AddWatchMode::Persistent));
    s.req(
        a,
        add_watch(&s.path("later"), AddWatchMode::PersistentRecursive),
    );
    for kind in [WatcherType::Data, WatcherType::Children, WatcherType::Any] {
        s.req(a, check_watches(&x, kind));
        s.req(a, check_watches(&s.path("later"), kind));
    }
    s.req(a, remove_watches(&x, WatcherType::Data));
    s.req(a, check_watches(&x, WatcherType::Any));
    s.req(a, remove_watches(&x, WatcherType::Any));
    s.req(a, remove_watches(&s.path("later"), WatcherType::Any));
    s.req(b, set_data(&x, b"after removal", -1));
    s.req(b, set_data(&s.path("later"), b"after removal", -1));
    s.flush(a);
    check(s);
}

#[test]
fn set_watches_after_reconnect() {
    let mut s = Script::new("watch_set_watches");
    let a = s.connect();
    let b = s.connect();
    let root = s.root();
    let p = |rel: &str| format!("{root}/{rel}");
    s.req(a, create(&root, b"", CreateMode::Persistent));
    for rel in [
        "changed",
        "same",
        "deleted",
        "kids",
        "quiet_kids",
        "gone_kids",
    ] {
        s.req(a, create(&p(rel), b"", CreateMode::Persistent));
    }
    let since = s.req(a, get_data(&p("changed"), true));
    s.drop_connection(a);
    // While A is away: changes its watches should hear about.
    s.req(b, set_data(&p("changed"), b"new", -1));
    s.req(b, delete(&p("deleted"), -1));
    s.req(b, create(&p("created"), b"", CreateMode::Persistent));
    s.req(b, create(&p("kids/k"), b"", CreateMode::Persistent));
    s.req(b, delete(&p("gone_kids"), -1));
    let a2 = s.reattach(a);
    s.set_watches_since(
        a2,
        since,
        watches(
            &[&p("changed"), &p("same"), &p("deleted")],
            &[&p("created"), &p("absent")],
            &[&p("kids"), &p("quiet_kids"), &p("gone_kids")],
        ),
    );
    // The watches that did not fire at once are registered.
    s.req(b, set_data(&p("same"), b"later", -1));
    s.req(b, create(&p("absent"), b"", CreateMode::Persistent));
    s.req(b, create(&p("quiet_kids/k"), b"", CreateMode::Persistent));
    s.flush(a2);
    // The same with the old setWatches (opcode 101), and setWatches2 with persistent watches.
    let since = s.req(a2, exists(&p("same"), false));
    s.drop_connection(a2);
    s.req(b, set_data(&p("same"), b"again", -1));
    let a3 = s.reattach(a2);
    s.set_watches_v1_since(
        a3,
        since,
        SetWatches {
            relative_zxid: 0,
            data_watches: vec![p("same")],
            exist_watches: vec![],
            child_watches: vec![p("kids")],
        },
    );
    let mut persistent = watches(&[], &[], &[]);
    persistent.persistent_watches = vec![p("same")];
    persistent.persistent_recursive_watches = vec![p("kids")];
    s.set_watches_since(a3, since, persistent);
    s.req(b, set_data(&p("same"), b"persistent", -1));
    s.req(b, create(&p("kids/k2"), b"", CreateMode::Persistent));
    s.req(b, set_data(&p("kids/k2"), b"", -1));
    s.flush(a3);
    check(s);
}

#[test]
fn watches_fire_on_session_close() {
    let mut s = Script::new("watch_session_close");
    let a = s.connect();
    let b = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(b, create(&s.path("e1"), b"", CreateMode::Ephemeral));
    s.req(
        b,
        create(&s.path("e2"), b"", CreateMode::EphemeralSequential),
    );
    s.req(a, exists(&s.path("e1"), true));
    s.req(a, get_children(&s.root(), true));
    s.req(a, add_watch(&s.root(), AddWatchMode::PersistentRecursive));
    s.close(b);
    s.wait_closed(b);
    // Apache deletes a closed session's ephemerals in hash-set order.
    s.flush_unordered(a);
    s.req(a, get_children2(&s.root(), false));
    check(s);
}

#[test]
fn check_watches_sees_only_own_watches() {
    let mut s = Script::new("watch_check_other_session");
    let a = s.connect();
    let b = s.connect();
    let x = s.path("x");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create(&x, b"", CreateMode::Persistent));
    // Only B watches x. (Apache 3.8's WatchManager.containsWatcher answers for any watcher on the
    // exact path, so checkWatches says OK here while removeWatches says NOWATCHER.)
    s.req(b, get_data(&x, true));
    s.req(b, get_children(&x, true));
    for kind in [WatcherType::Data, WatcherType::Children, WatcherType::Any] {
        s.req(a, check_watches(&x, kind));
        s.req(a, remove_watches(&x, kind));
    }
    s.req(a, set_data(&x, b"", -1));
    s.flush(b);
    check(s);
}

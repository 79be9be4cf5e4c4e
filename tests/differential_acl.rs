//! Differential: ACLs and authentication (digest auth and denial, superDigest, the ip and auth
//! schemes, invalid ACLs, setACL with aversion, whoAmI, failed auth), Apache ZooKeeper vs zk-server.

mod support;

use support::runner::SUPER_CREDENTIALS;
use support::*;
use zk_proto::{perms, Acl, CreateMode, RequestBody, AUTH_XID};

fn digest_acl(perms: i32, user_password: &str) -> Acl {
    acl_entry(perms, "digest", &digest_id(user_password))
}

#[test]
fn digest_auth_and_denial() {
    let mut s = Script::new("acl_digest");
    let owner = s.connect();
    let other = s.connect();
    let d = s.path("d");
    s.req(owner, create(&s.root(), b"", CreateMode::Persistent));
    s.auth_digest(owner, "alice:secret");
    s.req(
        owner,
        create2_acl(
            &d,
            b"private",
            vec![digest_acl(perms::ALL, "alice:secret")],
            CreateMode::Persistent,
        ),
    );
    s.req(
        owner,
        create(&format!("{d}/child"), b"", CreateMode::Persistent),
    );
    s.req(owner, get_acl(&d));
    // Without credentials: every checked op is denied, exists is not checked.
    s.req(other, get_data(&d, false));
    s.req(other, set_data(&d, b"", -1));
    s.req(other, get_children(&d, false));
    s.req(other, get_children2(&d, false));
    s.req(
        other,
        create(&format!("{d}/x"), b"", CreateMode::Persistent),
    );
    s.req(other, delete(&format!("{d}/child"), -1));
    s.req(other, get_acl(&d));
    s.req(other, set_acl(&d, open_acl(), -1));
    s.req(other, get_all_children_number(&d));
    s.req(other, sync(&d));
    s.req(other, multi(vec![op_set_data(&d, b"", -1)]));
    s.req(
        other,
        multi_read(vec![op_get_data(&d), op_get_children(&d)]),
    );
    // Deleting the protected node itself needs DELETE on its parent, which is open.
    s.req(other, delete(&format!("{d}/child"), -1));
    // The wrong password is accepted as an identity, but not this one.
    s.auth_digest(other, "alice:wrong");
    s.req(other, get_data(&d, false));
    s.req(other, RequestBody::WhoAmI);
    s.auth_digest(other, "alice:secret");
    s.req(other, get_data(&d, false));
    s.req(other, RequestBody::WhoAmI);
    s.req(owner, RequestBody::WhoAmI);
    // Per-permission checks.
    let parts: [(&str, i32); 5] = [
        ("r", perms::READ),
        ("w", perms::WRITE),
        ("c", perms::CREATE),
        ("d", perms::DELETE),
        ("a", perms::ADMIN),
    ];
    let third = s.connect();
    for (name, p) in parts {
        let node = s.path(&format!("only_{name}"));
        s.req(
            owner,
            create2_acl(
                &node,
                b"",
                vec![acl_entry(p, "world", "anyone")],
                CreateMode::Persistent,
            ),
        );
        s.req(
            owner,
            create(&format!("{node}/kid"), b"", CreateMode::Persistent),
        );
        s.req(third, get_data(&node, false));
        s.req(third, set_data(&node, b"w", -1));
        s.req(
            third,
            create(&format!("{node}/new"), b"", CreateMode::Persistent),
        );
        s.req(third, delete(&format!("{node}/kid"), -1));
        s.req(third, get_acl(&node));
        s.req(
            third,
            set_acl(&node, vec![acl_entry(p, "world", "anyone")], -1),
        );
    }
    check(s);
}

#[test]
fn exists_needs_no_permission() {
    let mut s = Script::new("acl_exists");
    let owner = s.connect();
    let other = s.connect();
    let d = s.path("d");
    s.req(owner, create(&s.root(), b"", CreateMode::Persistent));
    s.req(
        owner,
        create2_acl(
            &d,
            b"x",
            vec![acl_entry(perms::ADMIN, "world", "anyone")],
            CreateMode::Persistent,
        ),
    );
    s.req(other, exists(&d, false));
    s.req(other, exists(&d, true));
    s.req(
        owner,
        set_acl(&d, vec![digest_acl(perms::ALL, "alice:secret")], -1),
    );
    s.flush(other);
    s.req(other, exists(&d, false));
    check(s);
}

#[test]
fn super_digest() {
    let mut s = Script::new("acl_super");
    let owner = s.connect();
    let admin = s.connect();
    let d = s.path("d");
    s.req(owner, create(&s.root(), b"", CreateMode::Persistent));
    s.auth_digest(owner, "bob:pw");
    s.req(owner, create(&d, b"bob's", CreateMode::Persistent));
    s.req(
        owner,
        set_acl(&d, vec![digest_acl(perms::READ, "bob:pw")], 0),
    );
    s.auth_digest(admin, SUPER_CREDENTIALS);
    s.req(admin, RequestBody::WhoAmI);
    s.req(admin, get_data(&d, false));
    s.req(admin, set_data(&d, b"super was here", -1));
    s.req(
        admin,
        create(&format!("{d}/kid"), b"", CreateMode::Persistent),
    );
    s.req(admin, get_acl(&d));
    s.req(admin, set_acl(&d, open_acl(), 1));
    s.req(owner, get_data(&d, false));
    // A wrong super password is just another digest identity.
    let pretender = s.connect();
    s.auth_digest(pretender, "super:nope");
    s.req(
        pretender,
        set_acl(&d, vec![digest_acl(perms::READ, "bob:pw")], -1),
    );
    s.req(
        owner,
        set_acl(&d, vec![digest_acl(perms::READ, "bob:pw")], -1),
    );
    s.req(pretender, get_data(&d, false));
    s.req(pretender, RequestBody::WhoAmI);
    check(s);
}

#[test]
fn ip_and_auth_schemes() {
    let mut s = Script::new("acl_schemes");
    let a = s.connect();
    let b = s.connect();
    let r = s.root();
    s.req(a, create(&r, b"", CreateMode::Persistent));
    let ip = |p: &str| vec![acl_entry(perms::ALL, "ip", p)];
    s.req(
        a,
        create2_acl(
            &s.path("ip_local"),
            b"",
            ip("127.0.0.1"),
            CreateMode::Persistent,
        ),
    );
    s.req(
        a,
        create2_acl(
            &s.path("ip_net"),
            b"",
            ip("127.0.0.0/8"),
            CreateMode::Persistent,
        ),
    );
    s.req(
        a,
        create2_acl(
            &s.path("ip_other"),
            b"",
            ip("10.1.2.3"),
            CreateMode::Persistent,
        ),
    );
    s.req(
        a,
        create2_acl(
            &s.path("ip_other_net"),
            b"",
            ip("10.0.0.0/8"),
            CreateMode::Persistent,
        ),
    );
    for node in ["ip_local", "ip_net", "ip_other", "ip_other_net"] {
        s.req(b, get_data(&s.path(node), false));
        s.req(b, get_acl(&s.path(node)));
    }
    // auth scheme without any authenticated id: InvalidACL. With one: expanded to it.
    let auth_acl = vec![acl_entry(perms::ALL, "auth", "")];
    s.req(
        a,
        create2_acl(
            &s.path("auth_none"),
            b"",
            auth_acl.clone(),
            CreateMode::Persistent,
        ),
    );
    s.req(a, create(&s.path("later"), b"", CreateMode::Persistent));
    s.req(a, set_acl(&s.path("later"), auth_acl.clone(), -1));
    s.auth_digest(a, "carol:pw");
    s.auth_digest(a, "dave:pw");
    s.req(
        a,
        create2_acl(
            &s.path("auth_some"),
            b"",
            auth_acl.clone(),
            CreateMode::Persistent,
        ),
    );
    s.req(a, get_acl(&s.path("auth_some")));
    let mixed = vec![
        acl_entry(perms::READ, "auth", "ignored"),
        acl_entry(perms::READ, "world", "anyone"),
    ];
    s.req(
        a,
        create2_acl(&s.path("auth_mixed"), b"", mixed, CreateMode::Persistent),
    );
    s.req(a, get_acl(&s.path("auth_mixed")));
    s.req(b, get_data(&s.path("auth_some"), false));
    s.req(a, get_data(&s.path("auth_some"), false));
    s.req(a, RequestBody::WhoAmI);
    check(s);
}

#[test]
fn invalid_acls() {
    let mut s = Script::new("acl_invalid");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    let cases: Vec<(&str, Vec<Acl>)> = vec![
        ("empty", vec![]),
        ("unknown_scheme", vec![acl_entry(perms::ALL, "foo", "bar")]),
        (
            "world_somebody",
            vec![acl_entry(perms::ALL, "world", "somebody")],
        ),
        (
            "digest_no_colon",
            vec![acl_entry(perms::ALL, "digest", "user")],
        ),
        ("ip_garbage", vec![acl_entry(perms::ALL, "ip", "not-an-ip")]),
        (
            "ip_bad_mask",
            vec![acl_entry(perms::ALL, "ip", "127.0.0.1/99")],
        ),
        ("perms_zero", vec![acl_entry(0, "world", "anyone")]),
        (
            "perms_extra",
            vec![acl_entry(perms::ALL | 64, "world", "anyone")],
        ),
        ("super_scheme", vec![acl_entry(perms::ALL, "super", "")]),
        (
            "one_bad_of_two",
            vec![
                acl_entry(perms::ALL, "world", "anyone"),
                acl_entry(perms::ALL, "foo", "x"),
            ],
        ),
        (
            "duplicates",
            vec![
                acl_entry(perms::READ, "world", "anyone"),
                acl_entry(perms::READ, "world", "anyone"),
            ],
        ),
    ];
    for (name, acl) in &cases {
        s.req(
            a,
            create2_acl(&s.path(name), b"", acl.clone(), CreateMode::Persistent),
        );
    }
    s.req(a, create(&s.path("n"), b"", CreateMode::Persistent));
    for (_, acl) in &cases {
        s.req(a, set_acl(&s.path("n"), acl.clone(), -1));
    }
    s.req(a, get_acl(&s.path("n")));
    s.req(a, get_acl(&s.path("perms_zero")));
    check(s);
}

#[test]
fn set_acl_versions() {
    let mut s = Script::new("acl_versions");
    let a = s.connect();
    let n = s.path("n");
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    s.req(a, create2(&n, b"", CreateMode::Persistent));
    s.req(a, set_acl(&n, Acl::read_unsafe(), 0));
    s.req(a, set_acl(&n, open_acl(), 0));
    s.req(a, set_acl(&n, open_acl(), 1));
    s.req(a, set_acl(&n, open_acl(), -1));
    s.req(a, get_acl(&n));
    s.req(a, set_data(&n, b"data keeps aversion", -1));
    s.req(a, exists(&n, false));
    s.req(a, set_acl(&s.path("missing"), open_acl(), -1));
    s.req(a, get_acl(&s.path("missing")));
    s.req(a, set_acl(&n, open_acl(), -2));
    check(s);
}

#[test]
fn failed_auth() {
    let mut s = Script::new("acl_failed_auth");
    let a = s.connect();
    s.req(a, create(&s.root(), b"", CreateMode::Persistent));
    // Digest credentials without a colon, then an unknown scheme.
    let b = s.connect();
    s.req_xid(b, AUTH_XID, auth("digest", "nocolon"));
    s.req(b, RequestBody::WhoAmI);
    let c = s.connect();
    s.req_xid(c, AUTH_XID, auth("kerberos", "x"));
    s.flush(c);
    s.req(c, RequestBody::WhoAmI);
    // Auth with an ordinary xid.
    s.req(a, auth("digest", "erin:pw"));
    s.req(a, RequestBody::WhoAmI);
    check(s);
}

//! Tests of the ZooKeeper model's sequential semantics.

use super::*;

fn run(model: &ZkModel, ops: &[(ZkOp, ZkOutput)]) -> ZkState {
    let mut state = model.init(&["/a".into(), "/b".into()]);
    for (i, (op, out)) in ops.iter().enumerate() {
        state = model
            .step(&state, op, Some(out))
            .unwrap_or_else(|| panic!("step {i} {op:?} -> {out:?} rejected"));
    }
    state
}

#[test]
fn sequential_semantics() {
    use ZkError::*;
    let model = ZkModel::new();
    let state = run(
        &model,
        &[
            (ZkOp::get_data("/a"), ZkOutput::Error(NoNode)),
            (ZkOp::exists("/a"), ZkOutput::Exists { version: None }),
            (ZkOp::set_data("/a", "x", None), ZkOutput::Error(NoNode)),
            (ZkOp::delete("/a", None), ZkOutput::Error(NoNode)),
            (ZkOp::create("/a", "x"), ZkOutput::Created),
            (ZkOp::create("/a", "y"), ZkOutput::Error(NodeExists)),
            (ZkOp::get_data("/a"), ZkOutput::data("x", 0)),
            (
                ZkOp::set_data("/a", "y", Some(1)),
                ZkOutput::Error(BadVersion),
            ),
            (
                ZkOp::set_data("/a", "y", Some(0)),
                ZkOutput::Set { version: 1 },
            ),
            (
                ZkOp::set_data("/a", "z", None),
                ZkOutput::Set { version: 2 },
            ),
            (ZkOp::exists("/a"), ZkOutput::Exists { version: Some(2) }),
            (ZkOp::delete("/a", Some(1)), ZkOutput::Error(BadVersion)),
            (ZkOp::delete("/a", Some(2)), ZkOutput::Deleted),
            (ZkOp::create("/a", "again"), ZkOutput::Created),
            (ZkOp::get_data("/a"), ZkOutput::data("again", 0)),
        ],
    );
    assert_eq!(state.nodes.len(), 1);
}

#[test]
fn multi_is_all_or_nothing() {
    let model = ZkModel::new().with_node("/a", "1");
    let transfer = ZkOp::multi([ZkOp::set_data("/a", "0", Some(0)), ZkOp::create("/b", "1")]);
    let state = run(
        &model,
        &[
            (
                ZkOp::multi([ZkOp::create("/b", "x"), ZkOp::check("/a", Some(5))]),
                ZkOutput::MultiFailed {
                    index: 1,
                    error: ZkError::BadVersion,
                },
            ),
            (ZkOp::exists("/b"), ZkOutput::Exists { version: None }),
            (
                transfer.clone(),
                ZkOutput::Multi(vec![ZkOutput::Set { version: 1 }, ZkOutput::Created]),
            ),
            (
                transfer.clone(),
                ZkOutput::MultiFailed {
                    index: 0,
                    error: ZkError::BadVersion,
                },
            ),
            (
                ZkOp::multi([ZkOp::get_data("/a"), ZkOp::exists("/b")]),
                ZkOutput::Multi(vec![
                    ZkOutput::data("0", 1),
                    ZkOutput::Exists { version: Some(0) },
                ]),
            ),
        ],
    );
    assert_eq!(state.nodes.len(), 2);
    assert_eq!(
        model.keys(&transfer),
        vec![Path::from("/a"), Path::from("/b")]
    );
}

#[test]
fn rejects_impossible_replies() {
    let model = ZkModel::new().with_node("/a", "x");
    let s = model.init(&["/a".into()]);
    assert!(model
        .step(&s, &ZkOp::get_data("/a"), Some(&ZkOutput::data("y", 0)))
        .is_none());
    assert!(model
        .step(&s, &ZkOp::get_data("/a"), Some(&ZkOutput::data("x", 1)))
        .is_none());
    assert!(model
        .step(
            &s,
            &ZkOp::set_data("/a", "y", None),
            Some(&ZkOutput::Set { version: 2 })
        )
        .is_none());
    assert!(model
        .step(&s, &ZkOp::create("/a", "y"), Some(&ZkOutput::Created))
        .is_none());
    // An indeterminate write takes effect with whatever reply the model decides.
    let s1 = model
        .step(&s, &ZkOp::set_data("/a", "y", Some(0)), None)
        .unwrap();
    assert_eq!(s1.nodes[&Path::from("/a")].version, 1);
    let s2 = model
        .step(&s1, &ZkOp::set_data("/a", "z", Some(0)), None)
        .unwrap();
    assert_eq!(s2, s1, "a failed CAS changes nothing");
}

#[test]
fn init_is_restricted_to_the_partition() {
    let model = ZkModel::new()
        .with_node("/a", "x")
        .with_node_version("/b", "y", 3);
    assert_eq!(model.init(&["/b".into()]).nodes.len(), 1);
    assert_eq!(model.init(&["/c".into()]), ZkState::default());
}

#[test]
fn read_only_and_codes() {
    let model = ZkModel::new();
    assert!(model.is_read_only(&ZkOp::multi([
        ZkOp::get_data("/a"),
        ZkOp::check("/b", None)
    ])));
    assert!(!model.is_read_only(&ZkOp::multi([
        ZkOp::get_data("/a"),
        ZkOp::delete("/b", None)
    ])));
    for e in [ZkError::NoNode, ZkError::BadVersion, ZkError::NodeExists] {
        assert_eq!(ZkError::from_code(e.code()), Some(e));
    }
    assert_eq!(ZkError::from_code(-4), None);
}

#[test]
fn debug_is_compact() {
    assert_eq!(
        format!("{:?}", ZkOp::set_data("/a", "x", Some(3))),
        r#"setData(/a, "x", v3)"#
    );
    assert_eq!(format!("{:?}", ZkOutput::data([0u8, 255], 1)), "0x00ff v1");
    assert_eq!(format!("{:?}", ZkOp::delete("/a", None)), "delete(/a, any)");
}

#[test]
fn canonical_inputs_hide_only_data_no_reply_shows() {
    let model = ZkModel::new();
    let seen = ZkOutput::Multi(vec![ZkOutput::data("seen", 0)]);
    let ops = [
        ZkOp::set_data("/a", "seen", None),
        ZkOp::set_data("/a", "unseen", Some(1)),
        ZkOp::multi([ZkOp::create("/b", "unseen too"), ZkOp::delete("/c", None)]),
    ];
    let canonical = model
        .canonicalize_indeterminate(&ops.iter().collect::<Vec<_>>(), &[&seen])
        .unwrap();
    assert_eq!(canonical[0], ops[0]);
    assert_eq!(
        format!("{:?}", canonical[1]),
        "setData(/a, <data no reply shows>, v1)"
    );
    assert_eq!(
        format!("{:?}", canonical[2]),
        "multi[create(/b, <data no reply shows>), delete(/c, any)]"
    );
    // Two lost writes of different unseen values become equal, hence interchangeable.
    let two = [
        ZkOp::set_data("/a", "x", None),
        ZkOp::set_data("/a", "y", None),
    ];
    let canonical = model
        .canonicalize_indeterminate(&two.iter().collect::<Vec<_>>(), &[])
        .unwrap();
    assert_eq!(canonical[0], canonical[1]);
}

//! A 3-server Apache ensemble elects a leader, elects a new one when the leader is killed, and takes the
//! old leader back as a follower.

use zk_testkit::{ensemble_or_skip, ServerMode};

#[test]
fn failover_elects_a_new_leader() {
    let Some(mut ensemble) = ensemble_or_skip("failover_elects_a_new_leader", 3) else {
        return;
    };
    assert_eq!(ensemble.len(), 3);
    assert_eq!(ensemble.connect_string().split(',').count(), 3);
    let leader = ensemble.leader().expect("a leader after start");
    let followers = (0..3)
        .filter(|&i| ensemble.mode(i) == Some(ServerMode::Follower))
        .count();
    assert_eq!(followers, 2);
    for i in 0..3 {
        let myid = std::fs::read_to_string(ensemble.data_dir(i).join("myid")).unwrap();
        assert_eq!(myid.trim(), (i + 1).to_string());
    }

    ensemble.kill(leader);
    assert!(!ensemble.is_running(leader));
    let new_leader = ensemble.wait_for_leader().unwrap();
    assert_ne!(new_leader, leader);

    ensemble.restart(leader).unwrap();
    assert_eq!(ensemble.mode(leader), Some(ServerMode::Follower));
    assert_eq!(ensemble.leader(), Some(new_leader));
}

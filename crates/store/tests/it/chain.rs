//! The receiving side of every author's chain of change sets per case (`tsunagi_store::chain`):
//! a gap is reported until the missing change arrives and then heals; a second change at a
//! known position is a fork, refused and never applied; a change arriving again under another
//! server sequence number is counted as a replay and applies nothing; a snapshot's chain heads
//! start a chain where it ends, so what it covers is not missing.

use tsunagi_core::change::{ChangeSet, EntityKind};
use tsunagi_core::hlc::Hlc;
use tsunagi_core::ids::EntityId;
use tsunagi_store::chain::{ZERO_LINK, link};
use tsunagi_store::{
    ChainHead, ChainLink, ChainPos, OutboxOp, PageWrite, ReceivedChange, Store, codec,
};

use crate::{Device, Fixture, contact, person};

/// An outbox op as another device receives it: with its chain position and link, under
/// server sequence number `seq`.
fn arrived(op: &OutboxOp, seq: u64) -> ReceivedChange {
    let pos = op.chain.expect("placed");
    ReceivedChange {
        cs: ChangeSet {
            op: op.op,
            kind: EntityKind::parse(&op.kind).unwrap(),
            entity: op.entity,
            hlc: Hlc::parse_sortable(&op.hlc).unwrap(),
            device: op.device,
            body: codec::decode(&op.body, "body").unwrap(),
        },
        body: Some(op.body.clone()),
        chain: Some(ChainLink {
            author: *op.device.as_uuid(),
            case: op.case,
            pos,
            link: link(
                op.case.as_uuid().as_bytes(),
                op.device.as_uuid().as_bytes(),
                pos.seq,
                &pos.prev,
                op.op.as_uuid().as_bytes(),
            ),
        }),
        pulled: Some((seq, vec![seq as u8; 8])),
    }
}

fn page(changes: Vec<ReceivedChange>) -> PageWrite {
    PageWrite {
        changes,
        ..PageWrite::default()
    }
}

/// Device A writes a person and four contacts of one case and places them in its chain.
fn written() -> (Fixture, Store, Device, EntityId, Vec<OutboxOp>) {
    let fx = Fixture::new();
    let mut a = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut a, person("佐藤 一郎", "さとう いちろう"));
    for i in 0..4 {
        dev.add_contact(
            &mut a,
            contact(p, "2026-11-01T10:00:00+09:00", &format!("訪問 {i}")),
        );
    }
    let ops = a.outbox_batch(0, 10).unwrap();
    let placed = a
        .assign_chain(
            *dev.id.as_uuid(),
            &ops.iter().map(|o| (o.op, o.case)).collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(
        placed.iter().map(|p| p.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(placed[0].prev, ZERO_LINK);
    // Placed once: asked again (a crash before the push), the same places.
    let again = a
        .assign_chain(
            *dev.id.as_uuid(),
            &ops.iter().map(|o| (o.op, o.case)).collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(again, placed);
    let ops = a.outbox_batch(0, 10).unwrap();
    assert!(ops.iter().zip(&placed).all(|(o, p)| o.chain == Some(*p)));
    (fx, a, dev, p.into(), ops)
}

#[test]
fn a_gap_is_reported_until_it_heals() {
    let (_fa, _a, dev, case, ops) = written();
    let fb = Fixture::new();
    let mut b = fb.create();
    let n = b
        .commit_page_counted(
            &page(vec![
                arrived(&ops[0], 10),
                arrived(&ops[1], 11),
                arrived(&ops[3], 13),
            ]),
            "2026-11-21T00:00:00Z",
            None,
        )
        .unwrap();
    assert_eq!(
        (n.applied, n.forks, n.replayed),
        (3, 0, 0),
        "nothing held back"
    );
    let gaps = b.chain_gaps().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].author, *dev.id.as_uuid());
    assert_eq!((gaps[0].missing, gaps[0].cases.clone()), (1, vec![case]));
    // No snapshot claims a case with a gap.
    assert!(b.cases_due_for_snapshot(1).unwrap().is_empty());
    // The missing one arrives late (a new server sequence number): the gap heals, and the
    // link beyond it joins the head.
    let n = b
        .commit_page_counted(&page(vec![arrived(&ops[2], 20)]), "now", None)
        .unwrap();
    assert_eq!(n.applied, 1);
    assert!(b.chain_gaps().unwrap().is_empty());
    assert_eq!(b.chain_heads_of(case).unwrap()[0].seq, 4);
    assert_eq!(b.cases_due_for_snapshot(1).unwrap(), vec![case]);
    // The next one, in order.
    let n = b
        .commit_page_counted(&page(vec![arrived(&ops[4], 30)]), "now", None)
        .unwrap();
    assert_eq!(n.applied, 1);
    assert!(b.chain_gaps().unwrap().is_empty());
    assert_eq!(b.chain_heads_of(case).unwrap()[0].seq, 5);
}

#[test]
fn a_second_change_at_a_known_place_is_a_fork_and_never_applied() {
    let (_fa, a, mut dev, case, ops) = written();
    let fb = Fixture::new();
    let mut b = fb.create();
    b.commit_page(
        &page(
            ops.iter()
                .take(3)
                .enumerate()
                .map(|(i, o)| arrived(o, 10 + i as u64))
                .collect(),
        ),
        "now",
    )
    .unwrap();
    // The same author (its key used twice, or a copy of its store restored) makes another
    // change and gives it place 3 again.
    let forged_cs = dev.set(
        &a,
        EntityKind::Person,
        case,
        person("偽 名前", "にせ なまえ"),
    );
    let mut forged = arrived(&ops[2], 40);
    forged.cs = forged_cs.clone();
    forged.body = Some(codec::encode(&forged_cs.body, "b").unwrap());
    let pos = ops[2].chain.unwrap();
    forged.chain.as_mut().unwrap().link = link(
        case.as_uuid().as_bytes(),
        dev.id.as_uuid().as_bytes(),
        pos.seq,
        &pos.prev,
        forged_cs.op.as_uuid().as_bytes(),
    );
    let before = b.entity(case).unwrap();
    let n = b
        .commit_page_counted(&page(vec![forged.clone()]), "now", None)
        .unwrap();
    assert_eq!((n.applied, n.forks), (0, 1));
    assert_eq!(b.entity(case).unwrap(), before, "the fork changed nothing");
    assert!(
        b.history(case)
            .unwrap()
            .iter()
            .all(|c| c.op != forged_cs.op)
    );
    let refused = b.pull_refusals(10).unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].0, refused[0].1.as_str()), (40, "fork"));
    let problems = b.chain_problems().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, "fork");
    assert_eq!(problems[0].author, Some(*dev.id.as_uuid()));
    // A change claiming to follow something other than the known link at 3 is a fork too.
    let mut astray = arrived(&ops[3], 41);
    let ch = astray.chain.as_mut().unwrap();
    ch.pos = ChainPos {
        seq: 4,
        prev: [0xee; 32],
    };
    ch.link = link(
        case.as_uuid().as_bytes(),
        dev.id.as_uuid().as_bytes(),
        4,
        &[0xee; 32],
        ops[3].op.as_uuid().as_bytes(),
    );
    let n = b
        .commit_page_counted(&page(vec![astray]), "now", None)
        .unwrap();
    assert_eq!((n.applied, n.forks), (0, 1));
    // The true change 4 still joins.
    let n = b
        .commit_page_counted(&page(vec![arrived(&ops[3], 42)]), "now", None)
        .unwrap();
    assert_eq!((n.applied, n.forks), (1, 0));
}

#[test]
fn a_change_sent_again_under_another_number_is_a_replay() {
    let (_fa, _a, _dev, case, ops) = written();
    let fb = Fixture::new();
    let mut b = fb.create();
    b.commit_page(
        &page(vec![arrived(&ops[0], 10), arrived(&ops[1], 11)]),
        "now",
    )
    .unwrap();
    let before = b.entity(case).unwrap();
    // The same page pulled again (a crash before its cursor): not a replay.
    let n = b
        .commit_page_counted(&page(vec![arrived(&ops[1], 11)]), "now", None)
        .unwrap();
    assert_eq!((n.applied, n.replayed), (0, 0));
    let n = b
        .commit_page_counted(&page(vec![arrived(&ops[1], 99)]), "now", None)
        .unwrap();
    assert_eq!((n.applied, n.replayed, n.forks), (0, 1, 0));
    assert_eq!(b.entity(case).unwrap(), before);
    let problems = b.chain_problems().unwrap();
    assert_eq!(problems[0].kind, "replayed");
    assert!(b.chain_gaps().unwrap().is_empty());
}

#[test]
fn a_snapshot_starts_each_authors_chain_where_it_ends() {
    let (_fa, _a, dev, case, ops) = written();
    let fc = Fixture::new();
    let mut c = fc.create();
    let l3 = arrived(&ops[2], 0).chain.unwrap().link;
    // Changes after the snapshot arrive first (a fresh device pulls the log before the
    // snapshots): a gap from 1, for now.
    c.commit_page(&page(vec![arrived(&ops[4], 50)]), "now")
        .unwrap();
    assert_eq!(c.chain_gaps().unwrap()[0].missing, 4);
    // The snapshot covers 1..=3; 4 is still missing.
    let snap = PageWrite {
        snapshot_heads: vec![(
            case,
            vec![ChainHead {
                author: *dev.id.as_uuid(),
                seq: 3,
                link: l3,
            }],
        )],
        ..PageWrite::default()
    };
    c.commit_page(&snap, "now").unwrap();
    assert_eq!(c.chain_gaps().unwrap()[0].missing, 1);
    c.commit_page(&page(vec![arrived(&ops[3], 40)]), "now")
        .unwrap();
    assert!(c.chain_gaps().unwrap().is_empty());
    assert_eq!(c.chain_heads_of(case).unwrap()[0].seq, 5);
    // A change covered by the snapshot arriving anyway is taken as it is.
    let n = c
        .commit_page_counted(&page(vec![arrived(&ops[1], 11)]), "now", None)
        .unwrap();
    assert_eq!(n.forks, 0);
    // Another change at the snapshot's head is a fork.
    let fd = Fixture::new();
    let mut d = fd.create();
    d.commit_page(&snap, "now").unwrap();
    let mut other = arrived(&ops[2], 30);
    other.chain.as_mut().unwrap().link = [0x11; 32];
    let n = d
        .commit_page_counted(&page(vec![other]), "now", None)
        .unwrap();
    assert_eq!(n.forks, 1);
}

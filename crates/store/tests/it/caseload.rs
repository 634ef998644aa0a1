//! The caseload list and a person's records: filters, current trust stage, timeline order,
//! assessments, and concurrent edits from two devices shown as conflicts.

use crate::{Device, Fixture, assessment, contact, person};
use serde_json::json;
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::{EntityId, PersonId};
use tsunagi_store::{CaseloadFilter, Origin, Store};

struct Caseload {
    store: Store,
    dev: Device,
    /// 辻堂, csw, active; stages 1 then 3 then a contact without a stage.
    p1: PersonId,
    /// 鵠沼, csw + child, active; stage 2.
    p2: PersonId,
    /// 辻堂, child, closed; no contact.
    p3: PersonId,
    _fx: Fixture,
}

fn caseload() -> Caseload {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p1 = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let mut f = person("田中 太郎", "たなか たろう");
    f["district"] = json!("kugenuma");
    f["programs"] = json!(["csw", "child"]);
    let p2 = dev.add_person(&mut store, f);
    let mut f = person("青木 次郎", "あおき じろう");
    f["programs"] = json!(["child"]);
    f["status"] = json!("closed");
    let p3 = dev.add_person(&mut store, f);

    // Written out of order: the latest by `at` decides, not the latest written.
    let mut c = contact(p1, "2026-11-04T10:00:00+09:00", "電話のみ");
    c["stage"] = json!(null);
    c["next_due"] = json!(null);
    dev.add_contact(&mut store, c);
    let mut c = contact(p1, "2026-11-03T10:00:00+09:00", "面談できた");
    c["stage"] = json!(3);
    c["next_due"] = json!("2026-11-20");
    dev.add_contact(&mut store, c);
    let mut c = contact(p1, "2026-11-01T10:00:00+09:00", "不在");
    c["next_due"] = json!("2026-11-08");
    dev.add_contact(&mut store, c);
    let mut c = contact(p2, "2026-11-02T10:00:00+09:00", "訪問");
    c["stage"] = json!(2);
    dev.add_contact(&mut store, c);
    Caseload {
        store,
        dev,
        p1,
        p2,
        p3,
        _fx: fx,
    }
}

fn ids(store: &Store, filter: CaseloadFilter) -> Vec<PersonId> {
    store
        .caseload(&filter)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

#[test]
fn caseload_filters_by_program_district_status_and_stage() {
    let c = caseload();
    let s = &c.store;
    // Sorted by kana: あおき, たなか, やまだ.
    assert_eq!(ids(s, CaseloadFilter::default()), vec![c.p3, c.p2, c.p1]);
    let program = |p: &str| CaseloadFilter {
        program: Some(p.into()),
        ..Default::default()
    };
    assert_eq!(ids(s, program("csw")), vec![c.p2, c.p1]);
    assert_eq!(ids(s, program("child")), vec![c.p3, c.p2]);
    assert_eq!(ids(s, program("cs")), Vec::<PersonId>::new());
    let district = CaseloadFilter {
        district: Some("tsujido".into()),
        ..Default::default()
    };
    assert_eq!(ids(s, district), vec![c.p3, c.p1]);
    let closed = CaseloadFilter {
        status: Some("closed".into()),
        ..Default::default()
    };
    assert_eq!(ids(s, closed), vec![c.p3]);
    let stage = |n| CaseloadFilter {
        stage: Some(n),
        ..Default::default()
    };
    assert_eq!(ids(s, stage(3)), vec![c.p1]);
    assert_eq!(ids(s, stage(2)), vec![c.p2]);
    assert_eq!(ids(s, stage(1)), Vec::<PersonId>::new());
    let both = CaseloadFilter {
        program: Some("csw".into()),
        district: Some("tsujido".into()),
        status: Some("active".into()),
        stage: Some(3),
    };
    assert_eq!(ids(s, both), vec![c.p1]);
}

#[test]
fn caseload_row_shows_latest_contact_stage_and_the_latest_planned_next_step() {
    let c = caseload();
    let r1 = c.store.caseload_row(c.p1).unwrap().unwrap();
    assert_eq!(
        r1.last_contact_at.as_deref(),
        Some("2026-11-04T01:00:00.000Z")
    );
    assert_eq!(r1.stage, Some(3));
    // The follow-up planned by the latest contact that planned one (11-03 → 11-20); the
    // 11-08 plan of the 11-01 visit was overtaken by later contacts.
    assert_eq!(r1.next_due.as_deref(), Some("2026-11-20"));
    assert_eq!(r1.district, "tsujido");
    let r3 = c.store.caseload_row(c.p3).unwrap().unwrap();
    assert_eq!(
        (r3.last_contact_at, r3.stage, r3.next_due),
        (None, None, None)
    );
    assert_eq!(r3.programs, vec!["child"]);
}

#[test]
fn a_new_contact_moves_the_stage_and_a_deleted_one_moves_it_back() {
    let mut c = caseload();
    let mut f = contact(c.p1, "2026-11-05T10:00:00+09:00", "同行訪問");
    f["stage"] = json!(4);
    let newest = c.dev.add_contact(&mut c.store, f);
    assert_eq!(c.store.caseload_row(c.p1).unwrap().unwrap().stage, Some(4));
    c.dev.edit(
        &mut c.store,
        EntityKind::Contact,
        newest.into(),
        json!({"stage": 5}),
    );
    assert_eq!(c.store.caseload_row(c.p1).unwrap().unwrap().stage, Some(5));
    c.dev
        .delete(&mut c.store, EntityKind::Contact, newest.into());
    let row = c.store.caseload_row(c.p1).unwrap().unwrap();
    assert_eq!(row.stage, Some(3));
    assert_eq!(
        row.last_contact_at.as_deref(),
        Some("2026-11-04T01:00:00.000Z")
    );
}

/// A correction that changes no indexed column (the outcome, the note) updates the contact's
/// row in place; one that moves it in time or to another person rewrites its index entries
/// and both persons' summaries. Either way the projection follows the merged state and every
/// index matches its table.
#[test]
fn corrections_keep_the_projection_its_indexes_and_the_summaries_in_line() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let a = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let b = dev.add_person(&mut store, person("田中 太郎", "たなか たろう"));
    let x = dev.add_contact(
        &mut store,
        contact(a, "2026-11-01T10:00:00+09:00", "一回目"),
    );
    let mut f = contact(a, "2026-11-02T10:00:00+09:00", "二回目");
    f["stage"] = json!(2);
    let y = dev.add_contact(&mut store, f);
    let summary = |store: &Store, p: PersonId| {
        let r = store.caseload_row(p).unwrap().unwrap();
        (r.last_contact_at, r.stage)
    };
    let projected = |id: tsunagi_core::ids::ContactId| -> (Vec<u8>, String, String) {
        fx.raw()
            .query_row(
                "SELECT person, at, outcome FROM contacts WHERE id = ?1",
                [id.as_uuid().as_bytes()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    };
    let day2 = (Some("2026-11-02T01:00:00.000Z".to_owned()), Some(2));
    assert_eq!(summary(&store, a), day2);

    // Outcome and note only: the row changes in place, the summary stays.
    dev.edit(
        &mut store,
        EntityKind::Contact,
        y.into(),
        json!({"outcome": "met", "note": "会えた"}),
    );
    assert_eq!(projected(y).2, "met");
    assert_eq!(summary(&store, a), day2);

    // Later in time: it becomes the latest contact.
    dev.edit(
        &mut store,
        EntityKind::Contact,
        x.into(),
        json!({"at": "2026-11-03T10:00:00+09:00"}),
    );
    assert_eq!(projected(x).1, "2026-11-03T01:00:00.000Z");
    assert_eq!(
        summary(&store, a),
        (Some("2026-11-03T01:00:00.000Z".to_owned()), Some(1))
    );

    // To another person: both summaries follow.
    dev.edit(
        &mut store,
        EntityKind::Contact,
        x.into(),
        json!({"person": b.to_string()}),
    );
    assert_eq!(projected(x).0, b.as_uuid().as_bytes().to_vec());
    assert_eq!(summary(&store, a), day2);
    assert_eq!(
        summary(&store, b),
        (Some("2026-11-03T01:00:00.000Z".to_owned()), Some(1))
    );
    assert_eq!(store.timeline(b, 10).unwrap().len(), 1);
    assert_eq!(store.timeline(a, 10).unwrap().len(), 1);
    store.integrity_check().unwrap();
}

#[test]
fn timeline_is_newest_first_and_limited() {
    let c = caseload();
    let at = |limit| -> Vec<String> {
        c.store
            .timeline(c.p1, limit)
            .unwrap()
            .iter()
            .map(|s| s.value("at").unwrap().as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        at(10),
        vec![
            "2026-11-04T10:00:00+09:00",
            "2026-11-03T10:00:00+09:00",
            "2026-11-01T10:00:00+09:00"
        ]
    );
    assert_eq!(at(2).len(), 2);
    assert!(c.store.timeline(c.p3, 10).unwrap().is_empty());
}

/// `at` carries its UTC offset (`DateTime<FixedOffset>`): the order is the instants' order,
/// not the text's (the projection holds UTC).
#[test]
fn timeline_and_stage_order_by_instant_across_utc_offsets() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    // 09:30 JST is 00:30 UTC.
    let mut early = contact(p, "2026-11-01T09:30:00+09:00", "早い");
    early["stage"] = json!(1);
    dev.add_contact(&mut store, early);
    // 01:00 UTC is 10:00 JST: the later contact.
    let mut late = contact(p, "2026-11-01T01:00:00+00:00", "遅い");
    late["stage"] = json!(2);
    dev.add_contact(&mut store, late);
    let notes: Vec<String> = store
        .timeline(p, 10)
        .unwrap()
        .iter()
        .map(|s| s.value("note").unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(notes, vec!["遅い", "早い"]);
    let row = store.caseload_row(p).unwrap().unwrap();
    assert_eq!(row.stage, Some(2));
    assert_eq!(
        row.last_contact_at.as_deref(),
        Some("2026-11-01T01:00:00.000Z")
    );
}

#[test]
fn assessments_are_newest_first() {
    let mut c = caseload();
    for (at, total) in [
        ("2026-11-01T10:00:00+09:00", 9),
        ("2026-12-01T10:00:00+09:00", 14),
        ("2026-10-01T10:00:00+09:00", 5),
    ] {
        let id = EntityId::from_uuid(uuid::Uuid::now_v7());
        c.dev.edit(
            &mut c.store,
            EntityKind::Assessment,
            id,
            assessment(c.p2, at, total),
        );
    }
    let totals: Vec<i64> = c
        .store
        .assessments(c.p2, 10)
        .unwrap()
        .iter()
        .map(|s| s.value("result").unwrap()["total"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, vec![14, 9, 5]);
    assert!(c.store.assessments(c.p1, 10).unwrap().is_empty());
}

#[test]
fn concurrent_writes_from_two_devices_show_as_a_conflict() {
    let mut c = caseload();
    let id: EntityId = c.p2.into();
    let base = c.store.entity(id).unwrap().unwrap();
    // Device 2 received the person earlier; both edit the status without seeing each other.
    let mut other = Device::new(2);
    let mine = c.dev.set_on(&base, json!({"status": "paused"}));
    let theirs = other.set_on(&base, json!({"status": "moved", "district": "kugenuma"}));
    assert!(c.store.apply(&mine, Origin::Local).unwrap());
    assert!(c.store.apply(&theirs, Origin::Remote).unwrap());

    let state = c.store.entity(id).unwrap().unwrap();
    let conflicts = state.conflicts();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "status");
    let values: Vec<&str> = conflicts[0]
        .candidates
        .iter()
        .map(|(_, v)| v.as_str().unwrap())
        .collect();
    assert_eq!(values.len(), 2);
    assert!(values.contains(&"paused") && values.contains(&"moved"));
    // The list shows the winner: the greatest version.
    let winner = conflicts[0].candidates.last().unwrap().1.clone();
    let row = c.store.caseload_row(c.p2).unwrap().unwrap();
    assert_eq!(json!(row.status), winner);
    // Unchanged field (same value on both) is not in conflict.
    assert!(state.field("district").unwrap().heads().count() == 1);

    // Writing over both resolves it.
    c.dev.edit(
        &mut c.store,
        EntityKind::Person,
        id,
        json!({"status": "active"}),
    );
    let state = c.store.entity(id).unwrap().unwrap();
    assert!(state.conflicts().is_empty());
    assert_eq!(
        c.store.caseload_row(c.p2).unwrap().unwrap().status,
        "active"
    );
}

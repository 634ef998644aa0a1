//! Merge of change sets into entity state: per-field last-writer-wins on `(HLC, device id)`,
//! with concurrent writes kept as visible conflicts.
//!
//! The state of a field is a set of writes minus the writes that some later write declared it
//! had seen and replaced (`FieldWrite::supersedes`). Both sets only grow, so applying the same
//! change sets in any order, any number of times, gives the same state (a state-based CRDT).
//! The value shown is the greatest remaining version; when more than one remains, the writers
//! did not see each other and the field is in conflict until someone writes over all of them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

use crate::change::{ChangeBody, ChangeSet, EntityKind, FieldWrite, Version};
use crate::ids::{EntityId, OpId};

/// Why a change set cannot apply to a state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The change set names another entity than the state holds.
    #[error("change set for {kind} {entity} applied to {expected_kind} {expected}")]
    WrongEntity {
        /// The change set's kind.
        kind: EntityKind,
        /// The change set's entity.
        entity: EntityId,
        /// The state's kind.
        expected_kind: EntityKind,
        /// The state's entity.
        expected: EntityId,
    },
}

/// A write still standing: its value and the change set it came from.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct Head {
    /// The value written.
    pub value: Value,
    /// The change set that wrote it.
    pub op: OpId,
}

/// One field: the writes still standing (`heads`) and every version known to be replaced.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct FieldState {
    heads: BTreeMap<Version, Head>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    superseded: BTreeSet<Version>,
}

impl FieldState {
    fn apply(&mut self, version: Version, op: OpId, write: &FieldWrite) {
        for old in &write.supersedes {
            self.heads.remove(old);
            self.superseded.insert(*old);
        }
        if self.superseded.contains(&version) {
            return;
        }
        let head = Head {
            value: write.value.clone(),
            op,
        };
        match self.heads.get(&version) {
            // Two different change sets claiming one version cannot come from an honest device;
            // keep the same one whatever the arrival order so devices still converge.
            Some(existing) if existing.op >= op => {}
            _ => {
                self.heads.insert(version, head);
            }
        }
    }

    fn join(&mut self, other: &FieldState) {
        self.superseded.extend(other.superseded.iter().copied());
        for (v, h) in &other.heads {
            match self.heads.get(v) {
                Some(existing) if existing.op >= h.op => {}
                _ => {
                    self.heads.insert(*v, h.clone());
                }
            }
        }
        let gone = &self.superseded;
        self.heads.retain(|v, _| !gone.contains(v));
    }

    /// The winning write: the greatest version still standing.
    pub fn winner(&self) -> Option<(&Version, &Head)> {
        self.heads.iter().next_back()
    }

    /// Every write still standing, oldest first. More than one means a conflict.
    pub fn heads(&self) -> impl Iterator<Item = (&Version, &Head)> {
        self.heads.iter()
    }

    /// The versions a new local write must declare it replaces.
    pub fn head_versions(&self) -> Vec<Version> {
        self.heads.keys().copied().collect()
    }

    /// Whether concurrent writes stand side by side.
    pub fn in_conflict(&self) -> bool {
        self.heads.len() > 1
    }
}

/// A field whose writers did not see each other: every value is kept, the winner is shown.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The field's name.
    pub field: String,
    /// Every standing write, oldest first; the last is the one shown.
    pub candidates: Vec<(Version, Value)>,
}

/// The merged state of one entity.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct EntityState {
    kind: EntityKind,
    id: EntityId,
    fields: BTreeMap<String, FieldState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tombstone: Option<Version>,
    /// The greatest version of any write applied; the entity's "last changed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<Version>,
}

impl EntityState {
    /// An entity nothing has been written to yet.
    pub fn new(kind: EntityKind, id: EntityId) -> Self {
        EntityState {
            kind,
            id,
            fields: BTreeMap::new(),
            tombstone: None,
            latest: None,
        }
    }

    /// The entity's kind.
    pub fn kind(&self) -> EntityKind {
        self.kind
    }

    /// The entity's id.
    pub fn id(&self) -> EntityId {
        self.id
    }

    /// Applies one change set. Commutative, associative and idempotent.
    pub fn apply(&mut self, cs: &ChangeSet) -> Result<(), MergeError> {
        if cs.kind != self.kind || cs.entity != self.id {
            return Err(MergeError::WrongEntity {
                kind: cs.kind,
                entity: cs.entity,
                expected_kind: self.kind,
                expected: self.id,
            });
        }
        let version = cs.version();
        match &cs.body {
            ChangeBody::Set(writes) => {
                for (name, write) in writes {
                    self.fields
                        .entry(name.clone())
                        .or_default()
                        .apply(version, cs.op, write);
                }
            }
            ChangeBody::Tombstone => {
                self.tombstone = self.tombstone.max(Some(version));
            }
        }
        self.latest = self.latest.max(Some(version));
        Ok(())
    }

    /// Merges another replica's state of the same entity (a snapshot): the result is the state
    /// of the union of both replicas' change sets. Commutative, associative and idempotent,
    /// like `apply`, and `apply` of any change set either state saw changes nothing more.
    pub fn join(&mut self, other: &EntityState) -> Result<(), MergeError> {
        if other.kind != self.kind || other.id != self.id {
            return Err(MergeError::WrongEntity {
                kind: other.kind,
                entity: other.id,
                expected_kind: self.kind,
                expected: self.id,
            });
        }
        for (name, f) in &other.fields {
            self.fields.entry(name.clone()).or_default().join(f);
        }
        self.tombstone = self.tombstone.max(other.tombstone);
        self.latest = self.latest.max(other.latest);
        Ok(())
    }

    /// The case this entity belongs to: its person for contacts, assessments, plans, consents
    /// and disclosures; itself for persons, households and meetings. Case keys and sharing are
    /// per case.
    pub fn case_id(&self) -> EntityId {
        case_of(self.kind, self.id, self.value("person"))
    }

    /// The shown value of a field, if any.
    pub fn value(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)?.winner().map(|(_, h)| &h.value)
    }

    /// One field's state.
    pub fn field(&self, field: &str) -> Option<&FieldState> {
        self.fields.get(field)
    }

    /// Every field with its shown value, as a JSON object (for deserializing the domain type).
    pub fn to_object(&self) -> serde_json::Map<String, Value> {
        self.fields
            .iter()
            .filter_map(|(k, f)| f.winner().map(|(_, h)| (k.clone(), h.value.clone())))
            .collect()
    }

    /// Fields whose writers did not see each other.
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        self.fields
            .iter()
            .filter(|(_, f)| f.in_conflict())
            .map(|(name, f)| FieldConflict {
                field: name.clone(),
                candidates: f.heads().map(|(v, h)| (*v, h.value.clone())).collect(),
            })
            .collect()
    }

    /// Deleted: a tombstone newer than every write still standing. A later edit made without
    /// knowledge of the deletion brings the entity back rather than losing that edit.
    pub fn is_deleted(&self) -> bool {
        let newest_write = self
            .fields
            .values()
            .filter_map(|f| f.winner().map(|(v, _)| *v))
            .max();
        match (self.tombstone, newest_write) {
            (Some(t), Some(w)) => t > w,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The greatest version applied.
    pub fn latest(&self) -> Option<Version> {
        self.latest
    }

    /// The writes a local edit setting `values` needs: only fields that change or are in
    /// conflict, each replacing every version standing now (so an edit resolves a conflict).
    pub fn writes_for(&self, values: BTreeMap<String, Value>) -> BTreeMap<String, FieldWrite> {
        values
            .into_iter()
            .filter_map(|(name, value)| match self.fields.get(&name) {
                Some(f)
                    if !f.in_conflict() && f.winner().map(|(_, h)| &h.value) == Some(&value) =>
                {
                    None
                }
                Some(f) => Some((
                    name,
                    FieldWrite {
                        value,
                        supersedes: f.head_versions(),
                    },
                )),
                None => Some((
                    name,
                    FieldWrite {
                        value,
                        supersedes: Vec::new(),
                    },
                )),
            })
            .collect()
    }
}

/// The case of an entity of `kind` and `id` whose `person` field holds `person` (see
/// [`EntityState::case_id`]); a write about to be made asks this with the value it writes.
pub fn case_of(kind: EntityKind, id: EntityId, person: Option<&Value>) -> EntityId {
    match kind {
        EntityKind::Person | EntityKind::Household | EntityKind::Meeting => id,
        _ => person
            .and_then(Value::as_str)
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map_or(id, EntityId::from_uuid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::ids::DeviceId;
    use proptest::prelude::*;
    use serde_json::json;
    use uuid::Uuid;

    fn dev(n: u8) -> DeviceId {
        DeviceId::from_uuid(Uuid::from_bytes([n; 16]))
    }

    fn entity() -> EntityId {
        EntityId::from_uuid(Uuid::from_bytes([0xee; 16]))
    }

    /// A simulated device: its HLC, its view of the entity, and a counter for op ids.
    #[derive(Clone)]
    struct Sim {
        device: DeviceId,
        clock: Hlc,
        state: EntityState,
        made: Vec<ChangeSet>,
    }

    impl Sim {
        fn new(n: u8) -> Sim {
            Sim {
                device: dev(n),
                clock: Hlc::ZERO,
                state: EntityState::new(EntityKind::Person, entity()),
                made: Vec::new(),
            }
        }

        fn write(&mut self, now: u64, fields: &[(&str, Value)]) -> ChangeSet {
            self.clock = self.clock.tick(now);
            let values = fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            let n = self.made.len() as u16;
            let mut op = [0u8; 16];
            op[0] = self.device.as_uuid().as_bytes()[0];
            op[1..3].copy_from_slice(&n.to_be_bytes());
            let cs = ChangeSet {
                op: OpId::from_uuid(Uuid::from_bytes(op)),
                kind: EntityKind::Person,
                entity: entity(),
                hlc: self.clock,
                device: self.device,
                body: ChangeBody::Set(self.state.writes_for(values)),
            };
            self.state.apply(&cs).unwrap();
            self.made.push(cs.clone());
            cs
        }

        fn delete(&mut self, now: u64) -> ChangeSet {
            self.clock = self.clock.tick(now);
            let n = self.made.len() as u16;
            let mut op = [0xdd; 16];
            op[0] = self.device.as_uuid().as_bytes()[0];
            op[1..3].copy_from_slice(&n.to_be_bytes());
            let cs = ChangeSet {
                op: OpId::from_uuid(Uuid::from_bytes(op)),
                kind: EntityKind::Person,
                entity: entity(),
                hlc: self.clock,
                device: self.device,
                body: ChangeBody::Tombstone,
            };
            self.state.apply(&cs).unwrap();
            self.made.push(cs.clone());
            cs
        }

        fn receive(&mut self, ops: &[ChangeSet], now: u64) {
            for cs in ops {
                self.clock = self.clock.observe(cs.hlc, now);
                self.state.apply(cs).unwrap();
            }
        }
    }

    fn replay(ops: &[ChangeSet]) -> EntityState {
        let mut s = EntityState::new(EntityKind::Person, entity());
        for cs in ops {
            s.apply(cs).unwrap();
        }
        s
    }

    #[test]
    fn sequential_edits_take_the_latest_without_conflict() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        let first = a.write(100, &[("name", json!("山田"))]);
        b.receive(&[first], 150);
        b.write(200, &[("name", json!("山田花子"))]);
        let state = replay(&[a.made.clone(), b.made.clone()].concat());
        assert_eq!(state.value("name"), Some(&json!("山田花子")));
        assert!(state.conflicts().is_empty());
    }

    #[test]
    fn concurrent_writes_to_one_field_are_kept_as_a_conflict() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        let base = a.write(100, &[("phone", json!("0466-00-0000"))]);
        b.receive(std::slice::from_ref(&base), 110);
        a.write(200, &[("phone", json!("0466-11-1111"))]);
        b.write(300, &[("phone", json!("0466-22-2222"))]);
        let state = replay(&[a.made.clone(), b.made.clone()].concat());
        // Last writer (b, later HLC) is shown ...
        assert_eq!(state.value("phone"), Some(&json!("0466-22-2222")));
        // ... and the other value is not lost.
        let conflicts = state.conflicts();
        assert_eq!(conflicts.len(), 1);
        let values: Vec<_> = conflicts[0]
            .candidates
            .iter()
            .map(|(_, v)| v.clone())
            .collect();
        assert_eq!(values, vec![json!("0466-11-1111"), json!("0466-22-2222")]);
    }

    #[test]
    fn an_edit_over_a_conflict_resolves_it() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        let x = a.write(100, &[("memo", json!("a"))]);
        let y = b.write(100, &[("memo", json!("b"))]);
        a.receive(&[y], 120);
        assert!(a.state.field("memo").unwrap().in_conflict());
        a.write(130, &[("memo", json!("merged"))]);
        b.receive(&a.made, 140);
        assert_eq!(b.state.value("memo"), Some(&json!("merged")));
        assert!(b.state.conflicts().is_empty());
        assert!(x.hlc < a.state.latest().unwrap().hlc);
    }

    #[test]
    fn tombstone_deletes_but_a_later_unaware_edit_survives() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        let created = a.write(100, &[("name", json!("x"))]);
        b.receive(&[created], 100);
        a.delete(200);
        assert!(a.state.is_deleted());
        b.write(300, &[("name", json!("y"))]);
        let state = replay(&[a.made.clone(), b.made.clone()].concat());
        assert!(
            !state.is_deleted(),
            "an edit made after the deletion is kept"
        );
        let state = replay(&a.made);
        assert!(state.is_deleted());
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        a.write(100, &[("phone", json!("1")), ("name", json!("x"))]);
        b.write(100, &[("phone", json!("2"))]);
        a.receive(&b.made, 120);
        let json = serde_json::to_string(&a.state).unwrap();
        let back: EntityState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a.state);
        assert_eq!(back.conflicts().len(), 1);
    }

    #[test]
    fn wrong_entity_is_refused() {
        let mut s = EntityState::new(EntityKind::Contact, entity());
        let mut a = Sim::new(1);
        let cs = a.write(1, &[("x", json!(1))]);
        assert!(matches!(s.apply(&cs), Err(MergeError::WrongEntity { .. })));
    }

    /// Regression: the heads map (keyed by `Version`) failed to serialize to JSON ("key must
    /// be a string"), so the store could not save any entity state.
    #[test]
    fn state_with_a_conflict_round_trips_through_json() {
        let mut a = Sim::new(1);
        let mut b = Sim::new(2);
        let base = a.write(1, &[("name", json!("x"))]);
        b.receive(&[base], 1);
        a.write(2, &[("name", json!("a"))]);
        let theirs = b.write(2, &[("name", json!("b"))]);
        a.receive(&[theirs], 3);
        assert_eq!(a.state.conflicts().len(), 1);
        a.delete(4);
        let json = serde_json::to_string(&a.state).unwrap();
        let back: EntityState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a.state);
    }

    #[test]
    fn unchanged_fields_are_not_rewritten() {
        let mut a = Sim::new(1);
        a.write(1, &[("name", json!("x")), ("kana", json!("えっくす"))]);
        let cs = a.write(2, &[("name", json!("x")), ("kana", json!("えっくすー"))]);
        match cs.body {
            ChangeBody::Set(w) => assert_eq!(w.keys().collect::<Vec<_>>(), vec!["kana"]),
            ChangeBody::Tombstone => panic!("expected a set"),
        }
    }

    /// One step of a random multi-device history.
    #[derive(Clone, Debug)]
    enum Step {
        Write {
            device: usize,
            field: usize,
            value: u8,
        },
        Delete {
            device: usize,
        },
        Sync {
            from: usize,
            to: usize,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0..3usize, 0..3usize, any::<u8>())
                .prop_map(|(device, field, value)| Step::Write { device, field, value }),
            1 => (0..3usize).prop_map(|device| Step::Delete { device }),
            3 => (0..3usize, 0..3usize).prop_map(|(from, to)| Step::Sync { from, to }),
        ]
    }

    /// Runs a history; returns every change set made.
    fn run(steps: &[Step], clock_jumps: &[u64]) -> Vec<ChangeSet> {
        const FIELDS: [&str; 3] = ["name", "phone", "memo"];
        let mut sims = vec![Sim::new(1), Sim::new(2), Sim::new(3)];
        for (i, s) in steps.iter().enumerate() {
            // Each device's wall clock is skewed differently and sometimes goes back.
            let now = |d: usize| 1_000 + clock_jumps[i % clock_jumps.len()] * (d as u64 + 1);
            match *s {
                Step::Write {
                    device,
                    field,
                    value,
                } => {
                    sims[device].write(now(device), &[(FIELDS[field], json!(value))]);
                }
                Step::Delete { device } => {
                    sims[device].delete(now(device));
                }
                Step::Sync { from, to } => {
                    let ops = sims[from].made.clone();
                    let received: Vec<_> = sims.iter().flat_map(|s| s.made.clone()).collect();
                    // A device forwards what it has seen from others as well.
                    let mut seen = ops;
                    seen.extend(received.into_iter().filter(|cs| {
                        sims[from].state.latest().is_some_and(|l| cs.version() <= l)
                            && cs.device != sims[from].device
                    }));
                    sims[to].receive(&seen, now(to));
                }
            }
        }
        sims.into_iter().flat_map(|s| s.made).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any order, any duplication, any interleaving of the same change sets: same state.
        #[test]
        fn merge_is_order_and_duplication_independent(
            steps in proptest::collection::vec(step(), 1..40),
            jumps in proptest::collection::vec(0u64..50, 1..8),
            order_seed in any::<u64>(),
            dup_mask in proptest::collection::vec(any::<bool>(), 0..80),
        ) {
            let ops = run(&steps, &jumps);
            let reference = replay(&ops);

            let mut shuffled = ops.clone();
            for (i, dup) in dup_mask.iter().enumerate() {
                if *dup && !ops.is_empty() {
                    shuffled.push(ops[i % ops.len()].clone());
                }
            }
            // Deterministic Fisher–Yates from the seed.
            let mut x = order_seed | 1;
            for i in (1..shuffled.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                shuffled.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mixed = replay(&shuffled);
            prop_assert_eq!(&reference, &mixed);

            // Splitting into two replicas that merge each other's ops also converges.
            let (left, right) = shuffled.split_at(shuffled.len() / 2);
            let mut l = replay(left);
            let mut r = replay(right);
            for cs in right { l.apply(cs).unwrap(); }
            for cs in left { r.apply(cs).unwrap(); }
            prop_assert_eq!(&l, &r);
            prop_assert_eq!(&l, &reference);
        }

        /// Joining the states of two replicas (a snapshot) equals replaying both replicas'
        /// change sets, and replaying a change set after the join changes nothing.
        #[test]
        fn join_equals_replay_of_the_union(
            steps in proptest::collection::vec(step(), 1..40),
            jumps in proptest::collection::vec(0u64..50, 1..8),
            cut in any::<prop::sample::Index>(),
            overlap in 0usize..5,
        ) {
            let ops = run(&steps, &jumps);
            let reference = replay(&ops);
            let at = cut.index(ops.len() + 1);
            let left = &ops[..at];
            let right = &ops[at.saturating_sub(overlap)..];
            let mut l = replay(left);
            let r = replay(right);
            l.join(&r).unwrap();
            prop_assert_eq!(&l, &reference);
            let mut r2 = r.clone();
            r2.join(&replay(left)).unwrap();
            prop_assert_eq!(&r2, &reference);
            for cs in &ops { l.apply(cs).unwrap(); }
            prop_assert_eq!(&l, &reference);
        }

        /// A write that no later write declared it replaced is never lost: it is the shown
        /// value or one of the conflict candidates.
        #[test]
        fn no_unreplaced_write_is_lost(
            steps in proptest::collection::vec(step(), 1..40),
            jumps in proptest::collection::vec(0u64..50, 1..8),
        ) {
            let ops = run(&steps, &jumps);
            let state = replay(&ops);
            let replaced: BTreeSet<(String, Version)> = ops.iter().flat_map(|cs| match &cs.body {
                ChangeBody::Set(w) => w.iter()
                    .flat_map(|(f, fw)| fw.supersedes.iter().map(|v| (f.clone(), *v)))
                    .collect::<Vec<_>>(),
                ChangeBody::Tombstone => Vec::new(),
            }).collect();
            for cs in &ops {
                if let ChangeBody::Set(w) = &cs.body {
                    for (f, fw) in w {
                        if replaced.contains(&(f.clone(), cs.version())) { continue; }
                        let field = state.field(f).expect("field present");
                        let kept = field.heads().any(|(v, h)| *v == cs.version() && h.value == fw.value);
                        prop_assert!(kept, "write {:?} to {} lost", cs.version(), f);
                    }
                }
            }
            // The shown value is the greatest standing version.
            for c in state.conflicts() {
                let max = c.candidates.iter().map(|(v, _)| *v).max().unwrap();
                prop_assert_eq!(c.candidates.last().unwrap().0, max);
            }
        }
    }
}

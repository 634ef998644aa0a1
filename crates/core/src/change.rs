//! Change sets: the unit of every write. A change set names an entity and either sets some of
//! its fields or deletes it (a tombstone); it carries its author device and HLC.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

use crate::DomainError;
use crate::hlc::Hlc;
use crate::ids::{DeviceId, EntityId, OpId};

/// What kind of record a change set is about.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// 対象者
    Person,
    /// 世帯
    Household,
    /// 接触・訪問記録
    Contact,
    /// 評価票
    Assessment,
    /// 支援プラン
    Plan,
    /// 会議記録
    Meeting,
    /// 同意
    Consent,
    /// 情報提供記録
    Disclosure,
}

impl EntityKind {
    /// Every kind, in a fixed order.
    pub const ALL: [EntityKind; 8] = [
        EntityKind::Person,
        EntityKind::Household,
        EntityKind::Contact,
        EntityKind::Assessment,
        EntityKind::Plan,
        EntityKind::Meeting,
        EntityKind::Consent,
        EntityKind::Disclosure,
    ];

    /// The stable key used in storage and on the wire.
    pub fn key(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Household => "household",
            EntityKind::Contact => "contact",
            EntityKind::Assessment => "assessment",
            EntityKind::Plan => "plan",
            EntityKind::Meeting => "meeting",
            EntityKind::Consent => "consent",
            EntityKind::Disclosure => "disclosure",
        }
    }

    /// Parses [`EntityKind::key`].
    pub fn parse(s: &str) -> Result<EntityKind, DomainError> {
        EntityKind::ALL
            .into_iter()
            .find(|k| k.key() == s)
            .ok_or_else(|| DomainError::UnknownEntityKind {
                value: s.to_owned(),
            })
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The identity of one write: who wrote it and when. Merge orders writes by `(hlc, device)`;
/// because a device's HLC strictly increases, no two honest writes share a version.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Version {
    /// When (hybrid logical time).
    pub hlc: Hlc,
    /// Which device.
    pub device: DeviceId,
}

/// Serialized as `HLC@device` (e.g. `018f00000000-00000002@01a1…`): compact, and usable as a
/// JSON object key.
impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}@{}", self.hlc.to_sortable(), self.device))
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let (hlc, device) = s
            .split_once('@')
            .ok_or_else(|| serde::de::Error::custom(format!("not a version: {s:?}")))?;
        Ok(Version {
            hlc: Hlc::parse_sortable(hlc).map_err(serde::de::Error::custom)?,
            device: DeviceId::parse(device).map_err(serde::de::Error::custom)?,
        })
    }
}

/// A new value for one field, with the versions of that field its author had seen and meant to
/// replace. A write that replaces nothing its peers wrote concurrently shows up as a conflict.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct FieldWrite {
    /// The new value (JSON: the entity's field as serialized by the domain type).
    pub value: Value,
    /// The field's current versions on the author's device when it wrote (usually one; more
    /// when the author resolves a conflict; none for a new field).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supersedes: Vec<Version>,
}

/// What a change set does.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeBody {
    /// Set these fields.
    Set(BTreeMap<String, FieldWrite>),
    /// Delete the entity (kept as a tombstone so that the deletion syncs).
    Tombstone,
}

/// One change set (op): an entity, what changes, when and by whom.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Unique id of this change set; sync deduplicates on it.
    pub op: OpId,
    /// The kind of entity.
    pub kind: EntityKind,
    /// The entity.
    pub entity: EntityId,
    /// When it was made.
    pub hlc: Hlc,
    /// Who made it.
    pub device: DeviceId,
    /// What it does.
    pub body: ChangeBody,
}

impl ChangeSet {
    /// The version every field this change set writes gets.
    pub fn version(&self) -> Version {
        Version {
            hlc: self.hlc,
            device: self.device,
        }
    }
}

//! Typed identifiers (UUIDv7 on the wire). Ids are generated at the edges (the device layer);
//! the core only parses and compares them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

use crate::DomainError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps an already generated UUID.
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
            /// Parses the textual (hyphenated) form.
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| DomainError::InvalidId { what: $what, value: s.to_owned() })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

id_type!(
    /// Any entity's id: the key of a change set.
    EntityId,
    "entity id"
);
id_type!(
    /// A 対象者 (person).
    PersonId,
    "person id"
);
id_type!(
    /// A 世帯 (household).
    HouseholdId,
    "household id"
);
id_type!(
    /// One 接触・訪問記録 (contact).
    ContactId,
    "contact id"
);
id_type!(
    /// One 評価票 (assessment).
    AssessmentId,
    "assessment id"
);
id_type!(
    /// A 会議記録 (meeting).
    MeetingId,
    "meeting id"
);
id_type!(
    /// A 同意 (consent).
    ConsentId,
    "consent id"
);
id_type!(
    /// A 支援プラン (plan).
    PlanId,
    "plan id"
);
id_type!(
    /// A 情報提供記録 (disclosure).
    DisclosureId,
    "disclosure id"
);
id_type!(
    /// A device, the author of change sets.
    DeviceId,
    "device id"
);
id_type!(
    /// One change set (operation).
    OpId,
    "op id"
);

macro_rules! into_entity {
    ($($name:ident),*) => {$(
        impl From<$name> for EntityId {
            fn from(id: $name) -> EntityId {
                EntityId(id.0)
            }
        }
        impl From<EntityId> for $name {
            fn from(id: EntityId) -> $name {
                $name(id.0)
            }
        }
    )*};
}
into_entity!(
    PersonId,
    HouseholdId,
    ContactId,
    AssessmentId,
    MeetingId,
    ConsentId,
    PlanId,
    DisclosureId
);

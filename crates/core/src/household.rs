//! The 世帯 (household): an address and its members with their relation to the person at the
//! centre of support — families are support targets in their own right (8050, 9060).

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::PersonId;
use crate::text::{ShortText, choice_enum};

choice_enum! {
    /// How a member is related to the household's 本人 (the person at the centre of support).
    Relation (field = "relation") {
        Principal = "principal", "本人" | "self";
        Spouse = "spouse", "配偶者" | "夫" | "妻";
        Child = "child", "子" | "息子" | "娘";
        Parent = "parent", "親" | "父" | "母";
        Sibling = "sibling", "兄弟姉妹";
        Grandchild = "grandchild", "孫";
        Other = "other", "その他";
    }
}

/// One member of a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdMember {
    /// The member.
    pub person: PersonId,
    /// Relation to the household's 本人.
    pub relation: Relation,
    /// A short note (e.g. 同居, 別居・市外).
    pub note: Option<ShortText>,
}

/// The fields of a [`Household`]; also its stored shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdFields {
    /// 住所.
    pub address: Option<ShortText>,
    /// Members: at least one, each person once, at most one 本人.
    pub members: Vec<HouseholdMember>,
}

/// A 世帯 whose members are consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HouseholdFields", into = "HouseholdFields")]
pub struct Household(HouseholdFields);

impl Household {
    /// Checks the rules: at least one member, a person appears once, at most one 本人
    /// (relations are relative to that one person, so two would make them ambiguous).
    pub fn new(fields: HouseholdFields) -> Result<Household, DomainError> {
        if fields.members.is_empty() {
            return Err(DomainError::HouseholdWithoutMember);
        }
        for (i, m) in fields.members.iter().enumerate() {
            if fields.members[..i].iter().any(|o| o.person == m.person) {
                return Err(DomainError::HouseholdMemberTwice { person: m.person });
            }
        }
        let principals = fields
            .members
            .iter()
            .filter(|m| m.relation == Relation::Principal);
        if principals.count() > 1 {
            return Err(DomainError::HouseholdTwoPrincipals);
        }
        Ok(Household(fields))
    }

    /// All fields.
    pub fn fields(&self) -> &HouseholdFields {
        &self.0
    }
    /// The fields, to edit and re-validate.
    pub fn into_fields(self) -> HouseholdFields {
        self.0
    }
    /// The members.
    pub fn members(&self) -> &[HouseholdMember] {
        &self.0.members
    }
    /// The member entry of `person`, if they belong to this household.
    pub fn member(&self, person: PersonId) -> Option<&HouseholdMember> {
        self.0.members.iter().find(|m| m.person == person)
    }

    /// Adds a member, keeping the rules.
    pub fn add_member(&mut self, member: HouseholdMember) -> Result<(), DomainError> {
        let mut fields = self.0.clone();
        fields.members.push(member);
        *self = Household::new(fields)?;
        Ok(())
    }

    /// Removes a member; refuses to remove the last one (delete the household instead).
    pub fn remove_member(&mut self, person: PersonId) -> Result<(), DomainError> {
        let mut fields = self.0.clone();
        fields.members.retain(|m| m.person != person);
        *self = Household::new(fields)?;
        Ok(())
    }
}

impl TryFrom<HouseholdFields> for Household {
    type Error = DomainError;
    fn try_from(f: HouseholdFields) -> Result<Self, Self::Error> {
        Household::new(f)
    }
}

impl From<Household> for HouseholdFields {
    fn from(h: Household) -> HouseholdFields {
        h.0
    }
}

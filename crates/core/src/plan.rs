//! The 支援プラン (support plan) and its lifecycle: draft → active → re-planned → closed |
//! interrupted, with the 重層的支援会議 each step calls for tracked until it is held.
//!
//! Lifecycle decisions (product choices where no public rule exists):
//! - A draft that never reaches a meeting can be **discarded** (`draft → discarded`, no meeting
//!   needed: nothing was decided with other agencies). It is a state, not a deletion, so the
//!   record and its history survive sync and audit.
//! - Creation (`draft → active`), re-plan (`active|re_planned → re_planned`), closure and
//!   interruption each need a 重層的支援会議, which the plan tracks as pending until recorded.
//! - `closed`, `interrupted` and `discarded` are terminal: support that resumes gets a new plan.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::PersonId;
use crate::meeting::{MeetingId, MeetingKind};
use crate::text::{ShortText, choice_enum};

choice_enum! {
    /// Where a plan is in its lifecycle.
    PlanState (field = "state") {
        Draft = "draft", "作成中";
        Active = "active", "実施中";
        Replanned = "re_planned", "再プラン";
        Closed = "closed", "終結";
        Interrupted = "interrupted", "中断";
        Discarded = "discarded", "破棄";
    }
}

impl PlanState {
    /// True for states no transition leaves.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PlanState::Closed | PlanState::Interrupted | PlanState::Discarded
        )
    }

    /// The lifecycle table: `Ok(meeting needed)` when `self → to` is allowed, otherwise
    /// `InvalidTransition`.
    pub fn check_transition(self, to: PlanState) -> Result<Option<MeetingKind>, DomainError> {
        use PlanState::*;
        let jushoteki = Some(MeetingKind::Jushoteki);
        match (self, to) {
            (Draft, Active) => Ok(jushoteki),
            (Draft, Discarded) => Ok(None),
            (Active | Replanned, Replanned | Closed | Interrupted) => Ok(jushoteki),
            _ => Err(DomainError::InvalidTransition { from: self, to }),
        }
    }
}

/// One change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// State before.
    pub from: PlanState,
    /// State after.
    pub to: PlanState,
    /// When it was decided.
    pub at: NaiveDate,
    /// The meeting this step calls for, if any.
    pub needs_meeting: Option<MeetingKind>,
}

/// A transition in the plan's history, with the meeting that covered it once recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanEvent {
    /// The transition.
    pub transition: Transition,
    /// The meeting held for it (only where one is needed).
    pub meeting: Option<MeetingId>,
}

/// Who does what: an agency and its task in the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The agency (関係機関).
    pub agency: ShortText,
    /// Its task.
    pub task: ShortText,
}

/// The stored shape of a [`Plan`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFields {
    /// Whose plan.
    pub person: PersonId,
    /// Goals: at least one once the plan leaves draft.
    pub goals: Vec<ShortText>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Next review date.
    pub review_on: Option<NaiveDate>,
    /// Current state: must equal the state the history leads to.
    pub state: PlanState,
    /// Every transition so far, oldest first.
    pub history: Vec<PlanEvent>,
}

/// A 支援プラン whose state and history agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PlanFields", into = "PlanFields")]
pub struct Plan(PlanFields);

fn needs_goals(state: PlanState) -> bool {
    !matches!(state, PlanState::Draft | PlanState::Discarded)
}

impl Plan {
    /// A new plan in draft.
    pub fn draft(
        person: PersonId,
        goals: Vec<ShortText>,
        roles: Vec<Role>,
        review_on: Option<NaiveDate>,
    ) -> Plan {
        Plan(PlanFields {
            person,
            goals,
            roles,
            review_on,
            state: PlanState::Draft,
            history: Vec::new(),
        })
    }

    /// Rebuilds a plan from stored fields, replaying the history: every step allowed, in date
    /// order, needing the meeting the table says, meetings only where needed, ending in
    /// `state`; goals present past draft.
    pub fn new(fields: PlanFields) -> Result<Plan, DomainError> {
        let mut state = PlanState::Draft;
        let mut last: Option<NaiveDate> = None;
        for e in &fields.history {
            let t = e.transition;
            if t.from != state {
                return Err(DomainError::PlanHistoryOutOfStep {
                    from: t.from,
                    after: state,
                });
            }
            let needs = t.from.check_transition(t.to)?;
            if needs != t.needs_meeting {
                return Err(DomainError::PlanHistoryWrongMeetingRequirement {
                    from: t.from,
                    to: t.to,
                });
            }
            if e.meeting.is_some() && needs.is_none() {
                return Err(DomainError::PlanHistoryUnneededMeeting {
                    from: t.from,
                    to: t.to,
                });
            }
            if last.is_some_and(|l| t.at < l) {
                return Err(DomainError::PlanHistoryNotInDateOrder);
            }
            last = Some(t.at);
            state = t.to;
        }
        if state != fields.state {
            return Err(DomainError::PlanHistoryStateMismatch {
                state: fields.state,
                history: state,
            });
        }
        if needs_goals(state) && fields.goals.is_empty() {
            return Err(DomainError::PlanWithoutGoal);
        }
        Ok(Plan(fields))
    }

    /// Moves the plan to `to` on `at`. Refuses what the lifecycle table forbids, a date before
    /// the last transition, and activation without a goal. The returned transition says which
    /// meeting it calls for; it stays in [`Plan::pending_meetings`] until recorded.
    pub fn transition(&mut self, to: PlanState, at: NaiveDate) -> Result<Transition, DomainError> {
        let from = self.0.state;
        let needs_meeting = from.check_transition(to)?;
        if let Some(last) = self.0.history.last()
            && at < last.transition.at
        {
            return Err(DomainError::TransitionBeforePrevious {
                date: at,
                previous: last.transition.at,
            });
        }
        if needs_goals(to) && self.0.goals.is_empty() {
            return Err(DomainError::PlanWithoutGoal);
        }
        let t = Transition {
            from,
            to,
            at,
            needs_meeting,
        };
        self.0.history.push(PlanEvent {
            transition: t,
            meeting: None,
        });
        self.0.state = to;
        Ok(t)
    }

    /// Transitions whose meeting has not been recorded yet, with their history index.
    pub fn pending_meetings(&self) -> Vec<(usize, Transition)> {
        self.0
            .history
            .iter()
            .enumerate()
            .filter(|(_, e)| e.transition.needs_meeting.is_some() && e.meeting.is_none())
            .map(|(i, e)| (i, e.transition))
            .collect()
    }

    /// Records that the meeting `id` of `kind` was held for the transition at `index`.
    /// Recording the same meeting again is a no-op (sync may deliver it twice); a different
    /// meeting, a wrong kind or a transition that needs none is refused.
    pub fn record_meeting(
        &mut self,
        index: usize,
        kind: MeetingKind,
        id: MeetingId,
    ) -> Result<(), DomainError> {
        let e = self
            .0
            .history
            .get_mut(index)
            .ok_or(DomainError::PlanNoSuchTransition { index })?;
        let t = e.transition;
        let (from, to) = (t.from, t.to);
        match t.needs_meeting {
            None => Err(DomainError::PlanStepNeedsNoMeeting { from, to }),
            Some(needed) if needed != kind => Err(DomainError::PlanWrongMeetingKind {
                from,
                to,
                needed,
                given: kind,
            }),
            Some(_) => match e.meeting {
                Some(meeting) if meeting != id => {
                    Err(DomainError::PlanMeetingAlreadyRecorded { from, to, meeting })
                }
                _ => {
                    e.meeting = Some(id);
                    Ok(())
                }
            },
        }
    }

    fn editable(&self) -> Result<(), DomainError> {
        if self.0.state.is_terminal() {
            Err(DomainError::PlanNotEditable {
                state: self.0.state,
            })
        } else {
            Ok(())
        }
    }

    /// Replaces the goals (not in a terminal state; not empty past draft).
    pub fn set_goals(&mut self, goals: Vec<ShortText>) -> Result<(), DomainError> {
        self.editable()?;
        if needs_goals(self.0.state) && goals.is_empty() {
            return Err(DomainError::PlanWithoutGoal);
        }
        self.0.goals = goals;
        Ok(())
    }
    /// Replaces the roles (not in a terminal state).
    pub fn set_roles(&mut self, roles: Vec<Role>) -> Result<(), DomainError> {
        self.editable()?;
        self.0.roles = roles;
        Ok(())
    }
    /// Sets the next review date (not in a terminal state).
    pub fn set_review_on(&mut self, on: Option<NaiveDate>) -> Result<(), DomainError> {
        self.editable()?;
        self.0.review_on = on;
        Ok(())
    }

    /// All fields.
    pub fn fields(&self) -> &PlanFields {
        &self.0
    }
    /// Whose plan.
    pub fn person(&self) -> PersonId {
        self.0.person
    }
    /// Current state.
    pub fn state(&self) -> PlanState {
        self.0.state
    }
    /// Every transition, oldest first.
    pub fn history(&self) -> &[PlanEvent] {
        &self.0.history
    }
}

impl TryFrom<PlanFields> for Plan {
    type Error = DomainError;
    fn try_from(f: PlanFields) -> Result<Self, Self::Error> {
        Plan::new(f)
    }
}

impl From<Plan> for PlanFields {
    fn from(p: Plan) -> PlanFields {
        p.0
    }
}

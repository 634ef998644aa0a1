//! 今日の予定: follow-ups due and overdue by program cadence, the dementia team's first-visit
//! deadlines, infants nearing 4 months, plan reviews.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Which day to plan.
#[derive(Debug, Clone, Default, Deserialize, TS)]
#[serde(default)]
pub struct TodayRequest {
    /// The day (YYYY-MM-DD); default today on this device.
    pub date: Option<String>,
}

/// Why a person is on today's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AgendaKind {
    /// A follow-up planned by a contact (次回予定日).
    FollowUp,
    /// No contact for longer than the program's cadence.
    Cadence,
    /// A program deadline (first visit within 4 days of referral, infant visit before 4
    /// months, ...).
    Deadline,
    /// A plan's review date.
    PlanReview,
}

/// One entry of the day's list.
#[derive(Debug, Clone, Serialize, TS)]
pub struct AgendaItem {
    /// The person.
    pub person: String,
    /// Their name.
    pub person_name: String,
    /// District name.
    pub district_name: String,
    /// Why.
    pub kind: AgendaKind,
    /// What is due, in Japanese (次回予定: 再訪問, 初回訪問（相談受付から4日以内）, ...).
    pub label_ja: String,
    /// The same in English.
    pub label_en: String,
    /// What the worker wrote for it, if anything: the next step a contact planned, the goals of
    /// a plan due for review.
    pub detail: Option<String>,
    /// The program it comes from.
    pub program: Option<String>,
    /// The due day (YYYY-MM-DD).
    pub due: String,
    /// Days from the day asked about to the due day (negative: overdue).
    pub days_left: i32,
    /// Current trust stage.
    pub stage: Option<u8>,
}

/// The day's list: overdue first, then due today, then coming soon.
#[derive(Debug, Clone, Serialize, TS)]
pub struct TodayView {
    /// The day.
    pub date: String,
    /// Past due.
    pub overdue: Vec<AgendaItem>,
    /// Due that day.
    pub due_today: Vec<AgendaItem>,
    /// Due within the coming week (deadlines within 30 days).
    pub upcoming: Vec<AgendaItem>,
}

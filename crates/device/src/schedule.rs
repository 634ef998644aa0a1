//! 今日の予定: what is due for the persons on this device on a given day — follow-ups planned
//! by contacts, follow-ups by program cadence when none was planned, program deadlines (the
//! dementia team's first visit within 4 days of referral, the infant visit before 4 months),
//! and plan reviews.
//!
//! Rules (product choices where no public rule exists):
//! - Only persons in 受付, 支援中 or 見守り are scheduled; 終結 and 中断 are not.
//! - A planned follow-up (次回予定日) is done once a contact happens on or after its day.
//! - Without a pending planned follow-up, a person is due the program's `follow_up_days`
//!   after the last contact (the shortest cadence among the person's programs).
//! - A deadline is met by a contact where the person (or family) was met on or after its
//!   anchor day; one anchored on `support_start` is met by the hand-over day being recorded.
//! - Shown: everything overdue, what is due that day, follow-ups and reviews due within 7 days,
//!   deadlines within 30 (an infant nearing 4 months).

use chrono::{Local, NaiveDate, NaiveTime, TimeZone};
use tsunagi_core::change::EntityKind;
use tsunagi_core::contact::Contact;
use tsunagi_core::person::{Person, PersonStatus, parse_date};
use tsunagi_core::plan::Plan;
use tsunagi_store::CaseloadFilter;

use crate::api::{AgendaItem, AgendaKind, TodayView};
use crate::view::decode;
use crate::{Device, DeviceError};

/// Follow-ups and plan reviews are listed this many days ahead.
const FOLLOW_UP_HORIZON: i64 = 7;
/// Deadlines are listed this many days ahead.
const DEADLINE_HORIZON: i64 = 30;

/// The UTC instant of a local day's start, as the contacts projection stores times.
fn local_day_start_utc(day: NaiveDate) -> String {
    Local
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .earliest()
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .unwrap_or_else(|| format!("{day}T00:00:00.000Z"))
}

/// The local day of a stored RFC 3339 time.
fn local_day(at: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Local).date_naive())
}

impl Device {
    /// The day's list for `date` (default today): overdue, due that day, coming soon.
    pub fn today(&self, date: Option<&str>) -> Result<TodayView, DeviceError> {
        let day = match date.map(str::trim) {
            None | Some("") => Local::now().date_naive(),
            Some(s) => parse_date("date", s)?,
        };
        let config = self.config();
        let mut items = Vec::new();
        for row in self.store.caseload(&CaseloadFilter::default())? {
            let status = PersonStatus::parse(&row.status).unwrap_or(PersonStatus::Active);
            if matches!(status, PersonStatus::Closed | PersonStatus::Interrupted) {
                continue;
            }
            let view = crate::view::CaseloadView::new(row.clone(), config);
            let base = |kind: AgendaKind,
                        (label_ja, label_en): (String, String),
                        detail: Option<String>,
                        program: Option<String>,
                        due: NaiveDate| {
                AgendaItem {
                    person: row.id.to_string(),
                    person_name: row.name.clone(),
                    district_name: view.district_name.clone(),
                    kind,
                    label_ja,
                    label_en,
                    detail,
                    program,
                    due: due.to_string(),
                    days_left: i32::try_from((due - day).num_days()).unwrap_or(i32::MIN),
                    stage: row.stage.and_then(|s| u8::try_from(s).ok()),
                }
            };
            let last_contact = row.last_contact_at.as_deref().and_then(local_day);
            // A planned follow-up, until a contact on or after its day.
            let planned = row
                .next_due
                .as_deref()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .filter(|due| last_contact.is_none_or(|last| last < *due));
            if let Some(due) = planned {
                if (due - day).num_days() <= FOLLOW_UP_HORIZON {
                    let step = match self.store.planned_follow_up(row.id)? {
                        Some(contact) => self
                            .record::<Contact>(EntityKind::Contact, contact.into(), "contact")?
                            .fields()
                            .next_step
                            .as_ref()
                            .map(|s| s.as_str().to_owned()),
                        None => None,
                    };
                    items.push(base(
                        AgendaKind::FollowUp,
                        ("次回予定".into(), "Planned follow-up".into()),
                        step,
                        None,
                        due,
                    ));
                }
            } else if let Some(last) = last_contact {
                let cadence = row
                    .programs
                    .iter()
                    .filter_map(|p| {
                        let program = config.program(p).ok()?;
                        let info = config.program_info(&program)?;
                        Some((info.follow_up_days()?, program.code().to_owned()))
                    })
                    .min();
                if let Some((days, program)) = cadence
                    && let Some(due) = last.checked_add_days(chrono::Days::new(days.into()))
                    && (due - day).num_days() <= FOLLOW_UP_HORIZON
                {
                    items.push(base(
                        AgendaKind::Cadence,
                        (
                            format!("定期の連絡（前回から{days}日）"),
                            format!("Regular contact ({days} days since the last)"),
                        ),
                        None,
                        Some(program),
                        due,
                    ));
                }
            }
            // Deadlines and plan reviews need the person's record.
            let has_deadlines = row.programs.iter().any(|p| {
                config
                    .program(p)
                    .ok()
                    .and_then(|p| config.program_info(&p))
                    .is_some_and(|i| !i.deadlines().is_empty())
            });
            if has_deadlines {
                let person: Person = self.record(EntityKind::Person, row.id.into(), "person")?;
                for program in person.programs() {
                    let Some(info) = config.program_info(program) else {
                        continue;
                    };
                    for deadline in info.deadlines() {
                        let Some(anchor) = person.fields().anchor_date(deadline.anchor()) else {
                            continue;
                        };
                        let Some(due) = deadline.due(anchor) else {
                            continue;
                        };
                        if (due - day).num_days() > DEADLINE_HORIZON {
                            continue;
                        }
                        let met = if deadline.anchor() == "support_start" {
                            person.fields().handed_over_on.is_some()
                        } else {
                            self.store.met_since(row.id, &local_day_start_utc(anchor))?
                        };
                        if !met {
                            let label_en = match deadline.label_en() {
                                "" => deadline.label_ja(),
                                en => en,
                            };
                            items.push(base(
                                AgendaKind::Deadline,
                                (deadline.label_ja().to_owned(), label_en.to_owned()),
                                None,
                                Some(program.code().to_owned()),
                                due,
                            ));
                        }
                    }
                }
            }
            for plan in self.live_case_records(row.id.into(), EntityKind::Plan)? {
                let plan: Plan = decode(&plan)?;
                if plan.state().is_terminal() {
                    continue;
                }
                if let Some(review) = plan.fields().review_on
                    && (review - day).num_days() <= FOLLOW_UP_HORIZON
                {
                    let goals = plan
                        .fields()
                        .goals
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join("・");
                    items.push(base(
                        AgendaKind::PlanReview,
                        ("支援プランの見直し".into(), "Plan review".into()),
                        (!goals.is_empty()).then_some(goals),
                        None,
                        review,
                    ));
                }
            }
        }
        items.sort_by(|a, b| {
            (a.days_left, &a.person_name, a.kind as u8).cmp(&(
                b.days_left,
                &b.person_name,
                b.kind as u8,
            ))
        });
        let mut view = TodayView {
            date: day.to_string(),
            overdue: Vec::new(),
            due_today: Vec::new(),
            upcoming: Vec::new(),
        };
        for item in items {
            match item.days_left {
                d if d < 0 => view.overdue.push(item),
                0 => view.due_today.push(item),
                _ => view.upcoming.push(item),
            }
        }
        Ok(view)
    }
}

//! Reads: caseload, a person's timeline and assessments, full-text search.

use rusqlite::{OptionalExtension, ToSql, params_from_iter};
use serde::Serialize;
use tsunagi_core::ids::{ContactId, PersonId};
use tsunagi_core::merge::EntityState;

use crate::search::{Query, hiragana, normalize};
use crate::write::decode_state;
use crate::{Store, StoreError};

/// Filters of the caseload list (担当ケース); `None` means any.
#[derive(Debug, Default, Clone)]
pub struct CaseloadFilter {
    /// Program key.
    pub program: Option<String>,
    /// District code.
    pub district: Option<String>,
    /// Status key.
    pub status: Option<String>,
    /// Current trust stage.
    pub stage: Option<i64>,
}

/// One person in the caseload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseloadRow {
    /// The person.
    pub id: PersonId,
    /// 氏名.
    pub name: String,
    /// ふりがな (hiragana).
    pub kana: String,
    /// District code.
    pub district: String,
    /// Program keys.
    pub programs: Vec<String>,
    /// Status key.
    pub status: String,
    /// When the last contact was (RFC 3339), if any.
    pub last_contact_at: Option<String>,
    /// The trust stage after the latest contact that recorded one.
    pub stage: Option<i64>,
    /// The next-step date set by the latest contact that set one (the follow-up now planned).
    pub next_due: Option<String>,
}

/// A person found by name or kana.
pub type PersonHit = CaseloadRow;

/// A contact whose note matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactHit {
    /// The contact.
    pub id: ContactId,
    /// Whose.
    pub person: PersonId,
    /// The person's name.
    pub person_name: String,
    /// When.
    pub at: String,
    /// A short excerpt of the note around the first match.
    pub excerpt: String,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// Persons whose name or kana contains every term.
    pub persons: Vec<PersonHit>,
    /// Newest matching contacts first, at most the limit.
    pub contacts: Vec<ContactHit>,
    /// How many contacts matched in all, up to [`COUNT_CAP`].
    pub contact_total: u64,
    /// More than [`COUNT_CAP`] matched ("10,000件以上").
    pub contact_total_capped: bool,
}

/// Matches are counted up to this many.
pub const COUNT_CAP: u64 = 10_000;
/// Up to this many matches are sorted by date; beyond, the date index is walked.
const SORT_MATCHES_UP_TO: u64 = 2_000;

const CASELOAD_SELECT: &str = "
    SELECT p.id, p.name, p.kana, p.district, p.programs, p.status,
        s.last_contact_at, s.stage AS cur_stage, s.next_due
    FROM persons p LEFT JOIN person_summary s ON s.person = p.id";

fn caseload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseloadRow> {
    let id: Vec<u8> = r.get(0)?;
    let programs: String = r.get(4)?;
    Ok(CaseloadRow {
        id: PersonId::from_uuid(uuid::Uuid::from_slice(&id).unwrap_or_default()),
        name: r.get(1)?,
        kana: r.get(2)?,
        district: r.get(3)?,
        programs: programs
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        status: r.get(5)?,
        last_contact_at: r.get(6)?,
        stage: r.get(7)?,
        next_due: r.get(8)?,
    })
}

impl Store {
    /// The caseload (担当ケース), sorted by kana.
    pub fn caseload(&self, filter: &CaseloadFilter) -> Result<Vec<CaseloadRow>, StoreError> {
        let mut sql = format!("SELECT * FROM ({CASELOAD_SELECT}) WHERE 1 = 1");
        let mut args: Vec<Box<dyn ToSql>> = Vec::new();
        if let Some(p) = &filter.program {
            sql.push_str(" AND (',' || programs || ',') LIKE ?");
            args.push(Box::new(format!("%,{p},%")));
        }
        if let Some(d) = &filter.district {
            sql.push_str(" AND district = ?");
            args.push(Box::new(d.clone()));
        }
        if let Some(s) = &filter.status {
            sql.push_str(" AND status = ?");
            args.push(Box::new(s.clone()));
        }
        if let Some(s) = filter.stage {
            sql.push_str(" AND cur_stage = ?");
            args.push(Box::new(s));
        }
        sql.push_str(" ORDER BY kana, name");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args.iter()), caseload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One person's caseload row.
    pub fn caseload_row(&self, person: PersonId) -> Result<Option<CaseloadRow>, StoreError> {
        let sql = format!("{CASELOAD_SELECT} WHERE p.id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_map([person.as_uuid().as_bytes()], caseload_row)?;
        Ok(rows.next().transpose()?)
    }

    /// A person's contacts, newest first (the timeline), at most `limit`.
    pub fn timeline(&self, person: PersonId, limit: u32) -> Result<Vec<EntityState>, StoreError> {
        self.states(
            "SELECT e.state FROM contacts c JOIN entities e ON e.rowid = c.rowid
             WHERE c.person = ?1 ORDER BY c.at DESC LIMIT ?2",
            person,
            limit,
        )
    }

    /// A person's assessments, newest first.
    pub fn assessments(
        &self,
        person: PersonId,
        limit: u32,
    ) -> Result<Vec<EntityState>, StoreError> {
        self.states(
            "SELECT e.state FROM assessments a JOIN entities e ON e.rowid = a.rowid
             WHERE a.person = ?1 ORDER BY a.at DESC LIMIT ?2",
            person,
            limit,
        )
    }

    fn states(
        &self,
        sql: &str,
        person: PersonId,
        limit: u32,
    ) -> Result<Vec<EntityState>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(rusqlite::params![person.as_uuid().as_bytes(), limit], |r| {
            r.get::<_, Vec<u8>>(0)
        })?;
        let mut out = Vec::new();
        for json in rows {
            out.push(decode_state(&json?, &format!("of person {person}"))?);
        }
        Ok(out)
    }

    /// Contacts saved but not yet in the full-text indexes (the background thread indexes them
    /// within moments; a search indexes any that remain first).
    pub fn index_pending(&self) -> Result<u64, StoreError> {
        crate::fts::pending(&self.conn)
    }

    /// Full-text search: persons by name/kana, contacts by note. Every term must match.
    pub fn search(&self, input: &str, limit: u32) -> Result<SearchResults, StoreError> {
        // Notes saved in the last moments may still be queued for the background indexer.
        // The search waits for them anyway, so in longer transactions (fewer index segments).
        crate::fts::index_pending(
            &self.conn,
            std::time::Duration::MAX,
            std::time::Duration::from_millis(50),
        )?;
        // One read transaction for the whole search: the index is read through several
        // statements (the segment list, then each segment's rows), and a merge step of the
        // background thread committing between them moved rows out of sight (found by a test
        // of a page committed in slices, whose many small segments merge often).
        let snapshot = self.conn.unchecked_transaction()?;
        let query = Query::parse(input);
        if query.is_empty() {
            return Ok(SearchResults {
                persons: Vec::new(),
                contacts: Vec::new(),
                contact_total: 0,
                contact_total_capped: false,
            });
        }

        // Persons are few (hundreds per device): a scan of the normalized name/kana column.
        let mut sql = format!("SELECT * FROM ({CASELOAD_SELECT} WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        for t in &query.terms {
            sql.push_str(" AND instr(p.search, ?) > 0");
            args.push(hiragana(t));
        }
        sql.push_str(") ORDER BY kana LIMIT 50");
        let mut stmt = self.conn.prepare(&sql)?;
        let persons = stmt
            .query_map(params_from_iter(args.iter()), caseload_row)?
            .collect::<Result<Vec<_>, _>>()?;

        let matched = crate::grams::matching(&self.conn, &query.terms)?;
        let counted = matched.len() as u64;
        let contact_total_capped = counted > COUNT_CAP;
        let contact_total = counted.min(COUNT_CAP);
        // Few matches: sort them by date. Many: walk contacts newest-first and stop at the
        // limit, probing the match set, instead of sorting thousands of rows.
        let limit = limit as usize;
        let chosen: Vec<i64> = if counted <= SORT_MATCHES_UP_TO {
            let mut at_of = self
                .conn
                .prepare_cached("SELECT at FROM contacts WHERE rowid = ?1")?;
            let mut dated = Vec::with_capacity(matched.len());
            for rowid in matched {
                if let Some(at) = at_of
                    .query_row([rowid], |r| r.get::<_, String>(0))
                    .optional()?
                {
                    dated.push((at, rowid));
                }
            }
            dated.sort_unstable_by(|a, b| b.cmp(a));
            dated.into_iter().take(limit).map(|(_, r)| r).collect()
        } else {
            let set: std::collections::HashSet<i64> = matched.into_iter().collect();
            let mut newest = self.conn.prepare_cached(
                "SELECT rowid FROM contacts INDEXED BY contacts_at ORDER BY at DESC",
            )?;
            let mut rows = newest.query([])?;
            let mut out = Vec::with_capacity(limit);
            while out.len() < limit
                && let Some(r) = rows.next()?
            {
                let rowid: i64 = r.get(0)?;
                if set.contains(&rowid) {
                    out.push(rowid);
                }
            }
            out
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.person, coalesce(p.name, ''), c.at, e.state
             FROM contacts c JOIN entities e ON e.rowid = c.rowid
             LEFT JOIN persons p ON p.id = c.person
             WHERE c.rowid = ?1",
        )?;
        let mut contacts = Vec::with_capacity(chosen.len());
        for rowid in chosen {
            let (id, person, person_name, at, state) = stmt.query_row([rowid], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let state = decode_state(&state, "contact")?;
            let note = state
                .value("note")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            contacts.push(ContactHit {
                id: ContactId::from_uuid(uuid::Uuid::from_slice(&id).unwrap_or_default()),
                person: PersonId::from_uuid(uuid::Uuid::from_slice(&person).unwrap_or_default()),
                person_name,
                at,
                excerpt: excerpt(note, &query.terms),
            });
        }
        // Read only: nothing to keep, the snapshot just ends.
        snapshot.rollback()?;
        Ok(SearchResults {
            persons,
            contacts,
            contact_total,
            contact_total_capped,
        })
    }
}

/// Up to ~60 characters of the note around the first term found (matched on the normalized
/// text, cut on the original so the worker reads what was written).
fn excerpt(note: &str, terms: &[String]) -> String {
    let chars: Vec<char> = note.chars().collect();
    // Normalization can change lengths (NFKC); match per character to keep positions aligned.
    let normalized: Vec<String> = chars.iter().map(|c| normalize(&c.to_string())).collect();
    let flat: String = normalized.concat();
    let mut pos = 0;
    if let Some(first) = terms.first()
        && let Some(byte) = flat.find(first.as_str())
    {
        let mut acc = 0;
        for (i, n) in normalized.iter().enumerate() {
            if acc >= byte {
                pos = i;
                break;
            }
            acc += n.len();
        }
    }
    let start = pos.saturating_sub(20);
    let end = (start + 60).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

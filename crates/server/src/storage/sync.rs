//! What both backends share for the sync log (docs/protocol.md): the push checks as one pure
//! function over what the backend loaded under its write lock, and the SQL of pull pages.

use std::collections::{HashMap, HashSet};
use tsunagi_protocol::api::TeamKem;
use tsunagi_protocol::wire::{Aux, Envelope, Kind, PushResult};
use uuid::Uuid;

/// One envelope of a push batch as the handler hands it over: refused already (it does not
/// parse, its author is not the caller, its signature does not verify) or parsed and verified.
#[derive(Debug, Clone)]
pub enum PushItem {
    /// Refused before storage.
    Refused {
        /// Reason code.
        code: &'static str,
        /// Plain words.
        message: String,
    },
    /// Parsed, authored by the caller, signature verified.
    Verified {
        /// The envelope.
        envelope: Box<Envelope>,
        /// Its bytes as pushed (stored and served unchanged).
        body: Vec<u8>,
    },
}

/// Which envelopes a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageScope {
    /// `GET /v1/sync/pull`: the whole readable log; with `covered_as_of`, without what the
    /// snapshots as of that sequence number already hold.
    Log {
        /// The `as_of` of the snapshots a fresh device fetched.
        covered_as_of: Option<u64>,
    },
    /// `GET /v1/sync/snapshots`: per readable case, its latest readable snapshot with
    /// `seq <= as_of`.
    Snapshots {
        /// Upper bound.
        as_of: u64,
    },
    /// `GET /v1/sync/cases/{case}`: one case's readable history.
    Case([u8; 16]),
    /// `GET /v1/sync/cases/{case}?covered_as_of=S`: one case's readable history from its latest
    /// readable snapshot with `seq <= S`: that snapshot, and what it does not cover (a fresh
    /// device takes the worker's own cases so, before the rest of the log).
    CaseFrom {
        /// The case.
        case: [u8; 16],
        /// Upper bound of the snapshot it starts from.
        covered_as_of: u64,
    },
}

/// A page request, checked by the handler.
#[derive(Debug, Clone)]
pub struct PageQuery {
    /// The requesting device's team (decides what is readable).
    pub team: String,
    /// What the page holds.
    pub scope: PageScope,
    /// Only `seq > since`.
    pub since: u64,
    /// At most this many envelopes.
    pub limit: u32,
    /// And about this many body bytes (at least one envelope when any is waiting).
    pub max_bytes: usize,
}

/// Outcome of publishing a team KEM key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KemOutcome {
    /// Stored: it is the first for this team and epoch.
    Stored,
    /// The same key was already stored (nothing changed).
    Same,
    /// Another key is stored for this team and epoch (kept; this one refused).
    Different(TeamKem),
}

/// What a push needs to read under the write lock: envelope ids, cases and target teams.
#[derive(Debug, Default)]
pub(crate) struct Needs {
    pub ids: Vec<Vec<u8>>,
    pub cases: Vec<Vec<u8>>,
    pub teams: Vec<String>,
}

/// The rows that decide a push, as read under the write lock.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Highest committed sequence number.
    pub head: u64,
    /// Sequence numbers of the batch's envelope ids already stored.
    pub seqs: HashMap<[u8; 16], u64>,
    /// Owners of the batch's cases that exist.
    pub owners: HashMap<[u8; 16], String>,
    /// Key ids of those cases' epochs.
    pub keys: HashMap<([u8; 16], u32), [u8; 16]>,
    /// The batch's target teams that exist.
    pub teams: HashSet<String>,
}

/// One envelope row to insert.
#[derive(Debug)]
pub(crate) struct EnvelopeRow {
    pub seq: i64,
    pub id: [u8; 16],
    pub kind: Kind,
    pub case: [u8; 16],
    pub owner: String,
    pub target: Option<String>,
    pub epoch: i64,
    pub author: String,
    pub body: Vec<u8>,
}

/// A grant row (upserted in batch order: the latest grant of a case to a team is in force).
#[derive(Debug)]
pub(crate) struct GrantRow {
    pub case: [u8; 16],
    pub team: String,
    pub from: i64,
    pub until: i64,
    pub seq: i64,
}

/// A snapshot row.
#[derive(Debug)]
pub(crate) struct SnapshotRow {
    pub seq: i64,
    pub case: [u8; 16],
    pub owner: String,
    pub epoch: i64,
    pub covers: i64,
}

/// Everything an accepted batch writes.
#[derive(Debug, Default)]
pub(crate) struct Writes {
    pub envelopes: Vec<EnvelopeRow>,
    /// New cases: (case, owner, seq of the creating slot).
    pub cases: Vec<([u8; 16], String, i64)>,
    /// New case-key epochs: (case, epoch, key id, seq).
    pub keys: Vec<([u8; 16], i64, [u8; 16], i64)>,
    pub grants: Vec<GrantRow>,
    pub snapshots: Vec<SnapshotRow>,
}

/// The ids, cases and teams whose rows decide the batch.
pub(crate) fn needs(items: &[PushItem]) -> Needs {
    let mut n = Needs::default();
    let (mut ids, mut cases, mut teams) = (HashSet::new(), HashSet::new(), HashSet::new());
    for item in items {
        if let PushItem::Verified { envelope: e, .. } = item {
            if ids.insert(e.id) {
                n.ids.push(e.id.to_vec());
            }
            if cases.insert(e.case) {
                n.cases.push(e.case.to_vec());
            }
            if let Some(t) = e.target_team()
                && teams.insert(t.to_owned())
            {
                n.teams.push(t.to_owned());
            }
        }
    }
    n
}

fn rejected(code: &str, message: impl Into<String>) -> PushResult {
    PushResult::Rejected {
        code: code.to_owned(),
        message: message.into(),
    }
}

/// A stored sequence number or epoch as SQL's signed 64-bit integer.
pub(crate) fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Step 5 for one envelope: whether the case and the case-key epoch are new, or the refusal.
fn check(team: &str, e: &Envelope, k: &Known) -> Result<(bool, bool), PushResult> {
    let not_writable = |owner: &str| {
        rejected(
            "not_writable",
            format!("the case belongs to team {owner}, not to the author's team"),
        )
    };
    match &e.aux {
        Aux::CaseKey { team: target, .. } => {
            let new_case = match k.owners.get(&e.case) {
                Some(owner) if owner != team => return Err(not_writable(owner)),
                Some(_) => false,
                None if target != team => {
                    return Err(rejected(
                        "not_writable",
                        "a new case's first key slot must be sealed to the author's own team",
                    ));
                }
                None => true,
            };
            if !k.teams.contains(target) {
                return Err(rejected("unknown_team", format!("no team {target}")));
            }
            match k.keys.get(&(e.case, e.epoch)) {
                Some(kid) if *kid != e.key_id => Err(rejected(
                    "epoch_taken",
                    format!(
                        "case-key epoch {} of this case is taken by another key; re-seal under it",
                        e.epoch
                    ),
                )),
                Some(_) => Ok((new_case, false)),
                None => Ok((new_case, true)),
            }
        }
        Aux::None | Aux::Snapshot { .. } => {
            let Some(owner) = k.owners.get(&e.case) else {
                return Err(rejected(
                    "unknown_case",
                    "no such case: push its first case-key slot before its changes",
                ));
            };
            if owner != team {
                return Err(not_writable(owner));
            }
            if k.keys.get(&(e.case, e.epoch)) != Some(&e.key_id) {
                return Err(rejected(
                    "stale_key",
                    format!(
                        "case-key epoch {} of this case is not registered with this key id",
                        e.epoch
                    ),
                ));
            }
            if let Aux::Snapshot { covers } = e.aux
                && covers > k.head
            {
                return Err(rejected(
                    "bad_snapshot",
                    format!("the snapshot covers {covers}, beyond the head {}", k.head),
                ));
            }
            Ok((false, false))
        }
        Aux::Grant {
            team: target,
            from_epoch,
            until_epoch,
            ..
        } => {
            let Some(owner) = k.owners.get(&e.case) else {
                return Err(rejected("unknown_case", "no such case"));
            };
            if owner != team {
                return Err(not_writable(owner));
            }
            if target == team {
                return Err(rejected(
                    "bad_grant",
                    "a grant is for another team than the case's owner",
                ));
            }
            if !k.teams.contains(target) {
                return Err(rejected("unknown_team", format!("no team {target}")));
            }
            if *from_epoch < 1 || (*until_epoch != 0 && until_epoch <= from_epoch) {
                return Err(rejected(
                    "bad_grant",
                    "a grant needs from >= 1, and until = 0 or until > from",
                ));
            }
            Ok((false, false))
        }
    }
}

/// The checks of docs/protocol.md "What the server checks on push", steps 4 and 5, in batch
/// order (steps 1-3 were done by the handler): one result per item, and the rows to write.
/// `team` is the author's (the requesting device's) team.
pub(crate) fn plan(team: &str, items: Vec<PushItem>, mut k: Known) -> (Vec<PushResult>, Writes) {
    let mut w = Writes::default();
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        let (e, body) = match item {
            PushItem::Refused { code, message } => {
                results.push(rejected(code, message));
                continue;
            }
            PushItem::Verified { envelope, body } => (envelope, body),
        };
        if let Some(&seq) = k.seqs.get(&e.id) {
            results.push(PushResult::Duplicate { seq });
            continue;
        }
        let seq = k.head + 1;
        let (new_case, new_key) = match check(team, &e, &k) {
            Ok(v) => v,
            Err(r) => {
                results.push(r);
                continue;
            }
        };

        // Accepted.
        k.head = seq;
        k.seqs.insert(e.id, seq);
        let sseq = sql_int(seq);
        if new_case {
            k.owners.insert(e.case, team.to_owned());
            w.cases.push((e.case, team.to_owned(), sseq));
        }
        if new_key {
            k.keys.insert((e.case, e.epoch), e.key_id);
            w.keys.push((e.case, i64::from(e.epoch), e.key_id, sseq));
        }
        match &e.aux {
            Aux::Grant {
                team: target,
                from_epoch,
                until_epoch,
                ..
            } => w.grants.push(GrantRow {
                case: e.case,
                team: target.clone(),
                from: i64::from(*from_epoch),
                until: i64::from(*until_epoch),
                seq: sseq,
            }),
            Aux::Snapshot { covers } => w.snapshots.push(SnapshotRow {
                seq: sseq,
                case: e.case,
                owner: team.to_owned(),
                epoch: i64::from(e.epoch),
                covers: sql_int(*covers),
            }),
            Aux::None | Aux::CaseKey { .. } => {}
        }
        w.envelopes.push(EnvelopeRow {
            seq: sseq,
            id: e.id,
            kind: e.kind,
            case: e.case,
            owner: team.to_owned(),
            target: e.target_team().map(str::to_owned),
            epoch: i64::from(e.epoch),
            author: Uuid::from_bytes(e.author).to_string(),
            body,
        });
        results.push(PushResult::Accepted { seq });
    }
    (results, w)
}

/// SQL dialect of the page queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// Grant `g` lets its team read envelope (or snapshot) `e`: `from <= epoch < until` (0 open).
fn granted(e: &str, g: &str) -> String {
    format!(
        "({g}.team IS NOT NULL AND {e}.epoch >= {g}.from_epoch \
         AND ({g}.until_epoch = 0 OR {e}.epoch < {g}.until_epoch))"
    )
}

/// With `covered_as_of` ($4): leave out snapshots with `seq <= $4`, and changes covered by the
/// case's latest snapshot readable by the team with `seq <= $4` (the one the snapshots page
/// gave the device).
fn covered_filter() -> String {
    format!(
        " AND NOT (e.kind = 'snapshot' AND e.seq <= $4) \
         AND NOT (e.kind = 'change' AND e.seq <= COALESCE(( \
            SELECT s.covers FROM snapshots s \
            LEFT JOIN grants sg ON sg.case_id = s.case_id AND sg.team = $1 \
            WHERE s.case_id = e.case_id AND s.seq <= $4 AND (s.owner = $1 OR {}) \
            ORDER BY s.seq DESC LIMIT 1), 0))",
        granted("s", "sg")
    )
}

/// The query of a page's candidates: `(seq, body size)` in increasing `seq`, at most $3.
/// Parameters: $1 team, $2 since, $3 row limit, $4 the scope's value (covered_as_of, as_of or
/// case id) when it has one. Readability is docs/protocol.md "Who reads what".
pub(crate) fn page_sql(d: Dialect, scope: &PageScope) -> String {
    let size = "CAST(LENGTH(e.body) AS BIGINT)";
    let sql = match scope {
        PageScope::Log { covered_as_of } => {
            let cover = if covered_as_of.is_some() {
                covered_filter()
            } else {
                String::new()
            };
            // Three disjoint index-ordered parts: the team's own cases (minus key slots sealed
            // to other teams), slots and grants sent to the team by other owners, and what
            // grants let it read of other teams' cases.
            format!(
                "SELECT seq, size FROM ( \
                   SELECT e.seq AS seq, {size} AS size FROM envelopes e \
                   WHERE e.owner = $1 AND e.seq > $2 AND (e.kind <> 'case_key' OR e.target = $1){cover} \
                   ORDER BY e.seq LIMIT $3) AS owned \
                 UNION ALL SELECT seq, size FROM ( \
                   SELECT e.seq AS seq, {size} AS size FROM envelopes e \
                   WHERE e.target = $1 AND e.owner <> $1 AND e.seq > $2 \
                   ORDER BY e.seq LIMIT $3) AS sent \
                 UNION ALL SELECT seq, size FROM ( \
                   SELECT e.seq AS seq, {size} AS size FROM grants g \
                   JOIN envelopes e ON e.case_id = g.case_id \
                   WHERE g.team = $1 AND e.owner <> $1 AND e.kind IN ('change', 'snapshot') \
                     AND e.seq > $2 AND {granted}{cover} \
                   ORDER BY e.seq LIMIT $3) AS shared \
                 ORDER BY seq LIMIT $3",
                granted = granted("e", "g"),
            )
        }
        PageScope::Snapshots { .. } => format!(
            "SELECT s.seq AS seq, {size} AS size FROM snapshots s \
             JOIN envelopes e ON e.seq = s.seq \
             LEFT JOIN grants g ON g.case_id = s.case_id AND g.team = $1 \
             WHERE s.seq > $2 AND s.seq <= $4 AND (s.owner = $1 OR {g_s}) \
               AND NOT EXISTS (SELECT 1 FROM snapshots s2 WHERE s2.case_id = s.case_id \
                 AND s2.seq > s.seq AND s2.seq <= $4 AND (s2.owner = $1 OR {g_s2})) \
             ORDER BY s.seq LIMIT $3",
            g_s = granted("s", "g"),
            g_s2 = granted("s2", "g"),
        ),
        PageScope::Case(_) => case_sql(size, ""),
        PageScope::CaseFrom { .. } => {
            // The case's latest snapshot readable by the team with seq <= $5: its seq and
            // what it covers (0 and 0 when there is none: the whole history).
            let latest = |column: &str| {
                format!(
                    "COALESCE((SELECT s.{column} FROM snapshots s \
                     LEFT JOIN grants sg ON sg.case_id = s.case_id AND sg.team = $1 \
                     WHERE s.case_id = $4 AND s.seq <= $5 AND (s.owner = $1 OR {}) \
                     ORDER BY s.seq DESC LIMIT 1), 0)",
                    granted("s", "sg")
                )
            };
            case_sql(
                size,
                &format!(
                    " AND NOT (e.kind = 'snapshot' AND e.seq <= $5 AND e.seq <> {}) \
                     AND NOT (e.kind = 'change' AND e.seq <= {})",
                    latest("seq"),
                    latest("covers")
                ),
            )
        }
    };
    match d {
        Dialect::Postgres => sql,
        Dialect::Sqlite => sql.replace('$', "?"),
    }
}

/// A case's readable history (key slots sent to the team, grants it sent or received, changes
/// and snapshots it may read), with `filter` added to the conditions.
fn case_sql(size: &str, filter: &str) -> String {
    format!(
        "SELECT e.seq AS seq, {size} AS size FROM envelopes e \
         LEFT JOIN grants g ON g.case_id = e.case_id AND g.team = $1 \
         WHERE e.case_id = $4 AND e.seq > $2 AND ( \
           (e.kind IN ('change', 'snapshot') AND (e.owner = $1 OR {g_e})) \
           OR (e.kind = 'case_key' AND e.target = $1) \
           OR (e.kind = 'grant' AND (e.owner = $1 OR e.target = $1))){filter} \
         ORDER BY e.seq LIMIT $3",
        g_e = granted("e", "g"),
    )
}

/// The scope's $4 (and $5), as SQL integer or bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScopeParam {
    None,
    Int(i64),
    Bytes(Vec<u8>),
    BytesInt(Vec<u8>, i64),
}

/// $4 of [`page_sql`].
pub(crate) fn scope_param(scope: &PageScope) -> ScopeParam {
    match scope {
        PageScope::Log {
            covered_as_of: None,
        } => ScopeParam::None,
        PageScope::Log {
            covered_as_of: Some(s),
        }
        | PageScope::Snapshots { as_of: s } => ScopeParam::Int(sql_int(*s)),
        PageScope::Case(c) => ScopeParam::Bytes(c.to_vec()),
        PageScope::CaseFrom {
            case,
            covered_as_of,
        } => ScopeParam::BytesInt(case.to_vec(), sql_int(*covered_as_of)),
    }
}

/// The row limit asked of the database: one more than the page, to know whether more wait.
pub(crate) fn fetch_limit(q: &PageQuery) -> i64 {
    i64::from(q.limit) + 1
}

/// Where the device resumes: after the page's last envelope; and when none wait after it,
/// at `head_before` if that is further. `head_before` is the head read *before* the page
/// query: every envelope up to it had committed (sequence numbers become visible in order,
/// docs/protocol.md "Ordering"), so the query saw it and whatever it left out is not for
/// this device. Without this, a fresh device's cursor stayed behind the changes its
/// snapshots cover, and each later pull scanned them all again (~240 ms at 100,000).
pub(crate) fn next_cursor(q: &PageQuery, last: Option<u64>, more: bool, head_before: u64) -> u64 {
    let last = last.unwrap_or(q.since);
    if more { last } else { last.max(head_before) }
}

/// Which candidates go on the page (at most `limit`, about `max_bytes`, at least one), and
/// whether more are waiting.
pub(crate) fn cut(q: &PageQuery, candidates: &[(i64, i64)]) -> (Vec<i64>, bool) {
    let mut out = Vec::new();
    let mut bytes = 0usize;
    for &(seq, size) in candidates {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if out.len() >= q.limit as usize
            || (!out.is_empty() && bytes.saturating_add(size) > q.max_bytes)
        {
            break;
        }
        bytes = bytes.saturating_add(size);
        out.push(seq);
    }
    let more = out.len() < candidates.len();
    (out, more)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(limit: u32, max_bytes: usize) -> PageQuery {
        PageQuery {
            team: "t".into(),
            scope: PageScope::Log {
                covered_as_of: None,
            },
            since: 0,
            limit,
            max_bytes,
        }
    }

    #[test]
    fn pages_are_cut_by_count_and_bytes_with_at_least_one() {
        let c = [(1, 10), (2, 10), (3, 10)];
        assert_eq!(cut(&q(2, 100), &c), (vec![1, 2], true));
        assert_eq!(cut(&q(3, 100), &c), (vec![1, 2, 3], false));
        assert_eq!(cut(&q(5, 25), &c), (vec![1, 2], true));
        assert_eq!(cut(&q(5, 1), &c), (vec![1], true));
        assert_eq!(cut(&q(5, 1), &[]), (vec![], false));
    }

    #[test]
    fn placeholders_follow_the_dialect() {
        let s = page_sql(Dialect::Sqlite, &PageScope::Case([0; 16]));
        assert!(s.contains("?4") && !s.contains('$'));
        let p = page_sql(Dialect::Postgres, &PageScope::Snapshots { as_of: 1 });
        assert!(p.contains("$4") && !p.contains('?'));
    }
}

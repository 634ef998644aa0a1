//! Every author's chain of change sets per case (docs/protocol.md "Chains"): the links this
//! device gives its own changes when it first seals them, and the receiving bookkeeping —
//! per author device and case, the contiguous head, the links received beyond it (a gap until
//! the missing ones arrive), a second change at a known position or one contradicting a known
//! link (a fork: refused, never applied) — and the problems seen, for the status.

use rusqlite::{OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use tsunagi_core::ids::{EntityId, OpId};
use uuid::Uuid;

use crate::sync::PageWrite;
use crate::{Store, StoreError};

/// The `prev` of an author's first change in a case.
pub const ZERO_LINK: [u8; 32] = [0; 32];

/// The link of one change in its author's chain of a case:
/// SHA-256("tsunagi/chain/v1" ‖ case ‖ author ‖ be64 seq ‖ prev ‖ op id). It does not depend
/// on the ciphertext, so sealing the change again (a key rotation, a lost key race) keeps it.
pub fn link(
    case: &[u8; 16],
    author: &[u8; 16],
    seq: u64,
    prev: &[u8; 32],
    op: &[u8; 16],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tsunagi/chain/v1");
    h.update(case);
    h.update(author);
    h.update(seq.to_be_bytes());
    h.update(prev);
    h.update(op);
    h.finalize().into()
}

/// A change's place in its author's chain of its case, as its payload carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPos {
    /// Position, from 1 (per author per case).
    pub seq: u64,
    /// The link of the author's previous change in the case ([`ZERO_LINK`] for the first).
    pub prev: [u8; 32],
}

/// A received change's chain position with what it is checked against: the author (the
/// envelope's, checked equal to the change set's device), the case (the envelope's) and its
/// link, computed by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    /// Author device.
    pub author: Uuid,
    /// Case (the envelope header's).
    pub case: EntityId,
    /// Position and previous link.
    pub pos: ChainPos,
    /// [`link`] of this change.
    pub link: [u8; 32],
}

/// An author's chain head in a case, as a snapshot carries it: every change of the author in
/// the case up to `seq` is covered by the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Author device.
    pub author: Uuid,
    /// Position of the last change covered.
    pub seq: u64,
    /// Its link.
    pub link: [u8; 32],
}

/// An author whose changes are missing here: some of their chain is known to exist (a later
/// change arrived) but has not arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainGap {
    /// Author device.
    pub author: Uuid,
    /// Changes missing, over all cases.
    pub missing: u64,
    /// The cases concerned.
    pub cases: Vec<EntityId>,
}

/// What a server did that this device detected and did not obey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainProblem {
    /// `fork`, `replayed`, `cursor_rollback` or `out_of_order`.
    pub kind: String,
    /// The author concerned (none for a refused page).
    pub author: Option<Uuid>,
    /// The case concerned (none for a refused page).
    pub case: Option<EntityId>,
    /// How many times.
    pub count: u64,
    /// First and last seen (RFC 3339).
    pub first_at: String,
    /// Last seen.
    pub last_at: String,
    /// Detail for IT (English).
    pub detail: String,
}

/// What the chain bookkeeping of one page found.
#[derive(Debug, Default)]
pub(crate) struct PageChain {
    /// Per change of the page: refused as a fork (never applied).
    pub refused: Vec<bool>,
    /// Forks found.
    pub forks: usize,
}

/// One (author, case) pair's state while a page is checked.
#[derive(Default)]
struct Pair {
    seq: u64,
    link: [u8; 32],
    top: u64,
    existed: bool,
    /// Links known around what the page brings: seq → (link, prev).
    known: BTreeMap<u64, ([u8; 32], [u8; 32])>,
    /// Snapshot heads the page brings.
    starts: Vec<(u64, [u8; 32])>,
    /// The page's changes of this pair: index in the page.
    changes: Vec<usize>,
}

fn blob32(b: Vec<u8>) -> [u8; 32] {
    b.try_into().unwrap_or(ZERO_LINK)
}

/// Counts a problem (kind, author, case) in the transaction.
pub(crate) fn problem_in(
    tx: &Transaction<'_>,
    kind: &str,
    author: Option<Uuid>,
    case: Option<EntityId>,
    detail: &str,
    now: &str,
) -> Result<(), StoreError> {
    let author: &[u8] = match &author {
        Some(a) => a.as_bytes(),
        None => &[],
    };
    let case: &[u8] = match &case {
        Some(c) => c.as_uuid().as_bytes(),
        None => &[],
    };
    tx.prepare_cached(
        "INSERT INTO chain_problems (kind, author, case_id, count, first_at, last_at, detail)
         VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5)
         ON CONFLICT (kind, author, case_id) DO UPDATE SET count = count + 1,
             last_at = excluded.last_at, detail = excluded.detail",
    )?
    .execute(params![kind, author, case, now, detail])?;
    Ok(())
}

/// The chain bookkeeping of a pulled page, in its first transaction: snapshot heads start
/// chains, each change's link is checked against what is known of its author's chain in its
/// case (one range read per author and case of the page, not one per change), new links are
/// recorded (one insert per change) and each pair's head moves on once per page. A change at
/// a known position with another link, or whose `prev` contradicts a known link, is a fork:
/// refused with the code `fork` and never applied.
pub(crate) fn chain_in(
    tx: &Transaction<'_>,
    page: &PageWrite,
    now: &str,
) -> Result<PageChain, StoreError> {
    let mut out = PageChain {
        refused: vec![false; page.changes.len()],
        forks: 0,
    };
    let mut pairs: BTreeMap<(Uuid, EntityId), Pair> = BTreeMap::new();
    for (case, heads) in &page.snapshot_heads {
        for h in heads {
            pairs
                .entry((h.author, *case))
                .or_default()
                .starts
                .push((h.seq, h.link));
        }
    }
    for (i, rc) in page.changes.iter().enumerate() {
        if let Some(c) = &rc.chain {
            pairs.entry((c.author, c.case)).or_default().changes.push(i);
        }
    }
    if pairs.is_empty() {
        return Ok(out);
    }
    let mut head_of = tx.prepare_cached(
        "SELECT seq, link, top FROM chain_heads WHERE author = ?1 AND case_id = ?2",
    )?;
    let mut range = tx.prepare_cached(
        "SELECT seq, link, prev FROM chain_links
         WHERE author = ?1 AND case_id = ?2 AND seq BETWEEN ?3 AND ?4",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO chain_links (author, case_id, seq, link, prev) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT DO NOTHING",
    )?;
    let mut put_head = tx.prepare_cached(
        "INSERT INTO chain_heads (author, case_id, seq, link, top, beyond)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (author, case_id) DO UPDATE SET seq = excluded.seq, link = excluded.link,
             top = excluded.top, beyond = excluded.beyond",
    )?;
    for ((author, case), mut p) in pairs {
        let a = author.as_bytes();
        let c = case.as_uuid().as_bytes();
        let head: Option<(i64, Vec<u8>, i64)> = head_of
            .query_row(params![a, c], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((seq, link, top)) = head {
            p.seq = seq as u64;
            p.link = blob32(link);
            p.top = top as u64;
            p.existed = true;
        }
        let seqs = p
            .changes
            .iter()
            .filter_map(|&i| page.changes[i].chain.map(|c| c.pos.seq))
            .chain(p.starts.iter().map(|s| s.0));
        let (lo, hi) = seqs.fold((p.seq + 1, p.top), |(lo, hi), s| (lo.min(s), hi.max(s)));
        let rows = range.query_map(
            params![a, c, lo.saturating_sub(1) as i64, (hi + 1) as i64],
            |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for row in rows {
            let (seq, link, prev): (i64, Vec<u8>, Vec<u8>) = row?;
            p.known.insert(seq as u64, (blob32(link), blob32(prev)));
        }
        // A snapshot's heads: everything of the author in the case up to there is covered.
        for &(s, l) in &p.starts {
            if let Some((known, _)) = p.known.get(&s)
                && *known != l
            {
                out.forks += 1;
                problem_in(
                    tx,
                    "fork",
                    Some(author),
                    Some(case),
                    &format!("a snapshot names another change at chain position {s}"),
                    now,
                )?;
                continue;
            }
            if s > p.seq {
                p.seq = s;
                p.link = l;
            }
        }
        for &i in &p.changes {
            let Some(ch) = page.changes[i].chain else {
                continue;
            };
            let (seq, prev, link) = (ch.pos.seq, ch.pos.prev, ch.link);
            if seq == 0 {
                // The payload decoder refuses position 0; never counted as a chain.
                out.refused[i] = true;
                continue;
            }
            let fork = if let Some((known, _)) = p.known.get(&seq) {
                if *known == link {
                    // This very change again (a page pulled again, a case's history fetched,
                    // or a replay, which the apply counts): nothing to record.
                    continue;
                }
                Some(format!("another change at chain position {seq}"))
            } else if let Some((before, _)) = p.known.get(&(seq - 1))
                && *before != prev
            {
                Some(format!("change {seq} does not follow change {}", seq - 1))
            } else if seq == p.seq && p.link != link {
                // The head a snapshot started the chain at, whose link is all that is known.
                Some(format!("another change at the chain head {seq}"))
            } else if seq - 1 == p.seq && !p.known.contains_key(&(seq - 1)) && p.link != prev {
                Some(format!(
                    "change {seq} does not follow the chain head {}",
                    p.seq
                ))
            } else if let Some((_, next_prev)) = p.known.get(&(seq + 1))
                && *next_prev != link
            {
                Some(format!("change {} does not follow change {seq}", seq + 1))
            } else {
                None
            };
            if let Some(why) = fork {
                out.refused[i] = true;
                out.forks += 1;
                problem_in(tx, "fork", Some(author), Some(case), &why, now)?;
                continue;
            }
            p.known.insert(seq, (link, prev));
            insert.execute(params![a, c, seq as i64, link.as_slice(), prev.as_slice()])?;
        }
        // The head moves over every link that now joins it.
        while let Some((next, prev)) = p.known.get(&(p.seq + 1)) {
            if *prev != p.link {
                break;
            }
            p.seq += 1;
            p.link = *next;
        }
        let top = p
            .known
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(p.top)
            .max(p.seq);
        let beyond = p.known.range(p.seq + 1..).count() as i64;
        if p.existed || top > 0 {
            put_head.execute(params![
                a,
                c,
                p.seq as i64,
                p.link.as_slice(),
                top as i64,
                beyond
            ])?;
        }
    }
    Ok(out)
}

impl Store {
    /// Gives each of these local ops (op id, case), in order, the next position in this
    /// device's chain of its case, unless it has one already; records it with the op and the
    /// new heads in one transaction, before anything is sealed. Returns each op's position.
    pub fn assign_chain(
        &mut self,
        me: Uuid,
        ops: &[(OpId, EntityId)],
    ) -> Result<Vec<ChainPos>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(ops.len());
        let mut heads: BTreeMap<EntityId, (u64, [u8; 32], u64)> = BTreeMap::new();
        {
            let mut given = tx.prepare_cached(
                "SELECT chain_seq, chain_prev FROM ops WHERE op_id = ?1 AND chain_seq IS NOT NULL",
            )?;
            let mut head_of = tx.prepare_cached(
                "SELECT seq, link, top FROM chain_heads WHERE author = ?1 AND case_id = ?2",
            )?;
            let mut set = tx.prepare_cached(
                "UPDATE ops SET chain_seq = ?2, chain_prev = ?3 WHERE op_id = ?1",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO chain_links (author, case_id, seq, link, prev)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?;
            for (op, case) in ops {
                let o = op.as_uuid().as_bytes();
                let had: Option<(i64, Vec<u8>)> = given
                    .query_row([o], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((seq, prev)) = had {
                    out.push(ChainPos {
                        seq: seq as u64,
                        prev: blob32(prev),
                    });
                    continue;
                }
                let c = case.as_uuid().as_bytes();
                let head = match heads.get(case) {
                    Some(h) => *h,
                    None => head_of
                        .query_row(params![me.as_bytes(), c], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, Vec<u8>>(1)?,
                                r.get::<_, i64>(2)?,
                            ))
                        })
                        .optional()?
                        .map_or((0, ZERO_LINK, 0), |(s, l, t)| {
                            (s as u64, blob32(l), t as u64)
                        }),
                };
                let seq = head.0 + 1;
                let prev = head.1;
                let l = link(c, me.as_bytes(), seq, &prev, o);
                set.execute(params![o, seq as i64, prev.as_slice()])?;
                insert.execute(params![
                    me.as_bytes(),
                    c,
                    seq as i64,
                    l.as_slice(),
                    prev.as_slice()
                ])?;
                heads.insert(*case, (seq, l, head.2.max(seq)));
                out.push(ChainPos { seq, prev });
            }
            let mut put_head = tx.prepare_cached(
                "INSERT INTO chain_heads (author, case_id, seq, link, top, beyond)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT (author, case_id) DO UPDATE SET seq = excluded.seq,
                     link = excluded.link, top = excluded.top",
            )?;
            for (case, (seq, l, top)) in &heads {
                put_head.execute(params![
                    me.as_bytes(),
                    case.as_uuid().as_bytes(),
                    *seq as i64,
                    l.as_slice(),
                    *top as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Every author's contiguous chain head in a case (what a snapshot of it carries).
    pub fn chain_heads_of(&self, case: EntityId) -> Result<Vec<ChainHead>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, seq, link FROM chain_heads WHERE case_id = ?1 AND seq > 0
             ORDER BY author",
        )?;
        let rows = stmt.query_map([case.as_uuid().as_bytes()], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (a, seq, link) = row?;
            out.push(ChainHead {
                author: crate::sync::uuid_of(&a, "chain author")?,
                seq: seq as u64,
                link: blob32(link),
            });
        }
        Ok(out)
    }

    /// Authors with changes missing here (a later change of theirs arrived, earlier ones have
    /// not), with how many and in which cases; by author.
    pub fn chain_gaps(&self) -> Result<Vec<ChainGap>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, case_id, top - seq - beyond FROM chain_heads
             WHERE top > seq ORDER BY author, case_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out: Vec<ChainGap> = Vec::new();
        for row in rows {
            let (a, c, missing) = row?;
            if missing <= 0 {
                continue;
            }
            let author = crate::sync::uuid_of(&a, "chain author")?;
            let case = EntityId::from_uuid(crate::sync::uuid_of(&c, "chain case")?);
            match out.last_mut() {
                Some(g) if g.author == author => {
                    g.missing += missing as u64;
                    g.cases.push(case);
                }
                _ => out.push(ChainGap {
                    author,
                    missing: missing as u64,
                    cases: vec![case],
                }),
            }
        }
        Ok(out)
    }

    /// The problems seen (forks, replays, refused pages), most recent first.
    pub fn chain_problems(&self) -> Result<Vec<ChainProblem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT kind, author, case_id, count, first_at, last_at, detail FROM chain_problems
             ORDER BY last_at DESC, kind",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, a, c, count, first_at, last_at, detail) = row?;
            out.push(ChainProblem {
                kind,
                author: if a.is_empty() {
                    None
                } else {
                    Some(crate::sync::uuid_of(&a, "problem author")?)
                },
                case: if c.is_empty() {
                    None
                } else {
                    Some(EntityId::from_uuid(crate::sync::uuid_of(
                        &c,
                        "problem case",
                    )?))
                },
                count: count.max(0) as u64,
                first_at,
                last_at,
                detail,
            });
        }
        Ok(out)
    }

    /// Records a problem seen outside a page's transaction (a page refused whole).
    pub fn record_chain_problem(
        &mut self,
        kind: &str,
        author: Option<Uuid>,
        case: Option<EntityId>,
        detail: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        problem_in(&tx, kind, author, case, detail, now)?;
        tx.commit()?;
        Ok(())
    }

    /// The server sequence number an op of the log came under (`None` inside: not known),
    /// or `None`: the op is not in the log.
    pub fn op_server_seq(&self, op: OpId) -> Result<Option<Option<u64>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT server_seq FROM ops WHERE op_id = ?1")?
            .query_row([op.as_uuid().as_bytes()], |r| r.get::<_, Option<i64>>(0))
            .optional()?
            .map(|s| s.map(|s| s as u64)))
    }
}

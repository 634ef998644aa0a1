//! Receiving: pull pages (verify, open, merge, cursor in one store transaction each), held
//! envelopes retried when their key arrives, a fresh device's catch-up (the log, then the
//! snapshots as of the head), and a case's whole history (`Device::fetch_history`).

use tsunagi_core::ids::{EntityId, OpId};
use tsunagi_crypto::case::{CaseKeyContext, open_case_key, open_payload, team_kem};
use tsunagi_crypto::identity::{SealedKey, SigPublic};
use tsunagi_protocol::api::{DeviceCert, Head, MyCases};
use tsunagi_protocol::client::ClientError;
use tsunagi_protocol::wire::{self, Aux, Envelope, Kind, PullPage};
use tsunagi_store::keys::Keystore;
use tsunagi_store::{CaseKeyRow, ChainLink, GrantRow, PageWrite, chain};
use uuid::Uuid;

use super::{Author, CURSOR, Round, ms_since, now_rfc3339, payload, snapshot_payload};
use crate::api::SyncPhase;
use crate::enroll::verified_certs;
use crate::{Device, DeviceError};

/// Meta keys of a fresh device's catch-up: the head it catches up to, how far it took the
/// snapshots as of that head, and that it is done.
const COVERED: &str = "sync.covered_as_of";
const SNAP_CURSOR: &str = "sync.snapshot_cursor";
const FRESH_DONE: &str = "sync.fresh_done";
/// Meta key: a fresh device has taken the worker's own cases (it takes them first).
const OWN_DONE: &str = "sync.own_cases_done";
/// Held envelopes retried per transaction, in bytes (about one pull page).
const HELD_SLICE: usize = 4 * 1024 * 1024;
/// Envelopes per pull page asked for.
const PULL_LIMIT: u32 = 5000;
/// From this many envelopes on, a pulled page's signatures are checked on two threads.
const PARALLEL_VERIFY_FROM: usize = 32;

fn refused(code: &str, detail: impl Into<String>) -> Outcome {
    Outcome::Refused(code.to_owned(), detail.into())
}

/// What became of one pulled envelope.
enum Outcome {
    Done,
    Hold(String),
    Refused(String, String),
}

impl Device {
    /// Fetches a person's whole case history from the server (audit, and devices that started
    /// from snapshots): every change set is verified, opened and recorded in the op log; the
    /// merged state does not change (it already includes them). Returns change sets added.
    pub async fn fetch_history<K: Keystore>(
        &mut self,
        person: &str,
        keystore: &K,
    ) -> Result<u64, DeviceError> {
        let pid = tsunagi_core::ids::PersonId::parse(person)?;
        let (client, enrollment, identity) = self.signed_client(keystore)?;
        let mut round = Round::new(&client, &enrollment, &identity);
        self.fetch_case(&mut round, pid.into()).await?;
        Ok(round.report.applied)
    }

    pub(super) async fn pull_all(&mut self, round: &mut Round<'_>) -> Result<(), DeviceError> {
        // A page refused earlier in this round (the server lied about the log): nothing more
        // is taken from it until the next round.
        if round.page_refused {
            return Ok(());
        }
        let mut cursor = self.meta_u64(CURSOR)?;
        // A fresh device (or one interrupted while catching up): the log first, without what
        // the snapshots as of the head hold, then those snapshots. The log brings the case-key
        // slots and grants, so every snapshot opens as it arrives; fetched first, each waited
        // for its key in the store (a fresh device of a team with 100,000 records wrote and
        // read back 300 MB of held snapshots). Merging is order-independent, so changes newer
        // than a snapshot may come before it.
        let fresh = self.catching_up(cursor)?;
        let covered = if fresh {
            self.fresh_head(round).await?
        } else {
            self.meta_u64(COVERED)?
        };
        if fresh && self.store.meta(OWN_DONE)?.is_none() {
            self.own_cases_first(round, covered).await?;
            if round.page_refused {
                return Ok(());
            }
        }
        // How far the log goes now, for the progress bar (a fresh device: its head).
        let head = if fresh {
            covered
        } else {
            let head: Head = round.client.get("/v1/sync/head").await?;
            head.head
        };
        let start = cursor;
        self.step(SyncPhase::Pull, head.saturating_sub(start));
        loop {
            let mut path = format!("/v1/sync/pull?since={cursor}&limit={PULL_LIMIT}");
            if covered > 0 {
                path.push_str(&format!("&covered_as_of={covered}"));
            }
            let Some(page) = self.get_checked_page(round, &path, cursor).await? else {
                // The server lied about the log: nothing more is taken from it this round.
                return Ok(());
            };
            let more = page.more;
            let next = page.next;
            self.apply_page(round, page, Some((CURSOR, next))).await?;
            cursor = next;
            self.step_done(cursor.saturating_sub(start));
            if !more {
                break;
            }
        }
        if fresh {
            self.fresh_snapshots(round, covered).await?;
            if round.page_refused {
                return Ok(());
            }
        }
        self.retry_held(round).await?;
        while let Some(case) = round.backfill.pop() {
            if round.backfilled.insert(case) {
                self.fetch_case(round, case).await?;
            }
        }
        Ok(())
    }

    /// Whether this device is still catching up as a fresh device (never synced, or
    /// interrupted while catching up), with its cursor at `cursor`.
    fn catching_up(&self, cursor: u64) -> Result<bool, DeviceError> {
        Ok(self.store.meta(FRESH_DONE)?.is_none()
            && (cursor == 0 || self.store.meta(COVERED)?.is_some()))
    }

    /// Tells the progress board, at a round's start, whether this is the device's first sync
    /// and whether the worker's own cases are already here.
    pub(super) fn announce_round(&self) -> Result<(), DeviceError> {
        if let Some(p) = &self.progress
            && self.catching_up(self.meta_u64(CURSOR)?)?
        {
            p.first_sync(self.store.meta(OWN_DONE)?.is_some());
        }
        Ok(())
    }

    /// A fresh device, before anything else: the cases the worker wrote in (the server knows
    /// which devices are theirs, not what the cases hold), each from its latest snapshot as of
    /// the head the device catches up to (one envelope instead of hundreds of change sets), so
    /// the worker's own caseload is on the device and usable — opened, searched, written
    /// to — while the rest of the team's records follow. Taken again from the log and the
    /// snapshots afterwards, which merge to the same state.
    async fn own_cases_first(
        &mut self,
        round: &mut Round<'_>,
        as_of: u64,
    ) -> Result<(), DeviceError> {
        let mine: MyCases = round
            .client
            .get(&format!("/v1/sync/mine?as_of={as_of}"))
            .await?;
        self.step(SyncPhase::OwnCases, mine.cases.len() as u64);
        for (i, case) in mine.cases.iter().enumerate() {
            let id = Uuid::try_parse(case).map_err(|_| {
                DeviceError::Server(ClientError::Protocol(format!(
                    "the server named a case {case:?} that is not a case id"
                )))
            })?;
            let case = EntityId::from_uuid(id);
            self.fetch_case_indexed(round, case, Some(as_of)).await?;
            round.backfilled.insert(case);
            round.report.own_cases += 1;
            self.step_done(i as u64 + 1);
        }
        self.store.set_meta(OWN_DONE, &now_rfc3339())?;
        if let Some(p) = &self.progress {
            p.first_sync(true);
        }
        Ok(())
    }

    /// A fresh device: the head it catches up to (recorded, so an interrupted catch-up keeps
    /// it).
    async fn fresh_head(&mut self, round: &mut Round<'_>) -> Result<u64, DeviceError> {
        Ok(match self.store.meta(COVERED)? {
            Some(s) => s.parse().unwrap_or(0),
            None => {
                let head: Head = round.client.get("/v1/sync/head").await?;
                self.store.set_meta(COVERED, &head.head.to_string())?;
                head.head
            }
        })
    }

    /// A fresh device, after the log: every readable case's latest snapshot as of the head.
    async fn fresh_snapshots(
        &mut self,
        round: &mut Round<'_>,
        as_of: u64,
    ) -> Result<(), DeviceError> {
        let mut since = self.meta_u64(SNAP_CURSOR)?;
        let start = since;
        self.step(SyncPhase::Snapshots, as_of.saturating_sub(start));
        loop {
            let path = format!("/v1/sync/snapshots?since={since}&as_of={as_of}&limit=200");
            let Some(page) = self.get_checked_page(round, &path, since).await? else {
                return Ok(());
            };
            let (more, next) = (page.more, page.next);
            self.apply_page(round, page, Some((SNAP_CURSOR, next)))
                .await?;
            since = next;
            self.step_done(since.saturating_sub(start));
            if !more {
                break;
            }
        }
        self.store.set_meta(FRESH_DONE, &now_rfc3339())?;
        Ok(())
    }

    /// A case's whole history (after a grant, or for the audit view).
    async fn fetch_case(
        &mut self,
        round: &mut Round<'_>,
        case: EntityId,
    ) -> Result<(), DeviceError> {
        self.fetch_case_indexed(round, case, None).await
    }

    /// [`Device::fetch_case`]; with `covered_as_of`, from the case's latest snapshot as of it,
    /// and its notes indexed as they are written (the worker's own cases on a fresh device:
    /// searched while the rest of the team's records are still coming).
    async fn fetch_case_indexed(
        &mut self,
        round: &mut Round<'_>,
        case: EntityId,
        covered_as_of: Option<u64>,
    ) -> Result<(), DeviceError> {
        let index_now = covered_as_of.is_some();
        let mut since = 0u64;
        loop {
            let mut path = format!("/v1/sync/cases/{}?since={since}&limit={PULL_LIMIT}", case);
            if let Some(s) = covered_as_of {
                path.push_str(&format!("&covered_as_of={s}"));
            }
            let Some(page) = self.get_checked_page(round, &path, since).await? else {
                return Ok(());
            };
            let (more, next) = (page.more, page.next);
            self.apply_page_with(round, page, None, index_now).await?;
            since = next;
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// A page asked for with `since`, checked against it: its envelopes all after `since`
    /// and in strictly increasing order, and its `next` not before `since`. A page that is not
    /// is refused whole (`cursor_rollback`: it goes back before what this device already has,
    /// a log rolled back or an old page served again; `out_of_order`: its order is not the
    /// log's): recorded as a problem for IT, reported by the round, and `None` — the cursor
    /// does not move and nothing more is pulled in this round.
    async fn get_checked_page(
        &mut self,
        round: &mut Round<'_>,
        path: &str,
        since: u64,
    ) -> Result<Option<PullPage>, DeviceError> {
        let t = std::time::Instant::now();
        let bytes = round.client.send_bytes("GET", path, Vec::new()).await?;
        round.report.steps.download_ms += ms_since(t);
        let refusal = match PullPage::decode(&bytes) {
            Ok(page) => match page.items.first() {
                Some(first) if first.seq <= since => Some((
                    "cursor_rollback",
                    format!(
                        "a page asked after #{since} began with #{} (an old part of the log served again)",
                        first.seq
                    ),
                )),
                _ if page.next < since => Some((
                    "cursor_rollback",
                    format!(
                        "a page asked after #{since} said to resume at #{}",
                        page.next
                    ),
                )),
                _ => return Ok(Some(page)),
            },
            // The wire format itself requires increasing sequence numbers and a `next` not
            // before the page's last one.
            Err(e)
                if e.to_string().contains("do not increase")
                    || e.to_string().contains("cursor is before") =>
            {
                Some(("out_of_order", format!("a page asked after #{since}: {e}")))
            }
            Err(e) => return Err(DeviceError::Server(ClientError::Protocol(e.to_string()))),
        };
        if let Some((code, detail)) = refusal {
            let path_only = path.split('?').next().unwrap_or(path);
            let detail = format!("{path_only}: {detail}");
            self.store
                .record_chain_problem(code, None, None, &detail, &now_rfc3339())?;
            round.report.pages_refused += 1;
            round.page_refused = true;
        }
        Ok(None)
    }

    async fn apply_page(
        &mut self,
        round: &mut Round<'_>,
        page: PullPage,
        cursor: Option<(&str, u64)>,
    ) -> Result<(), DeviceError> {
        self.apply_page_with(round, page, cursor, false).await
    }

    async fn apply_page_with(
        &mut self,
        round: &mut Round<'_>,
        page: PullPage,
        cursor: Option<(&str, u64)>,
        index_now: bool,
    ) -> Result<(), DeviceError> {
        let mut write = PageWrite {
            index_now,
            ..PageWrite::default()
        };
        round.page_keys.clear();
        let t = std::time::Instant::now();
        let verified = self.verify_page(round, &page.items, &mut write).await?;
        for (item, &verified) in page.items.iter().zip(&verified) {
            round.report.pulled += 1;
            match self
                .take(round, item.seq, &item.body, &mut write, verified)
                .await?
            {
                Outcome::Done => {}
                Outcome::Hold(why) => write.hold.push((item.seq, item.body.clone(), why)),
                Outcome::Refused(code, detail) => {
                    round.report.invalid += 1;
                    write
                        .refused
                        .push((item.seq, item.body.clone(), code, detail));
                }
            }
        }
        write.cursor = cursor.map(|(k, v)| (k.to_owned(), v));
        round.report.steps.open_ms += ms_since(t);
        let t = std::time::Instant::now();
        let counts = self
            .store
            .commit_page_counted(&write, &now_rfc3339(), self.write_slice)?;
        round.count(counts);
        round.report.steps.apply_ms += ms_since(t);
        round.report.snapshots_applied += write.snapshots.len() as u64;
        Ok(())
    }

    /// Retries held envelopes, a slice of about [`HELD_SLICE`] bytes per transaction (memory
    /// stays bounded however many a fresh device holds).
    async fn retry_held(&mut self, round: &mut Round<'_>) -> Result<(), DeviceError> {
        let mut after = 0u64;
        loop {
            let held = self.store.held(after, HELD_SLICE)?;
            let Some(&(last, _)) = held.last() else {
                return Ok(());
            };
            after = last;
            let mut write = PageWrite::default();
            round.page_keys.clear();
            for (seq, body) in held {
                match self.take(round, seq, &body, &mut write, false).await? {
                    Outcome::Done => write.unhold.push(seq),
                    Outcome::Hold(_) => {}
                    Outcome::Refused(code, detail) => {
                        write.unhold.push(seq);
                        write.refused.push((seq, body, code, detail));
                    }
                }
            }
            let t = std::time::Instant::now();
            let counts =
                self.store
                    .commit_page_counted(&write, &now_rfc3339(), self.write_slice)?;
            round.count(counts);
            round.report.steps.apply_ms += ms_since(t);
            round.report.snapshots_applied += write.snapshots.len() as u64;
        }
    }

    /// Checks the signatures of a pulled page's envelopes on two threads (a page of 200
    /// changes spends most of its opening time verifying, and a tablet has cores to spare
    /// while it syncs). True where the envelope decodes, its author is known and verified, and
    /// its signature holds under the author's key: [`Device::take`] then does not check it
    /// again. False where any of that fails or was not tried (small pages, this device's own
    /// change sets, which `take` skips unverified): `take` checks those one by one as always,
    /// so a refusal is the same, with the same reason, as without this step.
    async fn verify_page(
        &mut self,
        round: &mut Round<'_>,
        items: &[wire::Pulled],
        write: &mut PageWrite,
    ) -> Result<Vec<bool>, DeviceError> {
        if items.len() < PARALLEL_VERIFY_FROM {
            return Ok(vec![false; items.len()]);
        }
        let me = round.enrollment.device;
        let mut jobs: Vec<Option<(Envelope, SigPublic)>> = Vec::with_capacity(items.len());
        for item in items {
            let job = match Envelope::decode(&item.body) {
                Ok(env) => {
                    let author = Uuid::from_bytes(env.author);
                    if author == me && env.kind == Kind::Change {
                        None
                    } else {
                        self.author(round, author, write)
                            .await?
                            .map(|a| (env, a.key))
                    }
                }
                Err(_) => None,
            };
            jobs.push(job);
        }
        let check = |jobs: &[Option<(Envelope, SigPublic)>]| -> Vec<bool> {
            jobs.iter()
                .map(|j| j.as_ref().is_some_and(|(env, key)| env.verify(key)))
                .collect()
        };
        let (first, second) = jobs.split_at(jobs.len() / 2);
        Ok(std::thread::scope(|s| {
            let other = s.spawn(|| check(first));
            let mine = check(second);
            // A panicked helper leaves its half to `take` (checked one by one).
            let mut all = other.join().unwrap_or_else(|_| vec![false; first.len()]);
            all.extend(mine);
            all
        }))
    }

    /// Verifies (unless `verified` says [`Device::verify_page`] did) and opens one envelope
    /// into `write`.
    async fn take(
        &mut self,
        round: &mut Round<'_>,
        seq: u64,
        body: &[u8],
        write: &mut PageWrite,
        verified: bool,
    ) -> Result<Outcome, DeviceError> {
        let env = match Envelope::decode(body) {
            Ok(e) => e,
            Err(e) => return Ok(refused("malformed", e.to_string())),
        };
        let author_id = Uuid::from_bytes(env.author);
        let me = round.enrollment.device;
        // Our own change sets come back in the stream: already applied. Under another
        // sequence number than the server acknowledged: a replay, applied as nothing.
        if author_id == me && env.kind == Kind::Change {
            let op = OpId::from_uuid(Uuid::from_bytes(env.id));
            if let Some(known) = self.store.op_server_seq(op)? {
                if let Some(first) = known.filter(|&first| first != seq) {
                    round.report.replayed += 1;
                    let case = EntityId::from_uuid(Uuid::from_bytes(env.case));
                    self.store.record_chain_problem(
                        "replayed",
                        Some(me),
                        Some(case),
                        &format!("change {op} came again as #{seq} (first as #{first})"),
                        &now_rfc3339(),
                    )?;
                }
                return Ok(Outcome::Done);
            }
        }
        let author = match self.author(round, author_id, write).await? {
            Some(a) => a,
            None => {
                return Ok(refused(
                    "unknown_author",
                    format!("no verifiable certificate for device {author_id}"),
                ));
            }
        };
        if !verified && !env.verify(&author.key) {
            return Ok(refused(
                "bad_signature",
                format!("envelope {seq} is not signed by its author {author_id}"),
            ));
        }
        let case = EntityId::from_uuid(Uuid::from_bytes(env.case));
        match &env.aux {
            Aux::CaseKey {
                team,
                team_epoch,
                created,
                enc,
            } => {
                if *team != round.enrollment.team {
                    return Ok(refused("not_for_us", format!("slot for team {team}")));
                }
                let owner = match write.keys.iter().rev().find(|k| k.case == case) {
                    Some(k) => Some(k.team.clone()),
                    None => self.store.case_owner(case)?,
                };
                if let Some(owner) = owner.filter(|o| *o != author.team) {
                    return Ok(refused(
                        "not_writable",
                        format!(
                            "case key slot {seq} is by a device of team {}, the case belongs to team {owner}",
                            author.team
                        ),
                    ));
                }
                // A key this device already holds (another slot of it opened first): nothing
                // to learn, except that it is sealed to a newer epoch of its team.
                let known = match round.page_keys.get(&(env.case, env.epoch)) {
                    Some(k) => Some(k.clone()),
                    None => self.store.case_key(case, env.epoch)?,
                };
                if let Some(mut k) = known.filter(|k| k.key_id == env.key_id) {
                    if *team == author.team && *team_epoch > k.sealed_to {
                        k.sealed_to = *team_epoch;
                        round.page_keys.insert((env.case, env.epoch), k.clone());
                        write.keys.push(k);
                    }
                    return Ok(Outcome::Done);
                }
                let Some(tk) = self.store.team_key(team, *team_epoch)? else {
                    return Ok(Outcome::Hold(format!(
                        "team key {team}/{team_epoch} not held"
                    )));
                };
                let kem = team_kem(&tk, team, *team_epoch)?;
                let ctx = CaseKeyContext {
                    case: &env.case,
                    epoch: env.epoch,
                    key_id: &env.key_id,
                    team,
                    team_epoch: *team_epoch,
                };
                let sealed = SealedKey {
                    enc: enc.clone(),
                    ct: env.ct.clone(),
                };
                let Ok(ck) = open_case_key(&kem, &sealed, &ctx) else {
                    return Ok(refused(
                        "does_not_open",
                        format!("case key slot {seq} does not open"),
                    ));
                };
                let row = CaseKeyRow {
                    case,
                    epoch: env.epoch,
                    key_id: env.key_id,
                    key: ck,
                    team: author.team.clone(),
                    team_epoch: *created,
                    sealed_to: if *team == author.team { *team_epoch } else { 0 },
                    local: author_id == me,
                };
                round.page_keys.insert((env.case, env.epoch), row.clone());
                write.keys.push(row);
                Ok(Outcome::Done)
            }
            Aux::Grant {
                team,
                from_epoch,
                until_epoch,
                ..
            } => {
                // Only the owning team shares its cases (the server checks this too; a server
                // that lies is not believed): a grant by anyone else is refused.
                let owner = match write.keys.iter().rev().find(|k| k.case == case) {
                    Some(k) => Some(k.team.clone()),
                    None => self.store.case_owner(case)?,
                };
                match owner {
                    None => {
                        return Ok(Outcome::Hold(format!(
                            "grant {seq}: the case's owner is not known yet"
                        )));
                    }
                    Some(owner) if owner != author.team => {
                        return Ok(refused(
                            "not_writable",
                            format!(
                                "grant {seq} is by a device of team {}, the case belongs to team {owner}",
                                author.team
                            ),
                        ));
                    }
                    Some(_) => {}
                }
                if let Some(why) = after_revocation(&author, author_id, grant_time(&env.id)) {
                    return self.refuse_revoked(round, author_id, case, seq, why);
                }
                write.grants.push(GrantRow {
                    case,
                    team: team.clone(),
                    from_epoch: *from_epoch,
                    until_epoch: *until_epoch,
                    version: env.id,
                });
                if *team == round.enrollment.team && *until_epoch == 0 && author.team != *team {
                    round.backfill.push(case);
                }
                Ok(Outcome::Done)
            }
            Aux::None | Aux::Snapshot { .. } => {
                let key = match round.page_keys.get(&(env.case, env.epoch)) {
                    Some(k) => Some(k.clone()),
                    None => self.store.case_key(case, env.epoch)?,
                };
                let Some(key) = key.filter(|k| k.key_id == env.key_id) else {
                    return Ok(Outcome::Hold(format!(
                        "case key {case}/{} not held",
                        env.epoch
                    )));
                };
                // Only the owning team writes a case; a team it is shared with reads it.
                if key.team != author.team {
                    return Ok(refused(
                        "not_writable",
                        format!(
                            "envelope {seq} is by a device of team {}, the case belongs to team {}",
                            author.team, key.team
                        ),
                    ));
                }
                let Ok(plain) = open_payload(&key.key, &env.id, &env.aad(), &env.nonce, &env.ct)
                else {
                    return Ok(refused(
                        "does_not_open",
                        format!(
                            "envelope {seq} does not open (tampered, or moved under another header)"
                        ),
                    ));
                };
                if let Aux::Snapshot { .. } = env.aux {
                    let (heads, states) = match snapshot_payload::decode_with_heads(&plain) {
                        Ok(s) => s,
                        Err(e) => return Ok(refused("malformed", e.to_string())),
                    };
                    if states.iter().any(|s| s.state.case_id() != case) {
                        return Ok(refused(
                            "wrong_case",
                            format!("snapshot {seq} holds records of another case"),
                        ));
                    }
                    let newest = states
                        .iter()
                        .filter_map(|s| s.state.latest())
                        .map(|v| v.hlc.wall_ms)
                        .max();
                    if let Some(why) = after_revocation(&author, author_id, newest) {
                        return self.refuse_revoked(round, author_id, case, seq, why);
                    }
                    let states = if author_id == me { Vec::new() } else { states };
                    write.snapshots.push((case, seq, states));
                    if !heads.is_empty() {
                        write.snapshot_heads.push((case, heads));
                    }
                    return Ok(Outcome::Done);
                }
                let (mut rc, pos) = match payload::decode_chained(&plain) {
                    Ok(c) => c,
                    Err(e) => return Ok(refused("malformed", e.to_string())),
                };
                // Its place in its author's chain of this case (the header's case and author;
                // the change set's own are checked against them below).
                rc.chain = pos.map(|pos| ChainLink {
                    author: author_id,
                    case,
                    pos,
                    link: chain::link(&env.case, &env.author, pos.seq, &pos.prev, &env.id),
                });
                rc.pulled = Some((seq, body.to_vec()));
                let cs = &rc.cs;
                if *cs.op.as_uuid().as_bytes() != env.id
                    || *cs.device.as_uuid().as_bytes() != env.author
                {
                    return Ok(refused(
                        "mismatch",
                        format!(
                            "envelope {seq}: the change set's op id or author differs from the header"
                        ),
                    ));
                }
                if let Some(why) = after_revocation(&author, author_id, Some(cs.hlc.wall_ms)) {
                    return self.refuse_revoked(round, author_id, case, seq, why);
                }
                if let Some(other) = self.case_elsewhere(cs, case)? {
                    return Ok(refused(
                        "wrong_case",
                        format!("envelope {seq} of case {case} changes an entity of case {other}"),
                    ));
                }
                write.changes.push(rc);
                Ok(Outcome::Done)
            }
        }
    }

    /// Refuses an envelope its revoked author dated after the revocation, and counts it for IT
    /// (the server let a revoked device write, or served what it wrote).
    fn refuse_revoked(
        &mut self,
        round: &mut Round<'_>,
        author: Uuid,
        case: EntityId,
        seq: u64,
        why: String,
    ) -> Result<Outcome, DeviceError> {
        let detail = format!("envelope {seq}: {why}");
        // Seen before (earlier in this round, or refused in an earlier one): counted then.
        if !round.revoked_seen.insert(seq) || self.store.pull_refused_has(seq)? {
            return Ok(refused("revoked_author", detail));
        }
        round.report.revoked += 1;
        self.store.record_chain_problem(
            "revoked_author",
            Some(author),
            Some(case),
            &detail,
            &now_rfc3339(),
        )?;
        Ok(refused("revoked_author", detail))
    }

    /// The case an incoming change set's entity belongs to, when that is not `case`: a person,
    /// household or meeting is its own case; any other record names its person, in the change
    /// set or in the state held here. `None` when it is `case` or cannot be told (a record
    /// not held here whose change does not name its person).
    fn case_elsewhere(
        &self,
        cs: &tsunagi_core::change::ChangeSet,
        case: EntityId,
    ) -> Result<Option<EntityId>, DeviceError> {
        use tsunagi_core::change::{ChangeBody, EntityKind};
        let own_case = matches!(
            cs.kind,
            EntityKind::Person | EntityKind::Household | EntityKind::Meeting
        );
        let named = match &cs.body {
            ChangeBody::Set(fields) => fields.get("person").map(|w| &w.value),
            ChangeBody::Tombstone => None,
        };
        let actual = if own_case || named.is_some() {
            Some(tsunagi_core::merge::case_of(cs.kind, cs.entity, named))
        } else {
            self.store.entity_case(cs.entity)?
        };
        Ok(actual.filter(|a| *a != case))
    }

    /// The verified key and team of an envelope's author (cached in the store).
    async fn author(
        &mut self,
        round: &mut Round<'_>,
        id: Uuid,
        write: &mut PageWrite,
    ) -> Result<Option<Author>, DeviceError> {
        if let Some(a) = round.authors.get(&id) {
            return Ok(Some(a.clone()));
        }
        let admin = round.enrollment.admin_key()?;
        let mut chain: Vec<DeviceCert> = Vec::new();
        // Only admin-signed certificates count (verified_certs refuses any other signer).
        let cached = self.store.cert(id)?;
        let cert: DeviceCert = match cached.as_deref().map(serde_json::from_str) {
            Some(Ok(c)) => c,
            _ => match round.client.get(&format!("/v1/devices/{id}/cert")).await {
                Ok(c) => c,
                Err(ClientError::Refused { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        chain.push(cert.clone());
        let mut why = Vec::new();
        let ok = verified_certs(&chain, &admin, &mut why);
        let Some((pk, c)) = ok.get(&id.to_string()) else {
            return Ok(None);
        };
        if c.device != id {
            return Ok(None);
        }
        // An author of another team (the owner of a case shared with this team): that team's
        // statement, once a round, names its revoked devices.
        if c.team != round.enrollment.team && round.teams_checked.insert(c.team.clone()) {
            let (client, enrollment) = (round.client, round.enrollment);
            if let Err(e) = self.statement_of(client, enrollment, &c.team).await {
                round
                    .report
                    .key_warnings
                    .push(format!("statement of team {}: {e}", c.team));
            }
        }
        let a = Author {
            key: *pk,
            team: c.team.clone(),
            revoked_at: self.revoked_at(&id)?,
        };
        if cached.is_none() {
            write.certs.push((
                id,
                serde_json::to_string(&cert).map_err(|e| DeviceError::Bundle(e.to_string()))?,
            ));
        }
        round.authors.insert(id, a.clone());
        Ok(Some(a))
    }
}

/// Why an envelope its author dated at `written` (ms since the epoch) cannot be taken: its
/// author was revoked before that time. A revoked device's server connection ends at the
/// revocation, so whatever it wrote before then is taken (a worker's last notes are not lost);
/// anything it dated later comes from a device in someone else's hands, through a server that
/// let it in. Undated (`None`) counts as after.
fn after_revocation(author: &Author, id: Uuid, written: Option<u64>) -> Option<String> {
    let revoked = author.revoked_at?;
    match written {
        Some(t) if t <= revoked => None,
        Some(t) => Some(format!(
            "written by device {id} at {t} ms, after its revocation at {revoked} ms"
        )),
        None => Some(format!("undated, by device {id}, revoked at {revoked} ms")),
    }
}

/// A grant's time: its envelope id is a UUIDv7 (the grant's version), stamped when written.
fn grant_time(id: &[u8; 16]) -> Option<u64> {
    let (secs, nanos) = Uuid::from_bytes(*id).get_timestamp()?.to_unix();
    Some(secs * 1000 + u64::from(nanos / 1_000_000))
}

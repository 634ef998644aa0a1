//! The device's sync engine (docs/protocol.md): pull pages (verify, open, merge, cursor in one
//! store transaction each), re-seal case keys after a team key rotation, push the outbox
//! (sealing each change set under its case key at push time), seal snapshots when due, and a
//! status the app can show. A crash at any point neither loses nor duplicates anything: each
//! step's effects and its progress marker are one store transaction, and the server answers a
//! repeated push with `duplicate`.
//!
//! It lives in `crates/device`, not `crates/protocol`: it decrypts, and `crates/protocol` is shared
//! with the server, which must not compile a decrypting function.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tsunagi_core::ids::{EntityId, OpId};
use tsunagi_crypto::case::{
    CaseKey, CaseKeyContext, open_case_key, open_payload, seal_case_key, seal_payload, team_kem,
};
use tsunagi_crypto::identity::{KemPublic, SealedKey, SigKey, SigPublic, Signature};
use tsunagi_crypto::random_array;
use tsunagi_protocol::api::{DeviceCert, Head, TeamKem, TeamKemAnswer};
use tsunagi_protocol::client::{Client, ClientError};
use tsunagi_protocol::wire::{self, Aux, Envelope, Kind, PullPage, PushResponse, PushResult};
use tsunagi_store::keys::Keystore;
use tsunagi_store::{CaseKeyRow, GrantRow, PageWrite, QueuedEnvelope};
use tsunagi_store::{payload, snapshot};
use uuid::Uuid;

use crate::enroll::{Enrollment, Identity, verified_certs};
use crate::{Device, DeviceError};

/// Meta keys of the sync state.
const CURSOR: &str = "sync.cursor";
const COVERED: &str = "sync.covered_as_of";
const SNAP_CURSOR: &str = "sync.snapshot_cursor";
const FRESH_DONE: &str = "sync.fresh_done";
const LAST_ATTEMPT: &str = "sync.last_attempt";
const LAST_SUCCESS: &str = "sync.last_success";
const LAST_ERROR: &str = "sync.last_error";

/// Envelopes per push request, and bytes (the server takes 1000 and 4 MiB).
const PUSH_MAX: usize = 1000;
const PUSH_BYTES: usize = 2 * 1024 * 1024;
/// What sealing adds to a payload: header (74 bytes with an empty aux), nonce, length, tag
/// and signature (docs/protocol.md "Envelope").
const SEAL_OVERHEAD: usize = 74 + 12 + 4 + 16 + 64;
/// Largest snapshot payload sealed (the server takes 4 MiB per push request).
const MAX_SNAPSHOT: usize = 3 * 1024 * 1024;
/// Sealed snapshots are written to the push queue every this many bytes (bounded memory).
const SNAPSHOT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Held envelopes retried per transaction, in bytes (about one pull page).
const HELD_SLICE: usize = 4 * 1024 * 1024;
/// Envelopes per pull page asked for.
const PULL_LIMIT: u32 = 5000;
/// From this many envelopes on, a pulled page's signatures are checked on two threads.
const PARALLEL_VERIFY_FROM: usize = 32;
/// A device seals a snapshot of a case after this many change sets since the last one.
pub const SNAPSHOT_MIN_OPS: u64 = 100;

/// What one sync round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// Change sets the server accepted.
    pub pushed: u64,
    /// Change sets the server already had (a retried push).
    pub duplicates: u64,
    /// Change sets the server refused (kept on the device; see the status).
    pub refused: u64,
    /// Change sets sealed again because the server did not know their key: another device's
    /// key for the same case-key epoch reached it first (`stale_key`), or the key's slot had
    /// not arrived (`unknown_case`). This device pulled and re-sent them.
    pub resealed: u64,
    /// Case-key slots, grants and snapshots sent.
    pub envelopes_sent: u64,
    /// Envelopes received.
    pub pulled: u64,
    /// Change sets newly applied.
    pub applied: u64,
    /// Snapshots received and merged.
    pub snapshots_applied: u64,
    /// Envelopes waiting for a key.
    pub held: u64,
    /// Envelopes refused as invalid in this round.
    pub invalid: u64,
    /// Case keys made here.
    pub keys_made: u64,
    /// Snapshots sealed here.
    pub snapshots_made: u64,
    /// The cursor after the round.
    pub cursor: u64,
    /// Where the round's time went.
    pub steps: SyncSteps,
}

/// Where one sync round's time went, in milliseconds of wall time (for IT and for tuning:
/// `tsunagi-device sync` prints it; `tsunagi-syncbench` reports it per phase).
///
/// `download`, `open` and `apply` add up every pull page of the round, including the pull that
/// precedes sealing snapshots; `push` is the outbox push, whose sealing of the next batch
/// overlaps the previous batch's request; `snapshots` is everything after that push (pull
/// back, seal, push the snapshots).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct SyncSteps {
    /// Certificates, team keys and key publication before the pull.
    pub keys_ms: f64,
    /// Waiting for pull pages (request, transfer, page decoding).
    pub download_ms: f64,
    /// Verifying signatures, opening and decoding envelopes.
    pub open_ms: f64,
    /// Merging and storing pages (one store transaction each).
    pub apply_ms: f64,
    /// Sealing and pushing the outbox, and recording the answers.
    pub push_ms: f64,
    /// Pulling back, sealing and pushing due snapshots.
    pub snapshots_ms: f64,
    /// The whole round.
    pub total_ms: f64,
}

impl SyncSteps {
    /// The steps by name, in the order of a round (`total_ms` apart).
    pub fn named(&self) -> [(&'static str, f64); 6] {
        [
            ("keys", self.keys_ms),
            ("download", self.download_ms),
            ("open", self.open_ms),
            ("apply", self.apply_ms),
            ("push", self.push_ms),
            ("snapshots", self.snapshots_ms),
        ]
    }
}

impl std::ops::AddAssign for SyncSteps {
    /// The steps of several rounds, added up.
    fn add_assign(&mut self, o: SyncSteps) {
        self.keys_ms += o.keys_ms;
        self.download_ms += o.download_ms;
        self.open_ms += o.open_ms;
        self.apply_ms += o.apply_ms;
        self.push_ms += o.push_ms;
        self.snapshots_ms += o.snapshots_ms;
        self.total_ms += o.total_ms;
    }
}

/// Milliseconds since `t`.
fn ms_since(t: std::time::Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// The last error, in plain words.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncErrorView {
    /// Machine code.
    pub code: String,
    /// Japanese, for the screen.
    pub message_ja: String,
    /// Detail (English, for IT).
    pub detail: String,
    /// When (RFC 3339).
    pub at: String,
}

/// What the app shows about sync.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// Enrolled with a server.
    pub enrolled: bool,
    /// `synced`, `pending`, `error`, `never`, or `not_enrolled`.
    pub state: &'static str,
    /// One line for the screen.
    pub message_ja: String,
    /// Records not yet on the server.
    pub pending: u64,
    /// Key slots, grants and snapshots not yet on the server.
    pub pending_keys: u64,
    /// Records the server refused (kept here).
    pub refused_outgoing: u64,
    /// Received envelopes waiting for a key.
    pub held: u64,
    /// Received envelopes refused as invalid.
    pub refused_incoming: u64,
    /// Last attempt (RFC 3339).
    pub last_attempt: Option<String>,
    /// Last complete success (RFC 3339).
    pub last_success: Option<String>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<SyncErrorView>,
    /// Server sequence number received up to.
    pub cursor: u64,
    /// The refusals, newest first (code: detail).
    pub refusals: Vec<String>,
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn refused(code: &str, detail: impl Into<String>) -> Outcome {
    Outcome::Refused(code.to_owned(), detail.into())
}

/// What became of one pulled envelope.
enum Outcome {
    Done,
    Hold(String),
    Refused(String, String),
}

/// A verified author.
#[derive(Clone)]
struct Author {
    key: SigPublic,
    team: String,
}

/// State of one round.
struct Round<'a> {
    client: &'a Client,
    enrollment: &'a Enrollment,
    identity: &'a Identity,
    authors: HashMap<Uuid, Author>,
    /// Case keys opened in this page, before the page's transaction stores them.
    page_keys: HashMap<([u8; 16], u32), CaseKeyRow>,
    /// Cases granted to this device's team in this round: their history is fetched.
    backfill: Vec<EntityId>,
    /// Cases whose history was fetched in this round (a fetched history holds the grant again).
    backfilled: std::collections::BTreeSet<EntityId>,
    report: SyncReport,
}

impl<'a> Round<'a> {
    fn new(client: &'a Client, enrollment: &'a Enrollment, identity: &'a Identity) -> Round<'a> {
        let mut authors = HashMap::new();
        // This device's own envelopes verify with its own key, without a certificate fetch.
        authors.insert(
            enrollment.device,
            Author {
                key: identity.sig.public(),
                team: enrollment.team.clone(),
            },
        );
        Round {
            client,
            enrollment,
            identity,
            authors,
            page_keys: HashMap::new(),
            backfill: Vec::new(),
            backfilled: std::collections::BTreeSet::new(),
            report: SyncReport::default(),
        }
    }
}

impl Device {
    /// One sync round with the server: keys, pull, re-seal, push, snapshots. Records the
    /// attempt, and its success or its error in plain words, for the status.
    pub async fn sync<K: Keystore>(&mut self, keystore: &K) -> Result<SyncReport, DeviceError> {
        let started = now_rfc3339();
        // The store's background indexing and index merges wait for the round: they are
        // housekeeping, and on a tablet's two cores they slowed the sync the worker waits for.
        let _hold = self.store.hold_background_work();
        self.store.set_meta(LAST_ATTEMPT, &started)?;
        let result = self.sync_round(keystore).await;
        match &result {
            Ok(_) => self
                .store
                .set_metas(&[(LAST_SUCCESS, &started), (LAST_ERROR, "")])?,
            Err(e) => {
                let view = SyncErrorView {
                    code: e.code().to_owned(),
                    message_ja: e.message_ja(),
                    detail: e.to_string(),
                    at: started,
                };
                let json = serde_json::to_string(&view).unwrap_or_default();
                // Recording the error must not hide it: ignore a failure to record.
                let _ = self.store.set_meta(LAST_ERROR, &json);
            }
        }
        result
    }

    async fn sync_round<K: Keystore>(&mut self, keystore: &K) -> Result<SyncReport, DeviceError> {
        let start = std::time::Instant::now();
        let (client, enrollment, identity) = self.signed_client(keystore)?;
        self.refresh_keys_with(&client, &enrollment, &identity)
            .await?;
        let mut round = Round::new(&client, &enrollment, &identity);
        let epoch = self.current_team_epoch(&enrollment)?;
        self.publish_team_kems(&mut round).await?;
        round.report.steps.keys_ms = ms_since(start);
        self.pull_all(&mut round).await?;
        self.reseal(&mut round, epoch)?;
        let t = std::time::Instant::now();
        self.push_all(&mut round, epoch).await?;
        round.report.steps.push_ms = ms_since(t);
        let t = std::time::Instant::now();
        if !self
            .store
            .cases_due_for_snapshot(SNAPSHOT_MIN_OPS)?
            .is_empty()
        {
            // A snapshot claims every envelope up to the cursor: pull what was just pushed
            // (and anything between) first, so the claim covers it.
            self.pull_all(&mut round).await?;
        }
        if self.seal_snapshots(&mut round, epoch)? > 0 {
            self.push_all(&mut round, epoch).await?;
        }
        round.report.steps.snapshots_ms = ms_since(t);
        self.observe_clock()?;
        round.report.cursor = self.meta_u64(CURSOR)?;
        round.report.held = self.store.sync_counts()?.held;
        round.report.steps.total_ms = ms_since(start);
        Ok(round.report)
    }

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

    /// What the app shows: counts, last success, last error (never "synced" after a failure).
    pub fn sync_status(&self) -> Result<SyncStatus, DeviceError> {
        let counts = self.store.sync_counts()?;
        let enrolled = self.enrollment()?.is_some();
        let nonempty = |k: &str| -> Result<Option<String>, DeviceError> {
            Ok(self.store.meta(k)?.filter(|s| !s.is_empty()))
        };
        let last_attempt = nonempty(LAST_ATTEMPT)?;
        let last_success = nonempty(LAST_SUCCESS)?;
        let last_error: Option<SyncErrorView> =
            nonempty(LAST_ERROR)?.and_then(|j| serde_json::from_str(&j).ok());
        let mut refusals: Vec<String> = self
            .store
            .push_refusals(20)?
            .into_iter()
            .map(|(op, code, msg)| format!("送信拒否 {op} {code}: {msg}"))
            .collect();
        refusals.extend(
            self.store
                .pull_refusals(20)?
                .into_iter()
                .map(|(seq, code, detail)| format!("受信拒否 #{seq} {code}: {detail}")),
        );
        let pending = counts.pending;
        let (state, message_ja) = if !enrolled {
            (
                "not_enrolled",
                "この端末はまだサーバーに登録されていません。記録は端末に保存されています。"
                    .to_owned(),
            )
        } else if let Some(e) = &last_error {
            (
                "error",
                format!(
                    "同期できませんでした（{}）: {} 未送信 {pending} 件は端末に保存されています。",
                    e.at, e.message_ja
                ),
            )
        } else if last_success.is_none() {
            (
                "never",
                format!("まだ同期していません。未送信 {pending} 件。"),
            )
        } else if pending > 0 || counts.pending_keys > 0 {
            (
                "pending",
                format!(
                    "未送信 {pending} 件があります。最終同期 {}。",
                    last_success.as_deref().unwrap_or("-")
                ),
            )
        } else {
            (
                "synced",
                format!(
                    "同期済みです（最終同期 {}）。",
                    last_success.as_deref().unwrap_or("-")
                ),
            )
        };
        let mut message_ja = message_ja;
        if counts.push_refused + counts.pull_refused > 0 {
            message_ja.push_str(&format!(
                " 受け付けられなかった記録が {} 件あります（詳細は情報システム担当へ）。",
                counts.push_refused + counts.pull_refused
            ));
        }
        if counts.held > 0 {
            message_ja.push_str(&format!(
                " 鍵の到着待ちの受信記録が {} 件あります。",
                counts.held
            ));
        }
        Ok(SyncStatus {
            enrolled,
            state,
            message_ja,
            pending,
            pending_keys: counts.pending_keys,
            refused_outgoing: counts.push_refused,
            held: counts.held,
            refused_incoming: counts.pull_refused,
            last_attempt,
            last_success,
            last_error,
            cursor: self.meta_u64(CURSOR)?,
            refusals,
        })
    }

    fn meta_u64(&self, key: &str) -> Result<u64, DeviceError> {
        Ok(self
            .store
            .meta(key)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    fn observe_clock(&mut self) -> Result<(), DeviceError> {
        let last = self.store.last_hlc()?;
        self.clock = self.clock.observe(last, crate::device::now_ms());
        Ok(())
    }

    pub(crate) fn current_team_epoch(&self, enrollment: &Enrollment) -> Result<u32, DeviceError> {
        self.store
            .team_key_epochs(&enrollment.team)?
            .last()
            .copied()
            .ok_or_else(|| {
                DeviceError::NotAllowed(
                    "this device holds no team key yet: it has not been approved".into(),
                )
            })
    }

    /// Publishes the public half of TeamKEM for each team epoch held (once each), so members
    /// of other teams can share cases with this team.
    async fn publish_team_kems(&mut self, round: &mut Round<'_>) -> Result<(), DeviceError> {
        let team = round.enrollment.team.clone();
        for epoch in self.store.team_key_epochs(&team)? {
            let flag = format!("sync.kem_published.{epoch}");
            if self.store.meta(&flag)?.is_some() {
                continue;
            }
            let Some(tk) = self.store.team_key(&team, epoch)? else {
                continue;
            };
            let kem = team_kem(&tk, &team, epoch)?;
            let mut msg = TeamKem {
                team: team.clone(),
                epoch,
                kem_pub: kem.public().as_bytes().to_vec(),
                device: round.enrollment.device,
                sig: Vec::new(),
            };
            msg.sig = round.identity.sig.sign(&msg.signed_message()).0.to_vec();
            let _: TeamKem = round
                .client
                .post(&format!("/v1/teams/{team}/kem"), &msg)
                .await?;
            self.store.set_meta(&flag, &now_rfc3339())?;
        }
        Ok(())
    }

    /// Another team's current KEM key, verified: the publisher's certificate against the
    /// pinned admin key, its team, and its signature.
    pub(crate) async fn team_kem_of(
        &self,
        client: &Client,
        enrollment: &Enrollment,
        team: &str,
    ) -> Result<(u32, KemPublic), DeviceError> {
        let ans: TeamKemAnswer = client
            .get(&format!("/v1/teams/{team}/kem"))
            .await
            .map_err(|e| match e {
                ClientError::Refused { status: 404, .. } => DeviceError::NotAllowed(format!(
                    "team {team} has not published its key yet (none of its devices has synced since its key was made)"
                )),
                other => other.into(),
            })?;
        let admin = enrollment.admin_key()?;
        let mut why = Vec::new();
        let certs = verified_certs(std::slice::from_ref(&ans.cert), &admin, &mut why);
        let Some((pk, cert)) = certs.get(&ans.kem.device.to_string()) else {
            return Err(DeviceError::Untrusted(format!(
                "the key of team {team} is published by a device whose certificate does not verify"
            )));
        };
        let sig = Signature::from_bytes(&ans.kem.sig)
            .map_err(|_| DeviceError::Untrusted("malformed team key signature".into()))?;
        if cert.team != team
            || ans.kem.team != team
            || pk.verify(&ans.kem.signed_message(), &sig).is_err()
        {
            return Err(DeviceError::Untrusted(format!(
                "the published key of team {team} is not signed by one of its devices"
            )));
        }
        let kem = KemPublic::from_bytes(&ans.kem.kem_pub)
            .map_err(|_| DeviceError::Untrusted("malformed team key".into()))?;
        Ok((ans.kem.epoch, kem))
    }

    // ----- pull -------------------------------------------------------------------------

    async fn pull_all(&mut self, round: &mut Round<'_>) -> Result<(), DeviceError> {
        let mut cursor = self.meta_u64(CURSOR)?;
        // A fresh device (or one interrupted while catching up): the log first, without what
        // the snapshots as of the head hold, then those snapshots. The log brings the case-key
        // slots and grants, so every snapshot opens as it arrives; fetched first, each waited
        // for its key in the store (a fresh device of a team with 100,000 records wrote and
        // read back 300 MB of held snapshots). Merging is order-independent, so changes newer
        // than a snapshot may come before it.
        let fresh = self.store.meta(FRESH_DONE)?.is_none()
            && (cursor == 0 || self.store.meta(COVERED)?.is_some());
        let covered = if fresh {
            self.fresh_head(round).await?
        } else {
            self.meta_u64(COVERED)?
        };
        loop {
            let mut path = format!("/v1/sync/pull?since={cursor}&limit={PULL_LIMIT}");
            if covered > 0 {
                path.push_str(&format!("&covered_as_of={covered}"));
            }
            let page = self.get_page(round, &path).await?;
            let more = page.more;
            let next = page.next;
            self.apply_page(round, page, Some((CURSOR, next))).await?;
            cursor = next;
            if !more {
                break;
            }
        }
        if fresh {
            self.fresh_snapshots(round, covered).await?;
        }
        self.retry_held(round).await?;
        while let Some(case) = round.backfill.pop() {
            if round.backfilled.insert(case) {
                self.fetch_case(round, case).await?;
            }
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
        loop {
            let path = format!("/v1/sync/snapshots?since={since}&as_of={as_of}&limit=200");
            let page = self.get_page(round, &path).await?;
            let (more, next) = (page.more, page.next);
            self.apply_page(round, page, Some((SNAP_CURSOR, next)))
                .await?;
            since = next;
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
        let mut since = 0u64;
        loop {
            let path = format!("/v1/sync/cases/{}?since={since}&limit={PULL_LIMIT}", case);
            let page = self.get_page(round, &path).await?;
            let (more, next) = (page.more, page.next);
            self.apply_page(round, page, None).await?;
            since = next;
            if !more {
                break;
            }
        }
        Ok(())
    }

    async fn get_page(&self, round: &mut Round<'_>, path: &str) -> Result<PullPage, DeviceError> {
        let t = std::time::Instant::now();
        let bytes = round.client.send_bytes("GET", path, Vec::new()).await?;
        let page = PullPage::decode(&bytes)
            .map_err(|e| DeviceError::Server(ClientError::Protocol(e.to_string())));
        round.report.steps.download_ms += ms_since(t);
        page
    }

    async fn apply_page(
        &mut self,
        round: &mut Round<'_>,
        page: PullPage,
        cursor: Option<(&str, u64)>,
    ) -> Result<(), DeviceError> {
        let mut write = PageWrite::default();
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
        round.report.applied += self.store.commit_page(&write, &now_rfc3339())? as u64;
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
            round.report.applied += self.store.commit_page(&write, &now_rfc3339())? as u64;
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
        // Our own change sets come back in the stream: already applied.
        if author_id == me
            && env.kind == Kind::Change
            && self
                .store
                .has_op(OpId::from_uuid(Uuid::from_bytes(env.id)))?
        {
            return Ok(Outcome::Done);
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
                write.grants.push(GrantRow {
                    case,
                    team: team.clone(),
                    from_epoch: *from_epoch,
                    until_epoch: *until_epoch,
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
                    let states = match snapshot::decode(&plain) {
                        Ok(s) => s,
                        Err(e) => return Ok(refused("malformed", e.to_string())),
                    };
                    if states.iter().any(|s| s.state.case_id() != case) {
                        return Ok(refused(
                            "wrong_case",
                            format!("snapshot {seq} holds records of another case"),
                        ));
                    }
                    let states = if author_id == me { Vec::new() } else { states };
                    write.snapshots.push((case, seq, states));
                    return Ok(Outcome::Done);
                }
                let rc = match payload::decode(&plain) {
                    Ok(c) => c,
                    Err(e) => return Ok(refused("malformed", e.to_string())),
                };
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
                write.changes.push(rc);
                Ok(Outcome::Done)
            }
        }
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
        let cached = self.store.cert(id)?;
        let cert: DeviceCert = match cached.as_deref().map(serde_json::from_str) {
            Some(Ok(c)) => c,
            _ => match round.client.get(&format!("/v1/devices/{id}/cert")).await {
                Ok(c) => c,
                Err(ClientError::Refused { status: 404, .. }) => return Ok(None),
                Err(e) => return Err(e.into()),
            },
        };
        if cert.signer != "admin" {
            // Signed by a lead of its team: verify the lead's certificate too.
            let lead_id = Uuid::parse_str(&cert.signer).ok();
            let lead: Option<DeviceCert> = match lead_id {
                Some(l) => match round.client.get(&format!("/v1/devices/{l}/cert")).await {
                    Ok(c) => Some(c),
                    Err(ClientError::Refused { status: 404, .. }) => None,
                    Err(e) => return Err(e.into()),
                },
                None => None,
            };
            chain.extend(lead);
        }
        chain.push(cert.clone());
        let mut why = Vec::new();
        let ok = verified_certs(&chain, &admin, &mut why);
        let Some((pk, c)) = ok.get(&id.to_string()) else {
            return Ok(None);
        };
        if c.device != id {
            return Ok(None);
        }
        let a = Author {
            key: *pk,
            team: c.team.clone(),
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

    // ----- keys -------------------------------------------------------------------------

    /// After a team key rotation: re-seal every case key of this team's cases to the new team
    /// epoch (keeping its `created`), so devices approved later read the whole history.
    fn reseal(&mut self, round: &mut Round<'_>, epoch: u32) -> Result<(), DeviceError> {
        let team = round.enrollment.team.clone();
        let stale: Vec<CaseKeyRow> = self
            .store
            .all_case_keys()?
            .into_iter()
            .filter(|k| k.team == team && k.sealed_to < epoch)
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        let tk = self
            .store
            .team_key(&team, epoch)?
            .ok_or_else(|| DeviceError::NotAllowed("team key not held".into()))?;
        let kem = team_kem(&tk, &team, epoch)?.public();
        let mut keys = Vec::new();
        let mut queued = Vec::new();
        for mut k in stale {
            queued.push(Self::slot_envelope(
                round.enrollment,
                round.identity,
                &k,
                &team,
                epoch,
                &kem,
            )?);
            k.sealed_to = epoch;
            keys.push(k);
        }
        self.store.add_local_keys(&keys, &[], &queued)?;
        Ok(())
    }

    /// A case-key slot: `k` sealed to `team`'s KEM key of `team_epoch`, signed by this device.
    pub(crate) fn slot_envelope(
        enrollment: &Enrollment,
        identity: &Identity,
        k: &CaseKeyRow,
        team: &str,
        team_epoch: u32,
        kem: &KemPublic,
    ) -> Result<QueuedEnvelope, DeviceError> {
        let case = *k.case.as_uuid().as_bytes();
        let ctx = CaseKeyContext {
            case: &case,
            epoch: k.epoch,
            key_id: &k.key_id,
            team,
            team_epoch,
        };
        let sealed = seal_case_key(kem, &k.key, &ctx)?;
        let mut env = Envelope {
            kind: Kind::CaseKey,
            id: random_array()?,
            case,
            epoch: k.epoch,
            key_id: k.key_id,
            author: *enrollment.device.as_bytes(),
            aux: Aux::CaseKey {
                team: team.to_owned(),
                team_epoch,
                created: k.team_epoch,
                enc: sealed.enc,
            },
            nonce: [0; 12],
            ct: sealed.ct,
            sig: [0; 64],
        };
        env.sign(&identity.sig);
        Ok(QueuedEnvelope {
            id: env.id,
            case: k.case,
            epoch: k.epoch,
            body: env.encode(),
        })
    }

    /// The case key to seal new envelopes of `case` with: the latest, if it was made under the
    /// team's current key epoch and after the last withdrawn grant; otherwise a new epoch,
    /// sealed to the owning team and every team with an open grant (queued before use).
    pub(crate) async fn usable_key(
        &mut self,
        client: &Client,
        enrollment: &Enrollment,
        identity: &Identity,
        case: EntityId,
        epoch: u32,
        fresh: bool,
    ) -> Result<(Option<CaseKeyRow>, bool), DeviceError> {
        let keys = self.store.case_keys_of(case)?;
        let latest = keys.last().cloned();
        if let Some(k) = &latest {
            if k.team != enrollment.team {
                // Another team's case, shared with us: read only.
                return Ok((None, false));
            }
            let withdrawn_after = self
                .store
                .grants_of(case)?
                .iter()
                .any(|g| g.until_epoch > k.epoch);
            if k.team_epoch == epoch && !fresh && !withdrawn_after {
                return Ok((Some(k.clone()), false));
            }
        }
        let new_epoch = latest.as_ref().map_or(1, |k| k.epoch + 1);
        let row = CaseKeyRow {
            case,
            epoch: new_epoch,
            key_id: random_array()?,
            key: CaseKey::generate()?,
            team: enrollment.team.clone(),
            team_epoch: epoch,
            sealed_to: epoch,
            local: true,
        };
        let tk = self
            .store
            .team_key(&enrollment.team, epoch)?
            .ok_or_else(|| DeviceError::NotAllowed("team key not held".into()))?;
        let own = team_kem(&tk, &enrollment.team, epoch)?.public();
        let mut queued = vec![Self::slot_envelope(
            enrollment,
            identity,
            &row,
            &enrollment.team,
            epoch,
            &own,
        )?];
        for g in self.store.grants_of(case)? {
            if g.until_epoch == 0 && g.team != enrollment.team {
                let (te, kem) = self.team_kem_of(client, enrollment, &g.team).await?;
                queued.push(Self::slot_envelope(
                    enrollment, identity, &row, &g.team, te, &kem,
                )?);
            }
        }
        self.store
            .add_local_keys(std::slice::from_ref(&row), &[], &queued)?;
        Ok((Some(row), true))
    }

    // ----- push -------------------------------------------------------------------------

    /// Pushes the queue and the outbox until the server has answered for everything.
    ///
    /// Queued envelopes (case-key slots, grants, snapshots) travel first, in requests of their
    /// own, so a change never reaches the server before the slot of its key. Outbox changes are
    /// pipelined: while one batch travels and the server checks it, the answers to the batch
    /// before are recorded and the next batch is read and sealed (on a blocking thread).
    async fn push_all(&mut self, round: &mut Round<'_>, epoch: u32) -> Result<(), DeviceError> {
        let client = round.client;
        // DevSig for the sealing thread: one copy per push (zeroized on drop, as the original).
        let sig = Arc::new(SigKey::from_seed(&*round.identity.sig.seed())?);
        let mut after = 0i64;
        let mut retries = 0;
        let mut ready: Option<Prepared> = None;
        // A batch the server answered, recorded while the next one travels.
        let mut answered: Option<(Prepared, PushResponse)> = None;
        for _ in 0..100_000 {
            let mut retry = false;
            let queued = self.store.queued_envelopes(PUSH_MAX, PUSH_BYTES)?;
            if !queued.is_empty() {
                retry = self.settle(round, &mut answered)?;
                if !retry {
                    let bodies: Vec<Vec<u8>> = queued.iter().map(|q| q.body.clone()).collect();
                    let resp = post_batch(client, &bodies).await?;
                    let done = self.queued_results(round, &queued, &resp.results)?;
                    self.store.record_push(&[], &[], &done, &now_rfc3339())?;
                    continue;
                }
            } else {
                let batch = match ready.take() {
                    Some(b) => b,
                    None => {
                        // Preparing queues the slot of any key it makes: back to the top, so
                        // the queue goes first (as for a batch prepared while one travelled).
                        ready = Some(
                            self.prepare_push(round, epoch, after, &sig)
                                .await?
                                .sealed()
                                .await?,
                        );
                        continue;
                    }
                };
                if batch.bodies.is_empty() {
                    retry = self.settle(round, &mut answered)?;
                    if batch.refusals.is_empty() && !retry {
                        return Ok(());
                    }
                    if !retry {
                        // Everything read was refused here (read-only shared cases).
                        after = batch.after;
                        self.store
                            .record_push(&[], &batch.refusals, &[], &now_rfc3339())?;
                        round.report.refused += batch.refusals.len() as u64;
                        continue;
                    }
                } else {
                    after = batch.after;
                    let (resp, meanwhile) =
                        tokio::join!(post_batch(client, &batch.bodies), async {
                            let retry = self.settle(round, &mut answered)?;
                            let next = if retry {
                                None
                            } else {
                                Some(
                                    self.prepare_push(round, epoch, after, &sig)
                                        .await?
                                        .sealed()
                                        .await?,
                                )
                            };
                            Ok::<_, DeviceError>((retry, next))
                        });
                    answered = Some((batch, resp?));
                    let (r, next) = meanwhile?;
                    ready = next;
                    if r {
                        // This batch's answers stand (its acknowledged changes are stored).
                        self.settle(round, &mut answered)?;
                        retry = true;
                    }
                }
            }
            if retry {
                // Our new case key lost to another device's: learn theirs, then seal again.
                // A batch sealed meanwhile was not sent: it is read and sealed again.
                retries += 1;
                if retries > 3 {
                    return Err(DeviceError::Server(ClientError::Protocol(
                        "the server keeps refusing this device's case keys (stale_key)".into(),
                    )));
                }
                ready = None;
                self.pull_all(round).await?;
                after = 0;
            }
        }
        self.settle(round, &mut answered)?;
        Ok(())
    }

    /// Records the answers to the batch in `answered`, if any; returns whether a change was
    /// refused for a stale key.
    fn settle(
        &mut self,
        round: &mut Round<'_>,
        answered: &mut Option<(Prepared, PushResponse)>,
    ) -> Result<bool, DeviceError> {
        match answered.take() {
            Some((batch, resp)) => self.record_changes(round, batch, resp),
            None => Ok(false),
        }
    }

    /// Reads the next outbox batch after `after` and makes sure each of its cases has a usable
    /// key (a new key's slot is queued, and so travels first).
    async fn prepare_push(
        &mut self,
        round: &mut Round<'_>,
        epoch: u32,
        after: i64,
        sig: &Arc<SigKey>,
    ) -> Result<ToSeal, DeviceError> {
        let ops = self.store.outbox_batch(after, PUSH_MAX)?;
        let mut keys: BTreeMap<EntityId, Option<CaseKeyRow>> = BTreeMap::new();
        for op in &ops {
            if let std::collections::btree_map::Entry::Vacant(v) = keys.entry(op.case) {
                let (k, made) = self
                    .usable_key(
                        round.client,
                        round.enrollment,
                        round.identity,
                        op.case,
                        epoch,
                        false,
                    )
                    .await?;
                round.report.keys_made += u64::from(made);
                v.insert(k);
            }
        }
        let mut batch = ToSeal {
            after,
            jobs: Vec::new(),
            refusals: Vec::new(),
            author: *round.enrollment.device.as_bytes(),
            sig: Arc::clone(sig),
        };
        let mut bytes = 0usize;
        for op in ops {
            if batch.jobs.len() >= PUSH_MAX || bytes >= PUSH_BYTES {
                break;
            }
            batch.after = op.seq;
            match keys.get(&op.case) {
                Some(Some(key)) => {
                    bytes += op.payload.len() + SEAL_OVERHEAD;
                    batch.jobs.push((key.clone(), op));
                }
                _ => batch.refusals.push((
                    op.op,
                    "not_writable".into(),
                    "this case belongs to another team and is shared read-only".into(),
                )),
            }
        }
        Ok(batch)
    }

    /// Records the server's answers for queued envelopes; returns the ids done with.
    fn queued_results(
        &mut self,
        round: &mut Round<'_>,
        queued: &[QueuedEnvelope],
        results: &[PushResult],
    ) -> Result<Vec<[u8; 16]>, DeviceError> {
        if results.len() != queued.len() {
            return Err(answers_mismatch(results.len(), queued.len()));
        }
        let mut done = Vec::new();
        for (q, r) in queued.iter().zip(results) {
            match r {
                PushResult::Accepted { .. } | PushResult::Duplicate { .. } => {
                    round.report.envelopes_sent += 1;
                    done.push(q.id);
                }
                PushResult::Rejected { code, .. } if code == "epoch_taken" => {
                    self.store.drop_local_case_key(q.case, q.epoch)?;
                }
                PushResult::Rejected { .. } => {
                    // A slot, grant or snapshot the server will never take: drop it (the
                    // records it concerns stay here; a missing key is made again).
                    done.push(q.id);
                    round.report.invalid += 1;
                }
            }
        }
        Ok(done)
    }

    /// Records the server's answers for a batch of changes (acknowledged, or refused with its
    /// reason). Returns whether a change was refused for a stale key (pull, then seal again).
    fn record_changes(
        &mut self,
        round: &mut Round<'_>,
        batch: Prepared,
        resp: PushResponse,
    ) -> Result<bool, DeviceError> {
        if resp.results.len() != batch.ops.len() {
            return Err(answers_mismatch(resp.results.len(), batch.ops.len()));
        }
        let mut refusals = batch.refusals;
        let mut acked = Vec::new();
        let mut retry = false;
        for (op, r) in batch.ops.iter().zip(resp.results) {
            match r {
                PushResult::Accepted { .. } => {
                    round.report.pushed += 1;
                    acked.push(*op);
                }
                PushResult::Duplicate { .. } => {
                    round.report.duplicates += 1;
                    acked.push(*op);
                }
                PushResult::Rejected { code, .. }
                    if code == "stale_key" || code == "unknown_case" =>
                {
                    round.report.resealed += 1;
                    retry = true;
                }
                PushResult::Rejected { code, message } => {
                    round.report.refused += 1;
                    refusals.push((*op, code, message));
                }
            }
        }
        self.store
            .record_push(&acked, &refusals, &[], &now_rfc3339())?;
        Ok(retry)
    }

    // ----- snapshots --------------------------------------------------------------------

    /// Seals a snapshot of each case of this team with enough change sets since its last one,
    /// when nothing is pending or held (so `covers` is honest).
    fn seal_snapshots(&mut self, round: &mut Round<'_>, epoch: u32) -> Result<u64, DeviceError> {
        let counts = self.store.sync_counts()?;
        if counts.pending > 0 || counts.held > 0 {
            return Ok(0);
        }
        let covers = self.meta_u64(CURSOR)?;
        // Sealed snapshots are queued in the store every SNAPSHOT_QUEUE_BYTES, so memory stays
        // bounded however many cases are due (hundreds after a long history: a tablet would
        // not hold them all at once).
        let mut queued = Vec::new();
        let mut cases = Vec::new();
        let mut bytes = 0usize;
        let mut made = 0u64;
        for case in self.store.cases_due_for_snapshot(SNAPSHOT_MIN_OPS)? {
            let Some(key) = self.store.case_keys_of(case)?.last().cloned() else {
                continue;
            };
            if key.team != round.enrollment.team || key.team_epoch != epoch {
                continue;
            }
            let plain = self.store.case_snapshot(case)?;
            if plain.len() > MAX_SNAPSHOT {
                // Too large for one push request: the case stays on the change log.
                continue;
            }
            let id: [u8; 16] = random_array()?;
            let body = seal_envelope(
                &round.identity.sig,
                *round.enrollment.device.as_bytes(),
                &key,
                Kind::Snapshot,
                id,
                Aux::Snapshot { covers },
                &plain,
            )?;
            bytes += body.len();
            queued.push(QueuedEnvelope {
                id,
                case,
                epoch: key.epoch,
                body,
            });
            cases.push(case);
            if bytes >= SNAPSHOT_QUEUE_BYTES {
                made += self.queue_sealed(&mut cases, &mut queued)?;
                bytes = 0;
            }
        }
        made += self.queue_sealed(&mut cases, &mut queued)?;
        round.report.snapshots_made += made;
        Ok(made)
    }

    /// Queues sealed snapshots for push (one transaction) and empties the buffers.
    fn queue_sealed(
        &mut self,
        cases: &mut Vec<EntityId>,
        queued: &mut Vec<QueuedEnvelope>,
    ) -> Result<u64, DeviceError> {
        let n = queued.len() as u64;
        if n > 0 {
            self.store.queue_snapshots(cases, queued)?;
        }
        cases.clear();
        queued.clear();
        Ok(n)
    }
}

/// An outbox batch read and keyed, to be sealed. Empty (no job, no refusal) when the outbox
/// is empty past `after`: the first op read is always taken.
struct ToSeal {
    /// Op-log position of the last op taken.
    after: i64,
    /// Each change with the key it is sealed under.
    jobs: Vec<(CaseKeyRow, tsunagi_store::OutboxOp)>,
    /// Changes refused here (read-only shared cases).
    refusals: Vec<(OpId, String, String)>,
    author: [u8; 16],
    /// DevSig, shared with the sealing thread.
    sig: Arc<SigKey>,
}

impl ToSeal {
    /// Seals every change on a blocking thread (the async task, and the connection posting
    /// the previous batch, go on meanwhile).
    async fn sealed(self) -> Result<Prepared, DeviceError> {
        let ToSeal {
            after,
            jobs,
            refusals,
            author,
            sig,
        } = self;
        let (ops, bodies) = tokio::task::spawn_blocking(move || {
            let mut ops = Vec::with_capacity(jobs.len());
            let mut bodies = Vec::with_capacity(jobs.len());
            for (key, op) in &jobs {
                let id = *op.op.as_uuid().as_bytes();
                bodies.push(seal_envelope(
                    &sig,
                    author,
                    key,
                    Kind::Change,
                    id,
                    Aux::None,
                    &op.payload,
                )?);
                ops.push(op.op);
            }
            Ok::<_, DeviceError>((ops, bodies))
        })
        .await
        .unwrap_or_else(|e| {
            // A panic while sealing stays a panic, as when sealing ran on this task; the task
            // is cancelled only when the runtime shuts down, with this sync.
            std::panic::resume_unwind(e.into_panic())
        })?;
        Ok(Prepared {
            after,
            ops,
            bodies,
            refusals,
        })
    }
}

/// An outbox batch sealed and ready to post (empty: the outbox is empty past `after`).
struct Prepared {
    after: i64,
    /// The ops sealed, in the order of `bodies`.
    ops: Vec<OpId>,
    bodies: Vec<Vec<u8>>,
    refusals: Vec<(OpId, String, String)>,
}

/// Seals one envelope: the payload under the case key (header as AAD), signed with DevSig.
fn seal_envelope(
    sig: &SigKey,
    author: [u8; 16],
    key: &CaseKeyRow,
    kind: Kind,
    id: [u8; 16],
    aux: Aux,
    plain: &[u8],
) -> Result<Vec<u8>, DeviceError> {
    let mut env = Envelope {
        kind,
        id,
        case: *key.case.as_uuid().as_bytes(),
        epoch: key.epoch,
        key_id: key.key_id,
        author,
        aux,
        nonce: [0; 12],
        ct: Vec::new(),
        sig: [0; 64],
    };
    let (nonce, ct) = seal_payload(&key.key, &id, &env.aad(), plain)?;
    env.nonce = nonce;
    env.ct = ct;
    env.sign(sig);
    Ok(env.encode())
}

async fn post_batch(client: &Client, bodies: &[Vec<u8>]) -> Result<PushResponse, DeviceError> {
    let bytes = client
        .send_bytes("POST", "/v1/sync/push", wire::encode_batch(bodies))
        .await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| DeviceError::Server(ClientError::Protocol(e.to_string())))
}

fn answers_mismatch(results: usize, sent: usize) -> DeviceError {
    DeviceError::Server(ClientError::Protocol(format!(
        "{results} results for {sent} envelopes"
    )))
}

/// When to try again: exponential backoff with jitter after failures, a steady interval after
/// success. Pure (the caller sleeps), so the app and the CLI share it and it is tested.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Wait after a success.
    pub interval: std::time::Duration,
    /// First wait after a failure.
    pub base: std::time::Duration,
    /// Longest wait.
    pub max: std::time::Duration,
    failures: u32,
}

impl Backoff {
    /// A schedule.
    pub fn new(
        interval: std::time::Duration,
        base: std::time::Duration,
        max: std::time::Duration,
    ) -> Backoff {
        Backoff {
            interval,
            base,
            max,
            failures: 0,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The wait after a round: `interval` after a success; after the n-th failure in a row,
    /// `min(max, base · 2^(n-1))` scaled by a jitter factor in [0.5, 1.5) (from `jitter`, a
    /// uniform draw in [0, 1)), so devices that lost the network together do not return
    /// together.
    pub fn next(&mut self, success: bool, jitter: f64) -> std::time::Duration {
        if success {
            self.failures = 0;
            return self.interval;
        }
        self.failures = self.failures.saturating_add(1);
        let exp = self.failures.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        raw.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
    }
}

impl Device {
    /// Background sync: a round now, then again after the backoff's wait, until `rounds`
    /// rounds ran (None: until `stop` says so). Each round's outcome is recorded for the
    /// status; `on_round` sees each result (the CLI prints it).
    pub async fn sync_loop<K: Keystore>(
        &mut self,
        keystore: &K,
        backoff: &mut Backoff,
        rounds: Option<u64>,
        stop: impl Fn() -> bool,
        mut on_round: impl FnMut(&Result<SyncReport, DeviceError>, std::time::Duration),
    ) {
        let mut n = 0u64;
        loop {
            let result = self.sync(keystore).await;
            let jitter = random_array::<8>()
                .map(|b| (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64)
                .unwrap_or(0.5);
            let wait = backoff.next(result.is_ok(), jitter);
            on_round(&result, wait);
            n += 1;
            if rounds.is_some_and(|r| n >= r) || stop() {
                return;
            }
            tokio::time::sleep(wait).await;
            if stop() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_resets_on_success() {
        let mut b = Backoff::new(
            Duration::from_secs(30),
            Duration::from_secs(2),
            Duration::from_secs(300),
        );
        assert_eq!(b.next(false, 0.5), Duration::from_secs(2));
        assert_eq!(b.next(false, 0.5), Duration::from_secs(4));
        assert_eq!(b.next(false, 0.5), Duration::from_secs(8));
        assert_eq!(b.failures(), 3);
        // Jitter spans half to one and a half times.
        let mut c = b.clone();
        assert_eq!(c.next(false, 0.0), Duration::from_secs(8));
        let mut d = b.clone();
        assert!(d.next(false, 0.999) > Duration::from_secs(23));
        for _ in 0..30 {
            b.next(false, 0.5);
        }
        assert_eq!(b.next(false, 0.5), Duration::from_secs(300));
        assert_eq!(b.next(true, 0.9), Duration::from_secs(30));
        assert_eq!(b.failures(), 0);
        assert_eq!(b.next(false, 0.5), Duration::from_secs(2));
    }
}

//! The device's sync engine (docs/protocol.md): pull pages (verify, open, merge, cursor in one
//! store transaction each), re-seal case keys after a team key rotation, push the outbox
//! (sealing each change set under its case key at push time), seal snapshots when due, and a
//! status the app can show. A crash at any point neither loses nor duplicates anything: each
//! step's effects and its progress marker are one store transaction, and the server answers a
//! repeated push with `duplicate`.
//!
//! It lives in `crates/device`, not `crates/protocol`: it decrypts, and `crates/protocol` is
//! shared with the server, which must not compile a decrypting function.
//!
//! This file is the round (`Device::sync`: keys, pull, re-seal, push, snapshots) and what its
//! steps share; each step is a module of its own.

mod backoff;
mod keys;
pub mod payload;
mod progress;
mod pull;
mod push;
pub mod snapshot_payload;
mod snapshots;
mod status;

use chrono::Utc;
use serde::Serialize;
use std::collections::HashMap;
use tsunagi_core::ids::EntityId;
use tsunagi_crypto::identity::SigPublic;
use tsunagi_protocol::client::Client;
use tsunagi_store::CaseKeyRow;
use tsunagi_store::keys::Keystore;
use uuid::Uuid;

use crate::api::SyncPhase;
use crate::enroll::{Enrollment, Identity};
use crate::{Device, DeviceError};

pub use backoff::{Backoff, SyncRound};
pub use progress::ProgressBoard;
pub use snapshots::SNAPSHOT_MIN_OPS;
pub use status::{IntegrityProblem, MissingFrom, SyncErrorView, SyncStatus, SyncStatusState};

/// Meta keys of the sync state.
const CURSOR: &str = "sync.cursor";
const LAST_ATTEMPT: &str = "sync.last_attempt";
const LAST_SUCCESS: &str = "sync.last_success";
const LAST_ERROR: &str = "sync.last_error";

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
    /// A fresh device: the worker's own cases, taken first.
    pub own_cases: u64,
    /// Envelopes waiting for a key.
    pub held: u64,
    /// Envelopes refused as invalid in this round (forks included).
    pub invalid: u64,
    /// Change sets refused as forks of their author's chain in this round (a second change at
    /// a known place, or one contradicting a known link), and snapshot heads contradicting a
    /// known link.
    pub forks: u64,
    /// Change sets already here that the server sent again under another sequence number
    /// (applied as nothing).
    pub replayed: u64,
    /// Envelopes refused because their author, revoked by IT, dated them after the revocation
    /// (`revoked_author`; kept aside with the other refusals).
    pub revoked: u64,
    /// Pull pages refused whole: going back before what this device has (`cursor_rollback`)
    /// or out of the log's order (`out_of_order`). Nothing more is pulled in that round.
    pub pages_refused: u64,
    /// After the round: changes known to exist (a later change of their author in the same
    /// case arrived) that have not arrived, over all authors and cases.
    pub missing: u64,
    /// Case keys made here.
    pub keys_made: u64,
    /// Snapshots sealed here.
    pub snapshots_made: u64,
    /// The cursor after the round.
    pub cursor: u64,
    /// What the key directory held that this device refused (a rolled-back or forged team
    /// statement, a slot beyond the statement's epoch, a substituted key), in words for IT.
    pub key_warnings: Vec<String>,
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

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A verified author.
#[derive(Clone)]
struct Author {
    key: SigPublic,
    team: String,
    /// When IT revoked the device (ms since the epoch), by the first signed team statement
    /// this device took that lists it as revoked; `None` while it is not revoked.
    revoked_at: Option<u64>,
}

/// State of one round.
struct Round<'a> {
    client: &'a Client,
    enrollment: &'a Enrollment,
    identity: &'a Identity,
    authors: HashMap<Uuid, Author>,
    /// Other teams whose statement was taken in this round (for their revocations).
    teams_checked: std::collections::BTreeSet<String>,
    /// Envelopes refused in this round as `revoked_author` (a case's history fetched after a
    /// grant brings them again): each is counted once.
    revoked_seen: std::collections::BTreeSet<u64>,
    /// Case keys opened in this page, before the page's transaction stores them.
    page_keys: HashMap<([u8; 16], u32), CaseKeyRow>,
    /// Cases granted to this device's team in this round: their history is fetched.
    backfill: Vec<EntityId>,
    /// Cases whose history was fetched in this round (a fetched history holds the grant again).
    backfilled: std::collections::BTreeSet<EntityId>,
    /// A pull page was refused whole in this round: nothing more is pulled.
    page_refused: bool,
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
                revoked_at: None,
            },
        );
        Round {
            client,
            enrollment,
            identity,
            authors,
            teams_checked: std::collections::BTreeSet::new(),
            revoked_seen: std::collections::BTreeSet::new(),
            page_keys: HashMap::new(),
            backfill: Vec::new(),
            backfilled: std::collections::BTreeSet::new(),
            page_refused: false,
            report: SyncReport::default(),
        }
    }

    /// Adds what committing a page did to the report.
    fn count(&mut self, c: tsunagi_store::PageCounts) {
        self.report.applied += c.applied as u64;
        self.report.replayed += c.replayed as u64;
        self.report.forks += c.forks as u64;
        self.report.invalid += c.forks as u64;
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
        self.step(SyncPhase::Keys, 0);
        self.announce_round()?;
        let result = self.sync_round(keystore).await;
        if let Some(p) = &self.progress {
            p.clear();
        }
        match &result {
            Ok(_) => {
                self.store
                    .set_metas(&[(LAST_SUCCESS, &started), (LAST_ERROR, "")])?;
                // A round the server accepted is a check-in: the offline key lease runs anew.
                self.renew_lease(keystore)?;
            }
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
        let keys = self
            .refresh_keys_with(&client, &enrollment, &identity)
            .await?;
        let mut round = Round::new(&client, &enrollment, &identity);
        round.report.key_warnings = keys.refused;
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
        self.step(SyncPhase::Compact, 0);
        if self.seal_snapshots(&mut round, epoch)? > 0 {
            self.push_all(&mut round, epoch).await?;
        }
        round.report.steps.snapshots_ms = ms_since(t);
        self.observe_clock()?;
        round.report.cursor = self.meta_u64(CURSOR)?;
        round.report.held = self.store.sync_counts()?.held;
        round.report.missing = self.store.chain_gaps()?.iter().map(|g| g.missing).sum();
        round.report.steps.total_ms = ms_since(start);
        Ok(round.report)
    }

    fn meta_u64(&self, key: &str) -> Result<u64, DeviceError> {
        Ok(self
            .store
            .meta(key)?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }
}

/// A record of the store codec's tag 1 (raw deflate), as devices wrote payloads before zstd
/// (tests of what is still read).
#[cfg(test)]
fn deflated<T: Serialize>(value: &T) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(
        vec![tsunagi_store::codec::DEFLATE_JSON],
        flate2::Compression::new(2),
    );
    enc.write_all(&serde_json::to_vec(value).expect("JSON"))
        .expect("in memory");
    enc.finish().expect("in memory")
}

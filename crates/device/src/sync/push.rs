//! Sending: the pipelined push of the outbox (queued slots, grants and snapshots first; then,
//! while one batch of changes travels, the answers to the one before are recorded and the next
//! is read and sealed on a blocking thread), and sealing one envelope.

use std::collections::BTreeMap;
use std::sync::Arc;
use tsunagi_core::ids::{EntityId, OpId};
use tsunagi_crypto::case::seal_payload;
use tsunagi_crypto::identity::SigKey;
use tsunagi_protocol::client::{Client, ClientError};
use tsunagi_protocol::wire::{self, Aux, Envelope, Kind, PushResponse, PushResult};
use tsunagi_store::{CaseKeyRow, QueuedEnvelope};

use super::{Round, now_rfc3339, payload};
use crate::api::SyncPhase;
use crate::{Device, DeviceError};

/// Envelopes per push request, and bytes (the server takes 1000 and 4 MiB).
const PUSH_MAX: usize = 1000;
const PUSH_BYTES: usize = 2 * 1024 * 1024;
/// What sealing adds to a payload: header (74 bytes with an empty aux), nonce, length, tag
/// and signature (docs/protocol.md "Envelope").
const SEAL_OVERHEAD: usize = 74 + 12 + 4 + 16 + 64;

impl Device {
    /// Pushes the queue and the outbox until the server has answered for everything.
    ///
    /// Queued envelopes (case-key slots, grants, snapshots) travel first, in requests of their
    /// own, so a change never reaches the server before the slot of its key. Outbox changes are
    /// pipelined: while one batch travels and the server checks it, the answers to the batch
    /// before are recorded and the next batch is read and sealed (on a blocking thread).
    pub(super) async fn push_all(
        &mut self,
        round: &mut Round<'_>,
        epoch: u32,
    ) -> Result<(), DeviceError> {
        let client = round.client;
        // DevSig for the sealing thread: one copy per push (zeroized on drop, as the original).
        let sig = Arc::new(SigKey::from_seed(&*round.identity.sig.seed())?);
        let mut after = 0i64;
        let mut retries = 0;
        let mut ready: Option<Prepared> = None;
        // A batch the server answered, recorded while the next one travels.
        let mut answered: Option<(Prepared, PushResponse)> = None;
        self.step(
            SyncPhase::Push,
            self.store.outbox_len()? + self.store.sync_counts()?.pending_keys,
        );
        for _ in 0..100_000 {
            self.step_done(
                round.report.pushed
                    + round.report.duplicates
                    + round.report.refused
                    + round.report.envelopes_sent,
            );
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
        let mut ops = self.store.outbox_batch(after, PUSH_MAX)?;
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
        // Each change sealed for the first time takes the next place in this device's chain
        // of its case, recorded before it is sealed: sealed again later (a crash before the
        // push was recorded, a lost key race, a key rotation) it keeps that place.
        let unplaced: Vec<(OpId, EntityId)> = ops
            .iter()
            .filter(|op| op.chain.is_none() && matches!(keys.get(&op.case), Some(Some(_))))
            .map(|op| (op.op, op.case))
            .collect();
        if !unplaced.is_empty() {
            let placed = self
                .store
                .assign_chain(round.enrollment.device, &unplaced)?;
            let mut placed = unplaced.iter().map(|u| u.0).zip(placed);
            let mut next = placed.next();
            for op in &mut ops {
                if let Some((id, pos)) = next
                    && id == op.op
                {
                    op.chain = Some(pos);
                    next = placed.next();
                }
            }
        }
        let mut bytes = 0usize;
        for op in ops {
            if batch.jobs.len() >= PUSH_MAX || bytes >= PUSH_BYTES {
                break;
            }
            batch.after = op.seq;
            match keys.get(&op.case) {
                Some(Some(key)) => {
                    // Each op goes out as its op-log row (payload format 3): the stored body is
                    // copied, not decompressed and compressed again.
                    let op = Outgoing {
                        payload: payload::of_outbox(&op)?,
                        op: op.op,
                    };
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
                PushResult::Accepted { seq } => {
                    round.report.pushed += 1;
                    acked.push((*op, Some(seq)));
                }
                PushResult::Duplicate { seq } => {
                    round.report.duplicates += 1;
                    acked.push((*op, Some(seq)));
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
            .record_push_at(&acked, &refusals, &[], &now_rfc3339())?;
        Ok(retry)
    }
}

/// A local op waiting to be pushed, with the plaintext to seal.
struct Outgoing {
    /// Its op id.
    op: OpId,
    /// The plaintext to seal ([`payload`], format 2: the op-log row as stored).
    payload: Vec<u8>,
}

/// An outbox batch read and keyed, to be sealed. Empty (no job, no refusal) when the outbox
/// is empty past `after`: the first op read is always taken.
struct ToSeal {
    /// Op-log position of the last op taken.
    after: i64,
    /// Each change with the key it is sealed under.
    jobs: Vec<(CaseKeyRow, Outgoing)>,
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
pub(super) fn seal_envelope(
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

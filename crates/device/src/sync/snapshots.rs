//! Sealing snapshots: a case's merged state, sealed when enough change sets arrived since its
//! last one, so a fresh device catches up without replaying the whole log.

use tsunagi_core::ids::EntityId;
use tsunagi_crypto::random_array;
use tsunagi_protocol::wire::{Aux, Kind};
use tsunagi_store::QueuedEnvelope;

use super::push::seal_envelope;
use super::{CURSOR, Round, snapshot_payload};
use crate::{Device, DeviceError};

/// A device seals a snapshot of a case after this many change sets since the last one.
pub const SNAPSHOT_MIN_OPS: u64 = 100;
/// Largest snapshot payload sealed (the server takes 4 MiB per push request).
const MAX_SNAPSHOT: usize = 3 * 1024 * 1024;
/// Sealed snapshots are written to the push queue every this many bytes (bounded memory).
const SNAPSHOT_QUEUE_BYTES: usize = 16 * 1024 * 1024;

impl Device {
    /// Seals a snapshot of each case of this team with enough change sets since its last one,
    /// when nothing is pending or held (so `covers` is honest).
    pub(super) fn seal_snapshots(
        &mut self,
        round: &mut Round<'_>,
        epoch: u32,
    ) -> Result<u64, DeviceError> {
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
            let plain = snapshot_payload::of_case(&self.store, case)?;
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

//! The one place the harness calls the device sync engine (crates/device/src/sync/): a sync
//! round, what is still to send, and a contact correction.

use tsunagi_core::ids::ContactId;
use tsunagi_device::api::ContactEditForm;
use tsunagi_device::{Device, Keystore, SyncReport, SyncSteps};

/// What one or more sync rounds did (the sum of their [`SyncReport`]s).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Round {
    /// Change sets the server accepted.
    pub pushed: u64,
    /// Change sets the server refused.
    pub refused: u64,
    /// Case-key slots, grants and snapshots sent.
    pub envelopes_sent: u64,
    /// Envelopes received.
    pub pulled: u64,
    /// Change sets newly applied.
    pub applied: u64,
    /// Snapshots received and merged.
    pub snapshots_applied: u64,
    /// Snapshots sealed.
    pub snapshots_made: u64,
    /// Envelopes refused as invalid.
    pub invalid: u64,
    /// Where the rounds' time went (milliseconds, summed).
    pub steps: SyncSteps,
}

impl From<&SyncReport> for Round {
    fn from(r: &SyncReport) -> Round {
        Round {
            pushed: r.pushed,
            refused: r.refused,
            envelopes_sent: r.envelopes_sent,
            pulled: r.pulled,
            applied: r.applied,
            snapshots_applied: r.snapshots_applied,
            snapshots_made: r.snapshots_made,
            invalid: r.invalid,
            steps: r.steps,
        }
    }
}

impl std::ops::AddAssign for Round {
    fn add_assign(&mut self, o: Round) {
        self.pushed += o.pushed;
        self.refused += o.refused;
        self.envelopes_sent += o.envelopes_sent;
        self.pulled += o.pulled;
        self.applied += o.applied;
        self.snapshots_applied += o.snapshots_applied;
        self.snapshots_made += o.snapshots_made;
        self.invalid += o.invalid;
        self.steps += o.steps;
    }
}

/// The steps as report fields, `{prefix}{step}_ms`.
pub fn step_fields(prefix: &str, s: &SyncSteps) -> Vec<(String, f64)> {
    s.named()
        .into_iter()
        .map(|(k, v)| (format!("{prefix}{k}_ms"), v))
        .collect()
}

/// One full round (`Device::sync`): refresh keys, pull, push the outbox, seal due snapshots.
/// A round that the server refused something in, or that received an invalid envelope, fails.
pub async fn sync_round<K: Keystore>(device: &mut Device, keystore: &K) -> anyhow::Result<Round> {
    let report = device.sync(keystore).await?;
    anyhow::ensure!(
        report.refused == 0 && report.invalid == 0,
        "CHECK FAILED: a sync round refused {} change sets and received {} invalid envelopes",
        report.refused,
        report.invalid
    );
    Ok(Round::from(&report))
}

/// Records, key slots, grants and snapshots not yet acknowledged by the server
/// (`Device::sync_status`: `pending + pending_keys`).
pub fn pending(device: &Device) -> anyhow::Result<u64> {
    let s = device.sync_status()?;
    Ok(s.pending + s.pending_keys)
}

/// A correction of a contact (`Device::edit_contact`): new outcome and note.
pub fn edit_contact(
    device: &mut Device,
    id: ContactId,
    outcome: &str,
    note: &str,
) -> anyhow::Result<()> {
    let edit = ContactEditForm {
        id: id.to_string(),
        outcome: Some(outcome.to_owned()),
        note: Some(note.to_owned()),
        ..ContactEditForm::default()
    };
    Ok(device.edit_contact(&edit)?)
}

//! The one place the harness calls the device sync engine (crates/device/src/sync.rs): a sync
//! round, the pending count, and a contact correction.

use tsunagi_core::ids::ContactId;
use tsunagi_device::{Device, Keystore};

/// What one sync round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Change sets pushed.
    pub pushed: u64,
    /// Envelopes pulled.
    pub pulled: u64,
    /// Pulled changes applied.
    pub applied: u64,
}

impl std::ops::AddAssign for Round {
    fn add_assign(&mut self, o: Round) {
        self.pushed += o.pushed;
        self.pulled += o.pulled;
        self.applied += o.applied;
    }
}

/// One full round (`Device::sync`): refresh keys, pull, push the outbox, seal due snapshots.
pub async fn sync_round<K: Keystore>(device: &mut Device, keystore: &K) -> anyhow::Result<Round> {
    let _ = (device, keystore);
    anyhow::bail!("the device sync engine (Device::sync) is not on main yet")
}

/// Local changes not yet acknowledged by the server (`Device::sync_status().pending`).
pub fn pending(device: &Device) -> anyhow::Result<u64> {
    Ok(device.pending()?)
}

/// A correction of a contact (`Device::edit_contact`): new outcome and note.
pub fn edit_contact(
    device: &mut Device,
    id: ContactId,
    outcome: &str,
    note: &str,
) -> anyhow::Result<()> {
    let _ = (device, id, outcome, note);
    anyhow::bail!("Device::edit_contact is not on main yet")
}

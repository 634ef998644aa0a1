//! The offline key lease (docs/security.md, "The lost tablet"): a device that has not reached its
//! server for the period IT set keeps its store closed, even with the right PIN, until it checks
//! in — one request signed with its identity key that the server accepts. The time of the last
//! such exchange lives in the vault's keystore entry (readable before the store opens); the sync's
//! successful rounds, enrollment and a check-in renew it.

use std::path::Path;
use tsunagi_crypto::StoreKey;
use tsunagi_protocol::api::EnrollmentBundle;
use tsunagi_store::keys::{DEFAULT_LEASE_DAYS, KeyError, Keystore, Lease, Vault};

use crate::settings::Settings;
use crate::{Device, DeviceError};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Refuses a bundle whose device policy is outside what a device accepts (a shorter PIN than
/// 6 digits, a lease outside 1–90 days).
pub(crate) fn check_bundle_policy(bundle: &EnrollmentBundle) -> Result<(), DeviceError> {
    if !(EnrollmentBundle::MIN_PIN_DIGITS..=EnrollmentBundle::MAX_PIN_DIGITS)
        .contains(&bundle.pin_min_digits)
    {
        return Err(DeviceError::Bundle(format!(
            "pin_min_digits {} is outside {}–{}",
            bundle.pin_min_digits,
            EnrollmentBundle::MIN_PIN_DIGITS,
            EnrollmentBundle::MAX_PIN_DIGITS
        )));
    }
    if !(1..=EnrollmentBundle::MAX_LEASE_DAYS).contains(&bundle.lease_days) {
        return Err(DeviceError::Bundle(format!(
            "lease_days {} is outside 1–{}",
            bundle.lease_days,
            EnrollmentBundle::MAX_LEASE_DAYS
        )));
    }
    Ok(())
}

impl Device {
    /// After enrolling: the vault keeps IT's shortest PIN (checked before the store opens)
    /// and the lease starts now (the enrollment was a signed exchange with the server).
    pub(crate) fn enrolled_policy<K: Keystore>(&self, keystore: &K) -> Result<(), DeviceError> {
        let Some(e) = self.enrollment()? else {
            return Ok(());
        };
        if self.settings.store_id.is_empty() {
            // A device over a store its caller keyed (tools): no vault.
            return Ok(());
        }
        let vault = self.vault(keystore);
        vault.set_pin_min_digits(e.pin_min_digits)?;
        vault.renew_lease(now_ms(), e.lease_days)?;
        Ok(())
    }

    /// This device's vault.
    pub(crate) fn vault<'k, K: Keystore>(&self, keystore: &'k K) -> Vault<'k, K> {
        Vault::new(keystore, &self.settings.store_id, self.dir())
    }

    /// Records a successful signed exchange with the server now: the lease runs IT's period
    /// (from the enrollment) from here. Nothing to do for a device without a vault entry.
    pub(crate) fn renew_lease<K: Keystore>(
        &self,
        keystore: &K,
    ) -> Result<Option<Lease>, DeviceError> {
        if self.settings.store_id.is_empty() {
            return Ok(None);
        }
        let days = self
            .enrollment()?
            .map_or(DEFAULT_LEASE_DAYS, |e| e.lease_days);
        Ok(Some(self.vault(keystore).renew_lease(now_ms(), days)?))
    }

    /// Checks the lease of the device in `dir` now: `Err(KeyError::LeaseExpired)` when it has
    /// run out (or the clock is earlier than the last check-in). A device that never enrolled
    /// has no lease.
    pub fn check_lease<K: Keystore>(dir: &Path, keystore: &K) -> Result<(), DeviceError> {
        let settings = Settings::load(dir)?;
        if let Some(lease) = Vault::new(keystore, &settings.store_id, dir).lease()? {
            lease.check(now_ms())?;
        }
        Ok(())
    }

    /// The store key of the device in `dir` from its PIN (counted in the vault), without
    /// opening the store or looking at the lease: the first half of [`Device::open`], for a
    /// front end that may need to [`Device::check_in`] with it.
    pub fn unlock_key<K: Keystore>(
        dir: &Path,
        pin: Option<&tsunagi_store::keys::Pin>,
        keystore: &K,
    ) -> Result<StoreKey, DeviceError> {
        let settings = Settings::load(dir)?;
        Ok(Vault::new(keystore, &settings.store_id, dir).unlock(pin)?)
    }

    /// Opens the device in `dir` with its store key if its lease holds.
    pub fn open_with_key<K: Keystore>(
        dir: &Path,
        key: &StoreKey,
        keystore: &K,
    ) -> Result<Device, DeviceError> {
        Device::check_lease(dir, keystore)?;
        Device::open_store(dir, Settings::load(dir)?, key)
    }

    /// Checks in with the server: unseals the identity keys with the store key, makes one
    /// signed request (the key directory, which also brings any new team key), and on success
    /// renews the lease and returns the opened device. A revoked device is refused by the
    /// server (`revoked`) and stays closed; nothing is deleted either way.
    pub async fn check_in<K: Keystore>(
        dir: &Path,
        key: &StoreKey,
        keystore: &K,
    ) -> Result<Device, DeviceError> {
        let mut device = Device::open_store(dir, Settings::load(dir)?, key)?;
        device.refresh_keys(keystore).await?;
        device.renew_lease(keystore)?;
        Ok(device)
    }
}

/// Whether an error is the lease running out (the PIN was right).
pub(crate) fn is_lease_expired(e: &DeviceError) -> bool {
    matches!(e, DeviceError::Key(KeyError::LeaseExpired { .. }))
}

//! What the admin key signs: device certificates and team-key slots (docs/identity.md,
//! *Formats*), and the slot sets of an approval and of a rotation. No IO.

use tsunagi_crypto::identity::{
    KemKey, KemPublic, SigKey, SigPublic, Signature, SlotContext, TeamKey, open_team_key,
    seal_team_key,
};
use tsunagi_protocol::api::{DeviceCert, DeviceInfo, KeySlot};
use uuid::Uuid;

use crate::error::AdminError;

/// The recipient name of the org recovery key's slots.
pub const ORG: &str = "org";
/// The signer name of the admin key.
pub const ADMIN: &str = "admin";

/// Seals `tk` for `recipient` (`"org"` or a device id) and signs the slot with the admin key.
pub fn admin_slot(
    admin: &SigKey,
    team: &str,
    epoch: u32,
    recipient: &str,
    to: &KemPublic,
    tk: &TeamKey,
) -> Result<KeySlot, AdminError> {
    let ctx = SlotContext {
        team,
        epoch,
        recipient,
    };
    let sealed = seal_team_key(to, tk, &ctx)?;
    let mut slot = KeySlot {
        team: team.to_owned(),
        epoch,
        recipient: recipient.to_owned(),
        enc: sealed.enc,
        ct: sealed.ct,
        signer: ADMIN.to_owned(),
        sig: Vec::new(),
    };
    slot.sig = admin.sign(&slot.signed_message()).0.to_vec();
    Ok(slot)
}

/// The admin-signed certificate of a pending device, from what the server reports of it.
pub fn device_cert(
    admin: &SigKey,
    device: &DeviceInfo,
    issued_at: &str,
) -> Result<DeviceCert, AdminError> {
    // Refuse keys that are not keys before signing anything about them.
    SigPublic::from_bytes(&device.sig_pub)?;
    KemPublic::from_bytes(&device.kem_pub)?;
    let mut cert = DeviceCert {
        device: device.id,
        user: device.user,
        user_name: device.user_name.clone(),
        team: device.team.clone(),
        role: device.role,
        sig_pub: device.sig_pub.clone(),
        kem_pub: device.kem_pub.clone(),
        issued_at: issued_at.to_owned(),
        signer: ADMIN.to_owned(),
        sig: Vec::new(),
    };
    cert.sig = admin.sign(&cert.signed_message()).0.to_vec();
    Ok(cert)
}

/// Opens the team's current key from its `"org"` slot with ORK, after checking that the slot
/// is the one asked for and that the admin key signed it (a server cannot slip in a key of
/// its own choosing).
pub fn open_org_slot(
    slot: &KeySlot,
    team: &str,
    epoch: u32,
    admin_pub: &SigPublic,
    ork: &KemKey,
) -> Result<TeamKey, AdminError> {
    if slot.team != team || slot.epoch != epoch || slot.recipient != ORG || slot.signer != ADMIN {
        return Err(AdminError::Untrusted(format!(
            "the org slot is for team {} epoch {} recipient {} signed by {}, expected team {team} epoch {epoch} recipient org signed by admin",
            slot.team, slot.epoch, slot.recipient, slot.signer
        )));
    }
    let sig = Signature::from_bytes(&slot.sig)
        .map_err(|_| AdminError::Untrusted("the org slot's signature is malformed".into()))?;
    admin_pub
        .verify(&slot.signed_message(), &sig)
        .map_err(|_| {
            AdminError::Untrusted("the org slot is not signed by this org's admin key".into())
        })?;
    open_team_key(ork, &slot.sealed(), &slot.context())
        .map_err(|_| AdminError::Untrusted("the org slot does not open with this org's ORK".into()))
}

/// The slots of an approval: the current key for the device; for a team without a key
/// (`current` is `None`), a new key of epoch 1 for the device and for `"org"`.
/// Returns the epoch and the slots.
pub fn approval_slots(
    admin: &SigKey,
    team: &str,
    device: &Uuid,
    device_kem: &KemPublic,
    current: Option<(u32, &TeamKey)>,
    ork_pub: &KemPublic,
) -> Result<(u32, Vec<KeySlot>), AdminError> {
    let device_id = device.to_string();
    match current {
        Some((epoch, tk)) => Ok((
            epoch,
            vec![admin_slot(admin, team, epoch, &device_id, device_kem, tk)?],
        )),
        None => {
            let tk = TeamKey::generate()?;
            Ok((
                1,
                vec![
                    admin_slot(admin, team, 1, &device_id, device_kem, &tk)?,
                    admin_slot(admin, team, 1, ORG, ork_pub, &tk)?,
                ],
            ))
        }
    }
}

/// A rotation: a new random key of `epoch` sealed to exactly `members` (the team's remaining
/// active devices) and to `"org"`. No private key but the admin's signing key is needed.
pub fn rotation_slots(
    admin: &SigKey,
    team: &str,
    epoch: u32,
    members: &[(Uuid, KemPublic)],
    ork_pub: &KemPublic,
) -> Result<Vec<KeySlot>, AdminError> {
    let tk = TeamKey::generate()?;
    let mut slots = Vec::with_capacity(members.len() + 1);
    for (device, kem) in members {
        slots.push(admin_slot(
            admin,
            team,
            epoch,
            &device.to_string(),
            kem,
            &tk,
        )?);
    }
    slots.push(admin_slot(admin, team, epoch, ORG, ork_pub, &tk)?);
    Ok(slots)
}

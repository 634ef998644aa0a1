//! Case keys and envelope payloads (docs/protocol.md): CK[case, epoch] is 256 random bits,
//! HPKE-sealed (RFC 9180 base mode) to a team's epoch KEM key, which every holder of TK[team,
//! epoch] derives with RFC 9180 `DeriveKeyPair`; each change set or snapshot is sealed with
//! AES-256-GCM under HKDF-SHA256(CK, op id) (RFC 5869) with the envelope header as AAD.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeS, Serializable};
use sha2::Sha256;
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::identity::{KemKey, KemPublic, SealedKey, TeamKey, put_lp};
use crate::{CryptoError, random_array};

type HpkeKem = X25519HkdfSha256;
type HpkeKdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::AesGcm256;

/// A case key CK[person or household, epoch]: 256 random bits. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct CaseKey([u8; 32]);

impl CaseKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<CaseKey, CryptoError> {
        Ok(CaseKey(random_array()?))
    }

    /// From 32 bytes (kept inside the encrypted store).
    pub fn from_bytes(bytes: &[u8]) -> Result<CaseKey, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::Malformed("case key"))?;
        Ok(CaseKey(arr))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The AES-256-GCM key of one envelope: HKDF-SHA256 with the case key as input keying
    /// material, no salt, and `info` = label ‖ op id. A key is used for one envelope only.
    fn op_key(&self, op_id: &[u8; 16]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, &self.0);
        let mut out = Zeroizing::new([0u8; 32]);
        let mut info = b"tsunagi/op-key/v1".to_vec();
        info.extend_from_slice(op_id);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
        hk.expand(&info, out.as_mut())
            .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
        out
    }
}

impl fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CaseKey(..)")
    }
}

/// Seals an envelope payload: AES-256-GCM under the op key, a random 96-bit nonce, `aad` bound.
/// Returns (nonce, ciphertext with tag).
pub fn seal_payload(
    ck: &CaseKey,
    op_id: &[u8; 16],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<([u8; 12], Vec<u8>), CryptoError> {
    let key = ck.op_key(op_id);
    let cipher = Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::Rng)?;
    let nonce = random_array::<12>()?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Rng)?;
    Ok((nonce, ct))
}

/// Opens an envelope payload. Any mismatch (key, op id, AAD, nonce, ciphertext) is the opaque
/// [`CryptoError::DecryptionFailed`].
#[cfg(feature = "open")]
pub fn open_payload(
    ck: &CaseKey,
    op_id: &[u8; 16],
    aad: &[u8],
    nonce: &[u8; 12],
    ct: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let key = ck.op_key(op_id);
    let cipher =
        Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::DecryptionFailed)?;
    cipher
        .decrypt(&Nonce::from(*nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptionFailed)
}

/// The KEM key pair of TK[team, epoch]: RFC 9180 `DeriveKeyPair` for DHKEM(X25519,
/// HKDF-SHA256) from `ikm` = HKDF-SHA256(TK, info = label ‖ team ‖ epoch). Every holder of the
/// team key derives the same pair; the public half lets another team's member seal a case key
/// to this team without holding its team key.
pub fn team_kem(tk: &TeamKey, team: &str, epoch: u32) -> Result<KemKey, CryptoError> {
    let hk = Hkdf::<Sha256>::new(None, tk.as_bytes());
    let mut info = b"tsunagi/team-kem/v1".to_vec();
    put_lp(&mut info, team.as_bytes());
    info.extend_from_slice(&epoch.to_be_bytes());
    let mut ikm = Zeroizing::new([0u8; 32]);
    hk.expand(&info, ikm.as_mut())
        .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
    let (sk, _pk) = HpkeKem::derive_keypair(ikm.as_ref());
    let bytes = Zeroizing::new(sk.to_bytes().to_vec());
    KemKey::from_secret(&bytes)
}

/// What a case-key slot binds (the HPKE `info`): a slot moved to another case, epoch, key id
/// or team does not open.
#[derive(Debug, Clone, Copy)]
pub struct CaseKeyContext<'a> {
    /// Case (person or household) id.
    pub case: &'a [u8; 16],
    /// Case-key epoch.
    pub epoch: u32,
    /// The key's id (random, public; names this key among concurrent ones).
    pub key_id: &'a [u8; 16],
    /// Team the slot is sealed to.
    pub team: &'a str,
    /// That team's key epoch.
    pub team_epoch: u32,
}

impl CaseKeyContext<'_> {
    fn info(&self) -> Vec<u8> {
        let mut out = b"tsunagi/case-key/v1".to_vec();
        out.extend_from_slice(self.case);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(self.key_id);
        put_lp(&mut out, self.team.as_bytes());
        out.extend_from_slice(&self.team_epoch.to_be_bytes());
        out
    }
}

/// Seals a case key to a team's epoch KEM public key (RFC 9180 §6.1 single-shot, base mode).
pub fn seal_case_key(
    team_pub: &KemPublic,
    ck: &CaseKey,
    ctx: &CaseKeyContext<'_>,
) -> Result<SealedKey, CryptoError> {
    let pk = <HpkeKem as hpke::Kem>::PublicKey::from_bytes(team_pub.as_bytes())
        .map_err(|_| CryptoError::Malformed("KEM public key"))?;
    let (enc, ct) = hpke::single_shot_seal::<HpkeAead, HpkeKdf, HpkeKem>(
        &OpModeS::Base,
        &pk,
        &ctx.info(),
        &ck.0,
        b"",
    )
    .map_err(|_| CryptoError::Rng)?;
    Ok(SealedKey {
        enc: enc.to_bytes().to_vec(),
        ct,
    })
}

/// Opens a case-key slot with the team's derived KEM key.
#[cfg(feature = "open")]
pub fn open_case_key(
    team_kem: &KemKey,
    sealed: &SealedKey,
    ctx: &CaseKeyContext<'_>,
) -> Result<CaseKey, CryptoError> {
    let pt = crate::identity::open_sealed(team_kem, sealed, &ctx.info())?;
    CaseKey::from_bytes(&pt).map_err(|_| CryptoError::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(case: &'a [u8; 16], key_id: &'a [u8; 16], team: &'a str) -> CaseKeyContext<'a> {
        CaseKeyContext {
            case,
            epoch: 1,
            key_id,
            team,
            team_epoch: 1,
        }
    }

    #[test]
    fn payload_round_trips_and_binds_op_and_aad() {
        let ck = CaseKey::generate().unwrap();
        let op = [7u8; 16];
        let (nonce, ct) = seal_payload(&ck, &op, b"header", b"note").unwrap();
        assert_eq!(
            open_payload(&ck, &op, b"header", &nonce, &ct)
                .unwrap()
                .as_slice(),
            b"note"
        );
        assert!(open_payload(&ck, &[8u8; 16], b"header", &nonce, &ct).is_err());
        assert!(open_payload(&ck, &op, b"headex", &nonce, &ct).is_err());
        let other = CaseKey::generate().unwrap();
        assert!(open_payload(&other, &op, b"header", &nonce, &ct).is_err());
        let mut bad = ct.clone();
        bad[0] ^= 1;
        assert!(open_payload(&ck, &op, b"header", &nonce, &bad).is_err());
    }

    #[test]
    fn team_kem_is_deterministic_per_team_and_epoch() {
        let tk = TeamKey::generate().unwrap();
        let a = team_kem(&tk, "csw-a", 1).unwrap().public();
        assert_eq!(a, team_kem(&tk, "csw-a", 1).unwrap().public());
        assert_ne!(a, team_kem(&tk, "csw-a", 2).unwrap().public());
        assert_ne!(a, team_kem(&tk, "csw-b", 1).unwrap().public());
        let other = TeamKey::generate().unwrap();
        assert_ne!(a, team_kem(&other, "csw-a", 1).unwrap().public());
    }

    #[test]
    fn case_key_slot_opens_only_in_its_context() {
        let tk = TeamKey::generate().unwrap();
        let kem = team_kem(&tk, "csw-a", 1).unwrap();
        let ck = CaseKey::generate().unwrap();
        let (case, kid) = ([1u8; 16], [2u8; 16]);
        let sealed = seal_case_key(&kem.public(), &ck, &ctx(&case, &kid, "csw-a")).unwrap();
        let back = open_case_key(&kem, &sealed, &ctx(&case, &kid, "csw-a")).unwrap();
        assert_eq!(back, ck);
        assert!(open_case_key(&kem, &sealed, &ctx(&[3u8; 16], &kid, "csw-a")).is_err());
        assert!(open_case_key(&kem, &sealed, &ctx(&case, &[4u8; 16], "csw-a")).is_err());
        assert!(open_case_key(&kem, &sealed, &ctx(&case, &kid, "csw-b")).is_err());
        let wrong = team_kem(&tk, "csw-a", 2).unwrap();
        assert!(open_case_key(&wrong, &sealed, &ctx(&case, &kid, "csw-a")).is_err());
    }
}

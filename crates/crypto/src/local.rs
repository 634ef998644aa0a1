//! Keys of the local device store: the store key (LDK, SQLCipher's raw key), its wrapping under
//! a PIN-derived key (Argon2id, RFC 9106; HKDF-SHA256, RFC 5869; AES-256-GCM, NIST SP 800-38D)
//! and under an IT recovery code.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Why a cryptographic operation failed. Decryption failures are deliberately opaque.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// Wrong key, tampered or truncated ciphertext: no more detail, by design.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The operating system's random number generator failed.
    #[error("random number generator unavailable")]
    Rng,
    /// Key-derivation parameters out of the accepted range.
    #[error("invalid key-derivation parameters: {0}")]
    Params(String),
    /// A signature that does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// A key or code whose text form does not parse.
    #[error("malformed {0}")]
    Malformed(&'static str),
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError::Rng)?;
    Ok(b)
}

/// The 256-bit key of the local SQLCipher store (LDK). Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A fresh random key.
    pub fn generate() -> Result<StoreKey, CryptoError> {
        Ok(StoreKey(random_array()?))
    }

    /// Wraps raw bytes (taken from the keystore).
    pub fn from_bytes(bytes: [u8; 32]) -> StoreKey {
        StoreKey(bytes)
    }

    /// Parses the key from a byte slice of exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<StoreKey, CryptoError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::Malformed("store key"))?;
        Ok(StoreKey(arr))
    }

    /// The raw bytes, for the keystore.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SQLCipher's raw-key literal `x'…'` (64 hex digits): the key is used as is, no KDF.
    pub fn sqlcipher_literal(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::with_capacity(67));
        s.push_str("x'");
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s.push('\'');
        s
    }

    /// A key commitment, HMAC-SHA256(key, label) (RFC 2104): stored beside the store so that a
    /// wrong key can be told apart from a damaged file, revealing nothing about the key.
    pub fn check_value(&self) -> [u8; 32] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC takes any key size");
        mac.update(b"tsunagi/store-key-check/v1");
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// A key-encryption key (derived, never stored). Zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Kek([u8; 32]);

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(..)")
    }
}

/// Argon2id parameters and salt for deriving a key from the app PIN.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinParams {
    /// Random per-store salt (16 bytes).
    pub salt: [u8; 16],
    /// Memory in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl PinParams {
    /// RFC 9106 §4's second recommended option scaled to a tablet: 64 MiB, 3 passes, 1 lane.
    pub fn recommended() -> Result<PinParams, CryptoError> {
        Ok(PinParams {
            salt: random_array()?,
            m_cost: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        })
    }
}

/// The PIN key-encryption key: Argon2id(PIN, salt) (RFC 9106) combined with a secret held in
/// the OS keystore by HKDF-SHA256 (RFC 5869, the keystore secret as salt). Knowing the PIN
/// is not enough without the keystore, and reading the keystore is not enough without the PIN.
pub fn derive_pin_kek(
    pin: &[u8],
    keystore_secret: &[u8; 32],
    params: &PinParams,
) -> Result<Kek, CryptoError> {
    if params.m_cost < 8 * 1024 || params.t_cost == 0 || params.p_cost == 0 || params.p_cost > 16 {
        return Err(CryptoError::Params(format!(
            "m_cost={} t_cost={} p_cost={}",
            params.m_cost, params.t_cost, params.p_cost
        )));
    }
    let argon_params = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon_params,
    );
    let mut stretched = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pin, &params.salt, stretched.as_mut())
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    Ok(hkdf_kek(
        keystore_secret,
        stretched.as_ref(),
        b"tsunagi/pin-kek/v1",
    ))
}

/// An IT recovery code: 160 random bits, shown once as Crockford base32 in groups of four.
/// High entropy, so HKDF alone derives its key-encryption key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RecoveryCode([u8; 20]);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl RecoveryCode {
    /// A fresh random code.
    pub fn generate() -> Result<RecoveryCode, CryptoError> {
        Ok(RecoveryCode(random_array()?))
    }

    /// The code as shown to IT: 32 characters in 8 groups of 4.
    pub fn display(&self) -> Zeroizing<String> {
        let mut bits: u64 = 0;
        let mut nbits = 0;
        let mut out = Zeroizing::new(String::with_capacity(40));
        let mut n = 0;
        for b in self.0 {
            bits = (bits << 8) | u64::from(b);
            nbits += 8;
            while nbits >= 5 {
                nbits -= 5;
                if n > 0 && n % 4 == 0 {
                    out.push('-');
                }
                out.push(char::from(CROCKFORD[((bits >> nbits) & 31) as usize]));
                n += 1;
            }
        }
        bits.zeroize();
        out
    }

    /// Parses a code as typed: case-insensitive, hyphens and spaces ignored, O→0 and I/L→1 as
    /// Crockford base32 allows.
    pub fn parse(s: &str) -> Result<RecoveryCode, CryptoError> {
        let mut bits: u64 = 0;
        let mut nbits = 0;
        let mut out = [0u8; 20];
        let mut n = 0;
        for c in s
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\n' | '\r' | '\t'))
        {
            let c = match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            let v = CROCKFORD
                .iter()
                .position(|&x| char::from(x) == c)
                .ok_or(CryptoError::Malformed("recovery code"))?;
            bits = (bits << 5) | v as u64;
            nbits += 5;
            if nbits >= 8 {
                nbits -= 8;
                if n == out.len() {
                    return Err(CryptoError::Malformed("recovery code"));
                }
                out[n] = (bits >> nbits) as u8;
                n += 1;
            }
        }
        bits.zeroize();
        if n != out.len() {
            out.zeroize();
            return Err(CryptoError::Malformed("recovery code"));
        }
        Ok(RecoveryCode(out))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(..)")
    }
}

/// The recovery key-encryption key: HKDF-SHA256 (RFC 5869) of the code.
pub fn derive_recovery_kek(code: &RecoveryCode, salt: &[u8; 16]) -> Kek {
    hkdf_kek(salt, &code.0, b"tsunagi/recovery-kek/v1")
}

fn hkdf_kek(salt: &[u8], ikm: &[u8], info: &[u8]) -> Kek {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = [0u8; 32];
    hk.expand(info, &mut okm)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Kek(okm)
}

/// A record's authentication tag: HMAC-SHA256 (RFC 2104) under `key`, with `label` naming
/// what the record is (so a tag for one kind of record never verifies another).
pub fn record_mac(key: &[u8; 32], label: &str, msg: &[u8]) -> [u8; 32] {
    record_hmac(key, label, msg).finalize().into_bytes().into()
}

/// Checks a tag made by [`record_mac`], in constant time.
pub fn verify_record_mac(key: &[u8; 32], label: &str, msg: &[u8], tag: &[u8]) -> bool {
    record_hmac(key, label, msg).verify_slice(tag).is_ok()
}

/// The HMAC of [`record_mac`], fed with the label, a zero byte and the record.
fn record_hmac(key: &[u8; 32], label: &str, msg: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256>>::new_from_slice(key).expect("HMAC takes any key size");
    mac.update(label.as_bytes());
    mac.update(&[0]);
    mac.update(msg);
    mac
}

/// Wraps the store key: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce; `aad` binds
/// the wrapped key to its store. Output: nonce ‖ ciphertext ‖ tag (60 bytes).
pub fn wrap_store_key(kek: &Kek, key: &StoreKey, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError::Malformed("kek"))?;
    let nonce_bytes: [u8; 12] = random_array()?;
    let nonce = Nonce::from(nonce_bytes);
    let ct = cipher
        .encrypt(&nonce, Payload { msg: &key.0, aad })
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Reverses [`wrap_store_key`]. Any failure (wrong PIN, other store, tampering) is the same
/// opaque [`CryptoError::DecryptionFailed`].
#[cfg(feature = "open")]
pub fn unwrap_store_key(kek: &Kek, wrapped: &[u8], aad: &[u8]) -> Result<StoreKey, CryptoError> {
    if wrapped.len() != 12 + 32 + 16 {
        return Err(CryptoError::DecryptionFailed);
    }
    let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError::DecryptionFailed)?;
    let nonce_bytes: [u8; 12] = wrapped[..12]
        .try_into()
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let nonce = Nonce::from(nonce_bytes);
    let pt = Zeroizing::new(
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &wrapped[12..],
                    aad,
                },
            )
            .map_err(|_| CryptoError::DecryptionFailed)?,
    );
    StoreKey::from_slice(&pt).map_err(|_| CryptoError::DecryptionFailed)
}

/// Seals a small secret (the device's identity keys) under a key derived from the store key
/// (HKDF-SHA256 with `label`, then AES-256-GCM with a random nonce; `label` is also the AAD):
/// whoever can read the OS keystore but not unlock the store (no PIN) cannot use it.
pub fn seal_under_store_key(
    key: &StoreKey,
    label: &str,
    secret: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let kek = hkdf_kek(b"tsunagi/store-subkey/v1", &key.0, label.as_bytes());
    let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError::Malformed("kek"))?;
    let nonce_bytes: [u8; 12] = random_array()?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce_bytes),
            Payload {
                msg: secret,
                aad: label.as_bytes(),
            },
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Reverses [`seal_under_store_key`].
#[cfg(feature = "open")]
pub fn open_under_store_key(
    key: &StoreKey,
    label: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::DecryptionFailed);
    }
    let kek = hkdf_kek(b"tsunagi/store-subkey/v1", &key.0, label.as_bytes());
    let cipher = Aes256Gcm::new_from_slice(&kek.0).map_err(|_| CryptoError::DecryptionFailed)?;
    let nonce: [u8; 12] = sealed[..12]
        .try_into()
        .map_err(|_| CryptoError::DecryptionFailed)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[12..],
                aad: label.as_bytes(),
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptionFailed)
}

#[cfg(all(test, feature = "open"))]
mod tests {
    use super::*;

    fn fast_params() -> PinParams {
        PinParams {
            salt: [7; 16],
            m_cost: 8 * 1024,
            t_cost: 1,
            p_cost: 1,
        }
    }

    #[test]
    fn pin_wrap_round_trips_and_refuses_wrong_pin_secret_or_store() {
        let key = StoreKey::generate().unwrap();
        let secret = [9u8; 32];
        let kek = derive_pin_kek(b"123456", &secret, &fast_params()).unwrap();
        let wrapped = wrap_store_key(&kek, &key, b"store-a").unwrap();
        assert_eq!(wrapped.len(), 60);
        assert_eq!(unwrap_store_key(&kek, &wrapped, b"store-a").unwrap(), key);

        let wrong_pin = derive_pin_kek(b"123457", &secret, &fast_params()).unwrap();
        assert_eq!(
            unwrap_store_key(&wrong_pin, &wrapped, b"store-a"),
            Err(CryptoError::DecryptionFailed)
        );
        let wrong_secret = derive_pin_kek(b"123456", &[8u8; 32], &fast_params()).unwrap();
        assert!(unwrap_store_key(&wrong_secret, &wrapped, b"store-a").is_err());
        assert!(unwrap_store_key(&kek, &wrapped, b"store-b").is_err());
        let mut tampered = wrapped.clone();
        tampered[20] ^= 1;
        assert!(unwrap_store_key(&kek, &tampered, b"store-a").is_err());
        assert!(unwrap_store_key(&kek, &wrapped[..59], b"store-a").is_err());
    }

    /// Known-answer test: Argon2id + HKDF output is stable across releases (a changed
    /// derivation would lock every worker out of their store).
    #[test]
    fn pin_kek_known_answer() {
        let kek = derive_pin_kek(b"0000", &[1u8; 32], &fast_params()).unwrap();
        let again = derive_pin_kek(b"0000", &[1u8; 32], &fast_params()).unwrap();
        assert_eq!(kek.0, again.0);
        let hex: String = kek.0.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex.len(), 64);
        assert_eq!(hex, include_str!("../testdata/pin_kek_0000.hex").trim());
    }

    #[test]
    fn secrets_sealed_under_the_store_key_open_only_with_it_and_its_label() {
        let key = StoreKey::generate().unwrap();
        let sealed = seal_under_store_key(&key, "identity", b"seed bytes").unwrap();
        assert_eq!(
            open_under_store_key(&key, "identity", &sealed)
                .unwrap()
                .as_slice(),
            b"seed bytes"
        );
        assert!(open_under_store_key(&key, "other", &sealed).is_err());
        assert!(open_under_store_key(&StoreKey::generate().unwrap(), "identity", &sealed).is_err());
        assert!(open_under_store_key(&key, "identity", &sealed[..20]).is_err());
    }

    #[test]
    fn weak_params_are_refused() {
        let p = PinParams {
            m_cost: 16,
            ..fast_params()
        };
        assert!(matches!(
            derive_pin_kek(b"1", &[0; 32], &p),
            Err(CryptoError::Params(_))
        ));
    }

    #[test]
    fn recovery_code_text_round_trips() {
        let code = RecoveryCode::generate().unwrap();
        let shown = code.display();
        assert_eq!(shown.len(), 32 + 7);
        let parsed = RecoveryCode::parse(&shown.to_lowercase()).unwrap();
        assert_eq!(parsed.0, code.0);
        assert!(RecoveryCode::parse("ABCD").is_err());
        assert!(RecoveryCode::parse(&format!("{}U", &*shown)).is_err());
        let kek1 = derive_recovery_kek(&code, &[3; 16]);
        let kek2 = derive_recovery_kek(&parsed, &[3; 16]);
        assert_eq!(kek1.0, kek2.0);
    }

    #[test]
    fn sqlcipher_literal_and_check_value() {
        let key = StoreKey::from_bytes([0xab; 32]);
        let lit = key.sqlcipher_literal();
        assert_eq!(lit.len(), 67);
        assert!(lit.starts_with("x'abab") && lit.ends_with("ab'"));
        assert_ne!(
            key.check_value(),
            StoreKey::from_bytes([0xac; 32]).check_value()
        );
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
    }
}

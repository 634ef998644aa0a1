//! Identity keys and key wrapping (docs/identity.md): Ed25519 signatures (RFC 8032, strict
//! verification), X25519 HPKE key encapsulation for team keys (RFC 9180 base mode,
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM), fingerprints, and files sealed
//! under a passphrase (Argon2id RFC 9106 + AES-256-GCM).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeS, Serializable};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{CryptoError, random_array};

type HpkeKem = X25519HkdfSha256;
type HpkeKdf = hpke::kdf::HkdfSha256;
type HpkeAead = hpke::aead::AesGcm256;

/// Appends `bytes` with a 4-byte big-endian length prefix: the unambiguous concatenation every
/// signed or bound message in the protocol uses.
pub fn put_lp(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A label followed by length-prefixed parts: the message to sign or bind for one purpose.
pub fn labelled(label: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = label.as_bytes().to_vec();
    for p in parts {
        put_lp(&mut out, p);
    }
    out
}

/// The fingerprint people compare: SHA-256 of the public key, first 16 bytes as 8 groups of 4
/// hex digits.
pub fn fingerprint(public: &[u8]) -> String {
    let digest = Sha256::digest(public);
    digest[..16]
        .chunks(2)
        .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The device code IT reads off a new device's screen before approving it: the fingerprint of
/// both of its public keys at once (`"tsunagi/device-code/v1" ‖ lp(DevSig) ‖ lp(DevKEM)`), so a
/// server that swaps either key — the signing key or the one team keys are sealed to — changes
/// the code. Same shape as [`fingerprint`]: 8 groups of 4 hex digits (128 bits).
pub fn device_code(sig_pub: &[u8], kem_pub: &[u8]) -> String {
    fingerprint(&labelled("tsunagi/device-code/v1", &[sig_pub, kem_pub]))
}

/// The fewest groups of a device code IT may type (64 bits: no server can grind a key pair to
/// match them while a code is waiting for approval).
pub const DEVICE_CODE_MIN_GROUPS: usize = 4;

/// Whether `typed` (spaces, dashes and case ignored) is the device code of these keys, or its
/// first [`DEVICE_CODE_MIN_GROUPS`] groups or more. `Err` names what is wrong with the input.
pub fn device_code_matches(typed: &str, sig_pub: &[u8], kem_pub: &[u8]) -> Result<bool, String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a device code has hex digits only (0-9, a-f)".into());
    }
    if digits.len() < DEVICE_CODE_MIN_GROUPS * 4
        || digits.len() > 32
        || !digits.len().is_multiple_of(4)
    {
        return Err(format!(
            "type the device code shown on the device: at least its first {DEVICE_CODE_MIN_GROUPS} groups of 4 characters"
        ));
    }
    let code: String = device_code(sig_pub, kem_pub).replace(' ', "");
    let a = digits.as_bytes();
    let b = &code.as_bytes()[..a.len()];
    // Not secret, but compared without an early exit all the same.
    Ok(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0)
}

fn array32(bytes: &[u8], what: &'static str) -> Result<[u8; 32], CryptoError> {
    bytes.try_into().map_err(|_| CryptoError::Malformed(what))
}

/// An Ed25519 signing key (DevSig, the admin key, the server identity). Zeroized on drop.
pub struct SigKey(SigningKey);

/// An Ed25519 public key, validated as a curve point when parsed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SigPublic(VerifyingKey);

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl SigKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<SigKey, CryptoError> {
        let seed = Zeroizing::new(random_array::<32>()?);
        Ok(SigKey(SigningKey::from_bytes(&seed)))
    }

    /// From its 32-byte seed (as kept in the keystore or a sealed file).
    pub fn from_seed(seed: &[u8]) -> Result<SigKey, CryptoError> {
        let seed = Zeroizing::new(array32(seed, "signing key")?);
        Ok(SigKey(SigningKey::from_bytes(&seed)))
    }

    /// The 32-byte seed, for the keystore.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> SigPublic {
        SigPublic(self.0.verifying_key())
    }

    /// Ed25519 signature of `msg` (RFC 8032 §5.1.6).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for SigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigKey(public {})",
            fingerprint(self.public().as_bytes())
        )
    }
}

impl SigPublic {
    /// Parses 32 bytes; refuses points that are not valid Ed25519 public keys.
    pub fn from_bytes(bytes: &[u8]) -> Result<SigPublic, CryptoError> {
        let arr = array32(bytes, "signature public key")?;
        VerifyingKey::from_bytes(&arr)
            .map(SigPublic)
            .map_err(|_| CryptoError::Malformed("signature public key"))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Strict Ed25519 verification (rejects small-order keys and non-canonical signatures).
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        self.0
            .verify_strict(msg, &sig)
            .map_err(|_| CryptoError::BadSignature)
    }

    /// The fingerprint people compare.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.as_bytes())
    }
}

/// Verifies many signatures in one batch equation (ed25519-dalek's `verify_batch`): true
/// when every one verifies. From about 16 signatures on it costs less than half of checking
/// them one by one, and it is deterministic (its weights come from a transcript of the
/// inputs, no randomness).
///
/// It is not the same test as [`SigPublic::verify`], which is strict: a batch can accept a
/// signature that strict verification refuses (a non-canonical or mixed-order `R`), but only
/// one its signer built so on purpose; nobody without the key can make a signature either
/// test accepts. Keys of small order are refused here too. On `false`, check each signature
/// with [`SigPublic::verify`] to know which failed.
pub fn verify_batch(items: &[(&SigPublic, &[u8], &Signature)]) -> bool {
    if items.is_empty() {
        return true;
    }
    if items.iter().any(|(k, _, _)| k.0.is_weak()) {
        return false;
    }
    let messages: Vec<&[u8]> = items.iter().map(|(_, m, _)| *m).collect();
    let signatures: Vec<ed25519_dalek::Signature> = items
        .iter()
        .map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(&s.0))
        .collect();
    let keys: Vec<VerifyingKey> = items.iter().map(|(k, _, _)| k.0).collect();
    ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
}

impl fmt::Debug for SigPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigPublic({})", self.fingerprint())
    }
}

impl Signature {
    /// Parses 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Signature, CryptoError> {
        bytes
            .try_into()
            .map(Signature)
            .map_err(|_| CryptoError::Malformed("signature"))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// An X25519 private key that receives wrapped keys (DevKEM, ORK). Zeroized on drop.
pub struct KemKey {
    secret: Zeroizing<[u8; 32]>,
    private: <HpkeKem as hpke::Kem>::PrivateKey,
}

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KemPublic([u8; 32]);

impl KemKey {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<KemKey, CryptoError> {
        KemKey::from_secret(&random_array::<32>()?)
    }

    /// From its 32 secret bytes.
    pub fn from_secret(bytes: &[u8]) -> Result<KemKey, CryptoError> {
        let secret = Zeroizing::new(array32(bytes, "KEM private key")?);
        let private = <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(secret.as_ref())
            .map_err(|_| CryptoError::Malformed("KEM private key"))?;
        Ok(KemKey { secret, private })
    }

    /// The 32 secret bytes, for the keystore or a sealed file.
    pub fn secret(&self) -> Zeroizing<[u8; 32]> {
        self.secret.clone()
    }

    /// The public key.
    pub fn public(&self) -> KemPublic {
        let pk = HpkeKem::sk_to_pk(&self.private);
        let mut out = [0u8; 32];
        out.copy_from_slice(&pk.to_bytes());
        KemPublic(out)
    }
}

impl fmt::Debug for KemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemKey(public {})", self.public().fingerprint())
    }
}

impl KemPublic {
    /// Parses 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<KemPublic, CryptoError> {
        let arr = array32(bytes, "KEM public key")?;
        <HpkeKem as hpke::Kem>::PublicKey::from_bytes(&arr)
            .map_err(|_| CryptoError::Malformed("KEM public key"))?;
        Ok(KemPublic(arr))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The fingerprint people compare.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

impl fmt::Debug for KemPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KemPublic({})", self.fingerprint())
    }
}

/// A team key TK[team, epoch]: 256 random bits. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct TeamKey([u8; 32]);

impl TeamKey {
    /// A fresh key.
    pub fn generate() -> Result<TeamKey, CryptoError> {
        Ok(TeamKey(random_array()?))
    }

    /// From 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<TeamKey, CryptoError> {
        Ok(TeamKey(array32(bytes, "team key")?))
    }

    /// The raw bytes (to keep inside the encrypted store).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TeamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TeamKey(..)")
    }
}

/// What a key slot is for: the HPKE `info` binds the wrapped key to its team, epoch and
/// recipient, so a slot moved to another team, epoch or device does not open.
#[derive(Debug, Clone, Copy)]
pub struct SlotContext<'a> {
    /// Team id.
    pub team: &'a str,
    /// Key epoch.
    pub epoch: u32,
    /// `"org"` or the recipient device's id.
    pub recipient: &'a str,
}

impl SlotContext<'_> {
    fn info(&self) -> Vec<u8> {
        let mut out = b"tsunagi/team-key/v1".to_vec();
        put_lp(&mut out, self.team.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        put_lp(&mut out, self.recipient.as_bytes());
        out
    }

    /// The bytes a key slot's signer signs (with the sealed key).
    pub fn signed_message(&self, sealed: &SealedKey) -> Vec<u8> {
        let mut out = b"tsunagi/key-slot/v1".to_vec();
        put_lp(&mut out, self.team.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        put_lp(&mut out, self.recipient.as_bytes());
        put_lp(&mut out, &sealed.enc);
        put_lp(&mut out, &sealed.ct);
        out
    }
}

/// A team key sealed to one recipient: HPKE encapsulated key and ciphertext.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealedKey {
    /// HPKE `enc` (the ephemeral X25519 public key, 32 bytes).
    pub enc: Vec<u8>,
    /// AES-256-GCM ciphertext of the 32-byte key with its tag (48 bytes).
    pub ct: Vec<u8>,
}

/// Seals `key` to `recipient` (RFC 9180 §6.1 single-shot, base mode).
pub fn seal_team_key(
    recipient: &KemPublic,
    key: &TeamKey,
    ctx: &SlotContext<'_>,
) -> Result<SealedKey, CryptoError> {
    let pk = <HpkeKem as hpke::Kem>::PublicKey::from_bytes(&recipient.0)
        .map_err(|_| CryptoError::Malformed("KEM public key"))?;
    let (enc, ct) = hpke::single_shot_seal::<HpkeAead, HpkeKdf, HpkeKem>(
        &OpModeS::Base,
        &pk,
        &ctx.info(),
        &key.0,
        b"",
    )
    .map_err(|_| CryptoError::Rng)?;
    Ok(SealedKey {
        enc: enc.to_bytes().to_vec(),
        ct,
    })
}

/// Opens a sealed team key with the recipient's private key. Any failure is the opaque
/// [`CryptoError::DecryptionFailed`].
#[cfg(feature = "open")]
pub fn open_team_key(
    recipient: &KemKey,
    sealed: &SealedKey,
    ctx: &SlotContext<'_>,
) -> Result<TeamKey, CryptoError> {
    let pt = open_sealed(recipient, sealed, &ctx.info())?;
    TeamKey::from_bytes(&pt).map_err(|_| CryptoError::DecryptionFailed)
}

/// RFC 9180 §6.1 single-shot open (base mode) with `info`; empty AAD.
#[cfg(feature = "open")]
pub(crate) fn open_sealed(
    recipient: &KemKey,
    sealed: &SealedKey,
    info: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let enc = <HpkeKem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| CryptoError::DecryptionFailed)?;
    hpke::single_shot_open::<HpkeAead, HpkeKdf, HpkeKem>(
        &hpke::OpModeR::Base,
        &recipient.private,
        &enc,
        info,
        &sealed.ct,
        b"",
    )
    .map(Zeroizing::new)
    .map_err(|_| CryptoError::DecryptionFailed)
}

const SEALED_MAGIC: &[u8; 4] = b"TSPW";
const SEALED_HEADER: usize = 4 + 1 + 12 + 16 + 12;

/// Seals a secret under a passphrase (IT's admin key and ORK files): Argon2id (RFC 9106,
/// 256 MiB, 3 passes: these files are opened rarely) then AES-256-GCM; the header is the AAD.
pub fn seal_with_passphrase(secret: &[u8], passphrase: &[u8]) -> Result<Vec<u8>, CryptoError> {
    seal_with_params(secret, passphrase, 256 * 1024, 3, 1)
}

fn passphrase_key(
    passphrase: &[u8],
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if !(8 * 1024..=4 * 1024 * 1024).contains(&m)
        || !(1..=64).contains(&t)
        || !(1..=16).contains(&p)
    {
        return Err(CryptoError::Params(format!(
            "m_cost={m} t_cost={t} p_cost={p}"
        )));
    }
    let params =
        argon2::Params::new(m, t, p, Some(32)).map_err(|e| CryptoError::Params(e.to_string()))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase, salt, key.as_mut())
        .map_err(|e| CryptoError::Params(e.to_string()))?;
    Ok(key)
}

/// [`seal_with_passphrase`] with explicit Argon2id costs (tests use small ones).
pub fn seal_with_params(
    secret: &[u8],
    passphrase: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> Result<Vec<u8>, CryptoError> {
    let salt: [u8; 16] = random_array()?;
    let nonce: [u8; 12] = random_array()?;
    let key = passphrase_key(passphrase, &salt, m, t, p)?;
    let mut out = Vec::with_capacity(SEALED_HEADER + secret.len() + 16);
    out.extend_from_slice(SEALED_MAGIC);
    out.push(1);
    for v in [m, t, p] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let cipher =
        Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::Malformed("key"))?;
    let ct = cipher
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: secret,
                aad: &out,
            },
        )
        .map_err(|_| CryptoError::DecryptionFailed)?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a file sealed by [`seal_with_passphrase`]. A malformed file is
/// [`CryptoError::Malformed`]; a wrong passphrase or tampering is
/// [`CryptoError::DecryptionFailed`].
#[cfg(feature = "open")]
pub fn open_with_passphrase(
    sealed: &[u8],
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < SEALED_HEADER + 16 || &sealed[..4] != SEALED_MAGIC {
        return Err(CryptoError::Malformed("sealed file"));
    }
    if sealed[4] != 1 {
        return Err(CryptoError::Malformed("sealed file version"));
    }
    let be =
        |i: usize| u32::from_be_bytes([sealed[i], sealed[i + 1], sealed[i + 2], sealed[i + 3]]);
    let (m, t, p) = (be(5), be(9), be(13));
    let salt = &sealed[17..33];
    let nonce: [u8; 12] = sealed[33..45]
        .try_into()
        .map_err(|_| CryptoError::Malformed("nonce"))?;
    let key = passphrase_key(passphrase, salt, m, t, p)?;
    let cipher =
        Aes256Gcm::new_from_slice(key.as_ref()).map_err(|_| CryptoError::Malformed("key"))?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &sealed[SEALED_HEADER..],
                aad: &sealed[..SEALED_HEADER],
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::DecryptionFailed)
}

/// SHA-256 (FIPS 180-4).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(all(test, feature = "open"))]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_device_code_covers_both_keys_and_takes_four_groups_or_more() {
        let (sig, kem, other) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        let code = device_code(&sig, &kem);
        assert_eq!(code.split(' ').count(), 8);
        assert_ne!(code, device_code(&sig, &other), "the KEM key is covered");
        assert_ne!(
            code,
            device_code(&other, &kem),
            "the signing key is covered"
        );
        let groups: Vec<&str> = code.split(' ').collect();
        assert_eq!(device_code_matches(&code, &sig, &kem), Ok(true));
        assert_eq!(
            device_code_matches(&groups[..4].join("-").to_uppercase(), &sig, &kem),
            Ok(true)
        );
        assert_eq!(
            device_code_matches(&groups[..4].join(" "), &sig, &other),
            Ok(false)
        );
        assert!(
            device_code_matches(&groups[..3].join(" "), &sig, &kem).is_err(),
            "too short"
        );
        assert!(device_code_matches("zzzz zzzz zzzz zzzz", &sig, &kem).is_err());
        assert!(
            device_code_matches(&format!("{code} 0000"), &sig, &kem).is_err(),
            "too long"
        );
    }

    /// RFC 8032 §7.1, TEST 2.
    #[test]
    fn ed25519_rfc8032_test_2() {
        let key = SigKey::from_seed(&hex(
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        ))
        .unwrap();
        assert_eq!(
            key.public().as_bytes().to_vec(),
            hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        );
        let sig = key.sign(&hex("72"));
        assert_eq!(
            sig.0.to_vec(),
            hex(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            )
        );
        key.public().verify(&hex("72"), &sig).unwrap();
        assert_eq!(
            key.public().verify(&hex("73"), &sig),
            Err(CryptoError::BadSignature)
        );
        let other = SigKey::generate().unwrap();
        assert_eq!(
            other.public().verify(&hex("72"), &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn a_batch_verifies_only_when_every_signature_does() {
        let (a, b) = (SigKey::generate().unwrap(), SigKey::generate().unwrap());
        let (pa, pb) = (a.public(), b.public());
        let msgs: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 100 + usize::from(i)]).collect();
        let sigs: Vec<Signature> = msgs
            .iter()
            .enumerate()
            .map(|(i, m)| if i % 3 == 0 { b.sign(m) } else { a.sign(m) })
            .collect();
        let items =
            |msgs: &[Vec<u8>], sigs: &[Signature]| -> Vec<(SigPublic, Vec<u8>, Signature)> {
                (0..msgs.len())
                    .map(|i| {
                        let k = if i % 3 == 0 { pb } else { pa };
                        (k, msgs[i].clone(), sigs[i])
                    })
                    .collect()
            };
        let check = |v: &[(SigPublic, Vec<u8>, Signature)]| {
            let refs: Vec<(&SigPublic, &[u8], &Signature)> =
                v.iter().map(|(k, m, s)| (k, m.as_slice(), s)).collect();
            verify_batch(&refs)
        };
        assert!(verify_batch(&[]));
        assert!(check(&items(&msgs, &sigs)));
        // One changed message, one changed signature byte, one wrong key: each fails the batch.
        let mut m2 = msgs.clone();
        m2[7][0] ^= 1;
        assert!(!check(&items(&m2, &sigs)));
        let mut s2 = sigs.clone();
        s2[19].0[40] ^= 1;
        assert!(!check(&items(&msgs, &s2)));
        let mut v = items(&msgs, &sigs);
        v[4].0 = pb;
        assert!(!check(&v));
        // A key of small order (the identity) with the signature (R = identity, s = 0) that
        // satisfies its equation: refused, as strict verification refuses it.
        let weak = SigPublic::from_bytes(&{
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        })
        .unwrap();
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let forged = Signature(forged);
        assert!(weak.verify(b"anything", &forged).is_err());
        assert!(!verify_batch(&[(&weak, b"anything".as_slice(), &forged)]));
    }

    #[test]
    fn malformed_keys_and_signatures_are_refused() {
        assert!(SigPublic::from_bytes(&[0u8; 31]).is_err());
        assert!(Signature::from_bytes(&[0u8; 63]).is_err());
        assert!(KemPublic::from_bytes(&[1u8; 33]).is_err());
        assert!(SigKey::from_seed(&[]).is_err());
        assert!(KemKey::from_secret(&[0u8; 5]).is_err());
    }

    #[test]
    fn team_key_seals_to_its_recipient_and_context_only() {
        let device = KemKey::generate().unwrap();
        let other = KemKey::generate().unwrap();
        let tk = TeamKey::generate().unwrap();
        let ctx = SlotContext {
            team: "csw-north",
            epoch: 3,
            recipient: "dev-1",
        };
        let sealed = seal_team_key(&device.public(), &tk, &ctx).unwrap();
        assert_eq!(sealed.enc.len(), 32);
        assert_eq!(sealed.ct.len(), 48);
        assert_eq!(open_team_key(&device, &sealed, &ctx).unwrap(), tk);
        assert_eq!(
            open_team_key(&other, &sealed, &ctx),
            Err(CryptoError::DecryptionFailed)
        );
        for wrong in [
            SlotContext { epoch: 4, ..ctx },
            SlotContext {
                team: "csw-south",
                ..ctx
            },
            SlotContext {
                recipient: "dev-2",
                ..ctx
            },
        ] {
            assert_eq!(
                open_team_key(&device, &sealed, &wrong),
                Err(CryptoError::DecryptionFailed)
            );
        }
        let mut tampered = sealed.clone();
        tampered.ct[0] ^= 1;
        assert!(open_team_key(&device, &tampered, &ctx).is_err());
        let truncated = SealedKey {
            enc: sealed.enc[..31].to_vec(),
            ct: sealed.ct.clone(),
        };
        assert!(open_team_key(&device, &truncated, &ctx).is_err());
        // Round trip of the key through its secret bytes.
        let again = KemKey::from_secret(device.secret().as_ref()).unwrap();
        assert_eq!(again.public(), device.public());
        assert_eq!(open_team_key(&again, &sealed, &ctx).unwrap(), tk);
    }

    /// A slot sealed once (recorded in testdata) still opens: the HPKE suite and the `info`
    /// layout must never change silently.
    #[test]
    fn recorded_team_key_slot_opens() {
        let v: Vec<String> = include_str!("../testdata/team_key_slot.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('=').unwrap().1.trim().to_owned())
            .collect();
        let device = KemKey::from_secret(&hex(&v[0])).unwrap();
        assert_eq!(device.public().as_bytes().to_vec(), hex(&v[1]));
        let sealed = SealedKey {
            enc: hex(&v[2]),
            ct: hex(&v[3]),
        };
        let ctx = SlotContext {
            team: "csw-north",
            epoch: 1,
            recipient: "org",
        };
        assert_eq!(
            open_team_key(&device, &sealed, &ctx)
                .unwrap()
                .as_bytes()
                .to_vec(),
            hex(&v[4])
        );
    }

    #[test]
    fn fingerprints_are_grouped_hex() {
        let fp = fingerprint(b"abc");
        assert_eq!(fp, "ba78 16bf 8f01 cfea 4141 40de 5dae 2223");
    }

    #[test]
    fn passphrase_sealing_round_trips_and_refuses_wrong_or_garbage() {
        let sealed = seal_with_params(b"secret seed", b"correct horse", 8 * 1024, 1, 1).unwrap();
        assert_eq!(
            open_with_passphrase(&sealed, b"correct horse")
                .unwrap()
                .as_slice(),
            b"secret seed"
        );
        assert_eq!(
            open_with_passphrase(&sealed, b"wrong").map(|_| ()),
            Err(CryptoError::DecryptionFailed)
        );
        let mut tampered = sealed.clone();
        tampered[6] ^= 1; // a cost parameter: bound as AAD
        assert!(open_with_passphrase(&tampered, b"correct horse").is_err());
        assert!(matches!(
            open_with_passphrase(b"TSPW", b"x"),
            Err(CryptoError::Malformed(_))
        ));
        assert!(matches!(
            open_with_passphrase(&[0u8; 100], b"x"),
            Err(CryptoError::Malformed(_))
        ));
        let mut huge = sealed.clone();
        huge[5..9].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            open_with_passphrase(&huge, b"x"),
            Err(CryptoError::Params(_))
        ));
    }

    #[test]
    fn labelled_messages_are_unambiguous() {
        assert_ne!(labelled("x", &[b"ab", b"c"]), labelled("x", &[b"a", b"bc"]));
    }
}

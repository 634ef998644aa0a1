//! The binary sync format v1 (docs/protocol.md): envelopes (sealed change sets, snapshots,
//! case-key slots, grants), push batches, pull pages and the per-envelope push results.
//! Parsing is strict and never panics: every length is checked, trailing bytes are refused.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tsunagi_crypto::identity::{SigKey, SigPublic, Signature, put_lp, verify_batch};

/// Protocol version carried by every envelope and batch.
pub const VERSION: u8 = 1;
/// Domain-separation label of envelope signatures and payload AAD.
const LABEL: &[u8] = b"tsunagi/envelope/v1";
/// Largest envelope accepted (a snapshot of a large case; a change set is a few KB).
pub const MAX_ENVELOPE: usize = 8 * 1024 * 1024;
/// Largest team id in a slot or grant.
const MAX_TEAM: usize = 64;

/// A wire format violation.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("malformed {what}: {detail}")]
pub struct WireError {
    /// What was being read.
    pub what: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn bad(what: &'static str, detail: impl Into<String>) -> WireError {
    WireError {
        what,
        detail: detail.into(),
    }
}

/// What an envelope carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One change set, sealed under a case key.
    Change,
    /// A case's merged state, sealed under a case key (fast first sync).
    Snapshot,
    /// A case key sealed to a team's epoch key.
    CaseKey,
    /// A team may (or may no longer) read a case: public, signed, no ciphertext.
    Grant,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Change => 1,
            Kind::Snapshot => 2,
            Kind::CaseKey => 3,
            Kind::Grant => 4,
        }
    }

    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Change,
            2 => Kind::Snapshot,
            3 => Kind::CaseKey,
            4 => Kind::Grant,
            _ => return None,
        })
    }

    /// Stable text key (server column, logs).
    pub fn key(self) -> &'static str {
        match self {
            Kind::Change => "change",
            Kind::Snapshot => "snapshot",
            Kind::CaseKey => "case_key",
            Kind::Grant => "grant",
        }
    }
}

/// Kind-specific public fields (bound by the signature and the AAD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aux {
    /// Change: nothing.
    None,
    /// Snapshot: every envelope of the case with `seq <= covers` is merged into it.
    Snapshot {
        /// Highest server sequence number the snapshot includes.
        covers: u64,
    },
    /// Case-key slot: the team (and its key epoch) the case key is sealed to, and HPKE `enc`.
    CaseKey {
        /// Receiving team.
        team: String,
        /// That team's key epoch.
        team_epoch: u32,
        /// The owning team's key epoch when the case key was made (a key made before a
        /// rotation is never used for new changes after it, even when re-sealed to the new
        /// epoch so that devices approved later can read the history).
        created: u32,
        /// HPKE encapsulated key (32 bytes).
        enc: Vec<u8>,
    },
    /// Grant: `team` may read the case's envelopes with epoch in `from..until` (0 = open).
    Grant {
        /// Receiving team.
        team: String,
        /// First case-key epoch it may read.
        from_epoch: u32,
        /// First epoch it may no longer read (0: no end yet).
        until_epoch: u32,
        /// The basis: `consent` or `meeting` (art. 106-6 支援会議).
        basis: String,
        /// The Consent or Meeting record's id.
        basis_id: [u8; 16],
    },
}

/// One envelope. `id` is the op id of a change set, or a fresh id for other kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// What it carries.
    pub kind: Kind,
    /// Unique id (dedup key on the server).
    pub id: [u8; 16],
    /// Case (person or household) id.
    pub case: [u8; 16],
    /// Case-key epoch.
    pub epoch: u32,
    /// Id of the case key of that epoch (names it among concurrent ones).
    pub key_id: [u8; 16],
    /// Author device (its DevSig signs).
    pub author: [u8; 16],
    /// Kind-specific public fields.
    pub aux: Aux,
    /// AES-GCM nonce (zero for slots and grants).
    pub nonce: [u8; 12],
    /// Ciphertext (AES-GCM payload, HPKE ciphertext, or empty for grants).
    pub ct: Vec<u8>,
    /// Ed25519 signature over label ‖ everything before it.
    pub sig: [u8; 64],
}

/// Reads from a byte slice with bounds checks.
struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(bad(self.what, "truncated"));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_be_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_be_bytes(self.arr()?))
    }
    fn lp(&mut self, max: usize) -> Result<&'a [u8], WireError> {
        let n = self.u32()? as usize;
        if n > max {
            return Err(bad(self.what, format!("field of {n} bytes exceeds {max}")));
        }
        self.take(n)
    }
    fn text(&mut self, max: usize) -> Result<String, WireError> {
        let b = self.lp(max)?;
        let s = std::str::from_utf8(b).map_err(|_| bad(self.what, "text is not UTF-8"))?;
        Ok(s.to_owned())
    }
    fn done(&self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(bad(self.what, format!("{} trailing bytes", self.buf.len())))
        }
    }
}

impl Envelope {
    /// The header: version, kind, ids, epoch, author and aux. It is the AES-GCM AAD (after the
    /// label), so a payload moved under another header does not open.
    pub fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(VERSION);
        out.push(self.kind.byte());
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.case);
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.key_id);
        out.extend_from_slice(&self.author);
        let mut aux = Vec::new();
        match &self.aux {
            Aux::None => {}
            Aux::Snapshot { covers } => aux.extend_from_slice(&covers.to_be_bytes()),
            Aux::CaseKey {
                team,
                team_epoch,
                created,
                enc,
            } => {
                put_lp(&mut aux, team.as_bytes());
                aux.extend_from_slice(&team_epoch.to_be_bytes());
                aux.extend_from_slice(&created.to_be_bytes());
                put_lp(&mut aux, enc);
            }
            Aux::Grant {
                team,
                from_epoch,
                until_epoch,
                basis,
                basis_id,
            } => {
                put_lp(&mut aux, team.as_bytes());
                aux.extend_from_slice(&from_epoch.to_be_bytes());
                aux.extend_from_slice(&until_epoch.to_be_bytes());
                put_lp(&mut aux, basis.as_bytes());
                aux.extend_from_slice(basis_id);
            }
        }
        put_lp(&mut out, &aux);
        out
    }

    /// The AAD of the payload: label ‖ header.
    pub fn aad(&self) -> Vec<u8> {
        let mut out = LABEL.to_vec();
        out.extend_from_slice(&self.header());
        out
    }

    fn signed_message(&self) -> Vec<u8> {
        let mut out = self.aad();
        out.extend_from_slice(&self.nonce);
        put_lp(&mut out, &self.ct);
        out
    }

    /// Signs with the author's DevSig (sets `sig`).
    pub fn sign(&mut self, key: &SigKey) {
        self.sig = key.sign(&self.signed_message()).0;
    }

    /// Verifies the signature (Ed25519 strict) with the author's key.
    pub fn verify(&self, key: &SigPublic) -> bool {
        key.verify(&self.signed_message(), &Signature(self.sig))
            .is_ok()
    }

    /// Verifies many envelopes' signatures in one batch equation, each with its author's key
    /// ([`tsunagi_crypto::identity::verify_batch`]: less than half the time of one by one from
    /// about 16 on; not strict). True when every one verifies; on false, [`Envelope::verify`]
    /// each to know which failed.
    pub fn verify_all(items: &[(&Envelope, &SigPublic)]) -> bool {
        let messages: Vec<Vec<u8>> = items.iter().map(|(e, _)| e.signed_message()).collect();
        let sigs: Vec<Signature> = items.iter().map(|(e, _)| Signature(e.sig)).collect();
        let batch: Vec<(&SigPublic, &[u8], &Signature)> = items
            .iter()
            .zip(&messages)
            .zip(&sigs)
            .map(|(((_, k), m), s)| (*k, m.as_slice(), s))
            .collect();
        verify_batch(&batch)
    }

    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(&self.nonce);
        put_lp(&mut out, &self.ct);
        out.extend_from_slice(&self.sig);
        out
    }

    /// Parses one envelope (strict: known version and kind, aux matching the kind, no
    /// trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Envelope, WireError> {
        if bytes.len() > MAX_ENVELOPE {
            return Err(bad("envelope", "too large"));
        }
        let mut r = Reader {
            buf: bytes,
            what: "envelope",
        };
        let v = r.u8()?;
        if v != VERSION {
            return Err(bad("envelope", format!("unsupported version {v}")));
        }
        let kind = Kind::from_byte(r.u8()?).ok_or_else(|| bad("envelope", "unknown kind"))?;
        let id = r.arr()?;
        let case = r.arr()?;
        let epoch = r.u32()?;
        let key_id = r.arr()?;
        let author = r.arr()?;
        let aux_bytes = r.lp(1024)?;
        let mut a = Reader {
            buf: aux_bytes,
            what: "envelope header",
        };
        let aux = match kind {
            Kind::Change => Aux::None,
            Kind::Snapshot => Aux::Snapshot { covers: a.u64()? },
            Kind::CaseKey => Aux::CaseKey {
                team: a.text(MAX_TEAM)?,
                team_epoch: a.u32()?,
                created: a.u32()?,
                enc: a.lp(64)?.to_vec(),
            },
            Kind::Grant => Aux::Grant {
                team: a.text(MAX_TEAM)?,
                from_epoch: a.u32()?,
                until_epoch: a.u32()?,
                basis: a.text(16)?,
                basis_id: a.arr()?,
            },
        };
        a.done()?;
        let nonce = r.arr()?;
        let ct = r.lp(MAX_ENVELOPE)?.to_vec();
        let sig = r.arr()?;
        r.done()?;
        if epoch == 0 {
            return Err(bad("envelope", "epoch 0"));
        }
        Ok(Envelope {
            kind,
            id,
            case,
            epoch,
            key_id,
            author,
            aux,
            nonce,
            ct,
            sig,
        })
    }

    /// The team a case-key slot or grant is for.
    pub fn target_team(&self) -> Option<&str> {
        match &self.aux {
            Aux::CaseKey { team, .. } | Aux::Grant { team, .. } => Some(team),
            _ => None,
        }
    }
}

/// A push batch: the envelopes' bytes, in the order the server must consider them.
pub fn encode_batch(envelopes: &[Vec<u8>]) -> Vec<u8> {
    let total: usize = envelopes.iter().map(|e| e.len() + 4).sum();
    let mut out = Vec::with_capacity(total + 5);
    out.push(VERSION);
    out.extend_from_slice(&(envelopes.len() as u32).to_be_bytes());
    for e in envelopes {
        put_lp(&mut out, e);
    }
    out
}

/// Parses a push batch into envelope byte slices (each still to be decoded).
pub fn decode_batch(bytes: &[u8], max_count: usize) -> Result<Vec<&[u8]>, WireError> {
    let mut r = Reader {
        buf: bytes,
        what: "batch",
    };
    let v = r.u8()?;
    if v != VERSION {
        return Err(bad("batch", format!("unsupported version {v}")));
    }
    let n = r.u32()? as usize;
    if n > max_count {
        return Err(bad("batch", format!("{n} envelopes exceed {max_count}")));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.lp(MAX_ENVELOPE)?);
    }
    r.done()?;
    Ok(out)
}

/// One pulled envelope with its server sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// Server sequence number.
    pub seq: u64,
    /// The envelope's bytes.
    pub body: Vec<u8>,
}

/// One page of a pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullPage {
    /// The cursor to ask with next (the last seq here, or the asked cursor if empty).
    pub next: u64,
    /// More envelopes are waiting right now.
    pub more: bool,
    /// The envelopes, in increasing `seq`.
    pub items: Vec<Pulled>,
}

impl PullPage {
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let total: usize = self.items.iter().map(|p| p.body.len() + 12).sum();
        let mut out = Vec::with_capacity(total + 14);
        out.push(VERSION);
        out.extend_from_slice(&self.next.to_be_bytes());
        out.push(u8::from(self.more));
        out.extend_from_slice(&(self.items.len() as u32).to_be_bytes());
        for p in &self.items {
            out.extend_from_slice(&p.seq.to_be_bytes());
            put_lp(&mut out, &p.body);
        }
        out
    }

    /// Parses a page; sequence numbers must increase and `next` must be the last one.
    pub fn decode(bytes: &[u8]) -> Result<PullPage, WireError> {
        let mut r = Reader {
            buf: bytes,
            what: "pull page",
        };
        let v = r.u8()?;
        if v != VERSION {
            return Err(bad("pull page", format!("unsupported version {v}")));
        }
        let next = r.u64()?;
        let more = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(bad("pull page", "bad flag")),
        };
        let n = r.u32()? as usize;
        let mut items = Vec::with_capacity(n.min(100_000));
        let mut last = 0u64;
        for _ in 0..n {
            let seq = r.u64()?;
            if seq <= last {
                return Err(bad("pull page", "sequence numbers do not increase"));
            }
            last = seq;
            items.push(Pulled {
                seq,
                body: r.lp(MAX_ENVELOPE)?.to_vec(),
            });
        }
        r.done()?;
        // With more to come, the page ends at its last envelope; the last page may resume
        // further (at the head the server read before it, docs/protocol.md), never before it.
        if let Some(l) = items.last()
            && (l.seq > next || (more && l.seq != next))
        {
            return Err(bad(
                "pull page",
                "the cursor is before the page's last sequence number, or a page with more to come does not end at it",
            ));
        }
        Ok(PullPage { next, more, items })
    }
}

/// What the server did with one pushed envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PushResult {
    /// Stored with this sequence number.
    Accepted {
        /// Sequence number.
        seq: u64,
    },
    /// Already stored (a retried push): nothing changed.
    Duplicate {
        /// Its sequence number.
        seq: u64,
    },
    /// Refused; nothing stored.
    Rejected {
        /// Machine code (`bad_signature`, `not_author`, `unknown_case`, `not_writable`,
        /// `stale_key`, `epoch_taken`, `malformed`, ...).
        code: String,
        /// Plain words.
        message: String,
    },
}

/// The answer to a push: one result per envelope, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    /// Results in the order of the batch.
    pub results: Vec<PushResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(kind: Kind, aux: Aux) -> Envelope {
        Envelope {
            kind,
            id: [1; 16],
            case: [2; 16],
            epoch: 3,
            key_id: [4; 16],
            author: [5; 16],
            aux,
            nonce: [6; 12],
            ct: vec![7; 40],
            sig: [0; 64],
        }
    }

    fn all() -> Vec<Envelope> {
        vec![
            sample(Kind::Change, Aux::None),
            sample(Kind::Snapshot, Aux::Snapshot { covers: 99 }),
            sample(
                Kind::CaseKey,
                Aux::CaseKey {
                    team: "csw-a".into(),
                    team_epoch: 2,
                    created: 1,
                    enc: vec![8; 32],
                },
            ),
            sample(
                Kind::Grant,
                Aux::Grant {
                    team: "dementia".into(),
                    from_epoch: 1,
                    until_epoch: 0,
                    basis: "consent".into(),
                    basis_id: [9; 16],
                },
            ),
        ]
    }

    #[test]
    fn envelopes_round_trip_and_signatures_bind_every_field() {
        let key = SigKey::generate().unwrap();
        for mut e in all() {
            e.sign(&key);
            let bytes = e.encode();
            let back = Envelope::decode(&bytes).unwrap();
            assert_eq!(back, e);
            assert!(back.verify(&key.public()));
            // Flip each byte but the signature's: the signature no longer verifies, or the
            // bytes no longer parse.
            for i in 0..bytes.len() - 64 {
                let mut b = bytes.clone();
                b[i] ^= 0x01;
                if let Ok(t) = Envelope::decode(&b) {
                    assert!(!t.verify(&key.public()), "byte {i} of {:?}", e.kind);
                }
            }
        }
    }

    #[test]
    fn malformed_envelopes_are_refused() {
        let bytes = all()[0].encode();
        for n in 0..bytes.len() {
            assert!(Envelope::decode(&bytes[..n]).is_err(), "prefix {n}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Envelope::decode(&longer).is_err());
        let mut v2 = bytes.clone();
        v2[0] = 2;
        assert!(Envelope::decode(&v2).is_err());
        let mut k9 = bytes;
        k9[1] = 9;
        assert!(Envelope::decode(&k9).is_err());
    }

    #[test]
    fn batches_and_pages_round_trip() {
        let envs: Vec<Vec<u8>> = all().iter().map(Envelope::encode).collect();
        let b = encode_batch(&envs);
        let back = decode_batch(&b, 10).unwrap();
        assert_eq!(back.len(), 4);
        assert!(decode_batch(&b, 3).is_err());
        let page = PullPage {
            next: 7,
            more: true,
            items: vec![
                Pulled {
                    seq: 5,
                    body: envs[0].clone(),
                },
                Pulled {
                    seq: 7,
                    body: envs[1].clone(),
                },
            ],
        };
        assert_eq!(PullPage::decode(&page.encode()).unwrap(), page);
        let mut wrong = page.clone();
        wrong.items.swap(0, 1);
        assert!(PullPage::decode(&wrong.encode()).is_err());
        // The last page may resume beyond its last envelope; a page with more may not, and
        // no page resumes before its last envelope.
        let last = PullPage {
            next: 9,
            more: false,
            ..page.clone()
        };
        assert_eq!(PullPage::decode(&last.encode()).unwrap(), last);
        for (next, more) in [(9, true), (6, false), (6, true)] {
            let bad = PullPage {
                next,
                more,
                ..page.clone()
            };
            assert!(PullPage::decode(&bad.encode()).is_err(), "{next} {more}");
        }
    }
}

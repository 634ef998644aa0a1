//! The shared benchmark workload: an exact port of `shared/bench/peers/pouchdb/workload.js`
//! (mulberry32, per-record seeds, the same draw order), so that Tsunagi is measured on the very
//! records the PouchDB peer writes.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Master seed of the records.
pub const SEED: u32 = 0x5eed_1234;
/// Seed of the 500 client ids.
pub const CLIENT_SEED: u32 = 0xc11e_0001;
/// Seed of the phase-D edits.
pub const EDIT_SEED: u32 = 0xed17_0001;
/// How many clients (persons) the records are about.
pub const CLIENTS: usize = 500;
/// Characters in a note.
pub const NOTE_LEN: usize = 700;

/// Program keys, in the generator's order.
pub const PROGRAMS: [&str; 3] = ["csw", "dementia", "infant"];
/// Outcomes, in the generator's order (they are also Tsunagi's outcome keys).
pub const OUTCOMES: [&str; 4] = ["met", "not_home", "refused", "letter_left"];
/// The generator's 13 district names.
pub const DISTRICTS: [&str; 13] = [
    "Chuo", "Kita", "Minami", "Higashi", "Nishi", "Naka", "Midori", "Aoba", "Izumi", "Sakae",
    "Tsurumi", "Kohoku", "Hodogaya",
];
/// Tags, in the generator's order.
pub const TAGS: [&str; 12] = [
    "followup",
    "urgent",
    "family",
    "medication",
    "housing",
    "mobility",
    "nutrition",
    "safety",
    "phone",
    "referral",
    "carer",
    "finance",
];
/// The sentence pool whose characters the notes are sampled from (the JS joins these).
pub const JA_POOL: [&str; 10] = [
    "本日は午前中に訪問し、ご本人とご家族にお会いしました。",
    "体調は安定しているとのことで、食事もきちんと取れているそうです。",
    "最近、夜間に何度か目が覚めることがあると話されていました。",
    "服薬の管理については、ご家族が毎朝確認しているとのことです。",
    "次回の訪問日程について相談し、来月の第二週に伺う予定です。",
    "地域の見守りサービスの利用について説明し、資料をお渡ししました。",
    "玄関先の段差でつまずきやすいため、手すりの設置を提案しました。",
    "乳児の体重は順調に増えており、授乳のリズムも落ち着いてきました。",
    "不在のため、連絡票をポストに投函して帰りました。",
    "介護保険の申請手続きについて、担当窓口を案内しました。",
];

/// 2024-04-01T00:00:00Z in seconds.
const BASE_TIME_S: i64 = 1_711_929_600;
const YEAR_S: f64 = 365.0 * 24.0 * 3600.0;
/// The golden-ratio step between per-record seeds.
const SEED_STEP: u32 = 0x9E37_79B1;

/// mulberry32, bit for bit as in the JS (`Math.imul` and `>>> 0` are wrapping u32 arithmetic).
#[derive(Debug, Clone)]
pub struct Mulberry32(u32);

impl Mulberry32 {
    /// A generator from a 32-bit seed.
    pub fn new(seed: u32) -> Mulberry32 {
        Mulberry32(seed)
    }

    /// The next number in [0, 1), as the JS returns it.
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x6D2B_79F5);
        let mut t = self.0;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        f64::from(t ^ (t >> 14)) / 4_294_967_296.0
    }

    /// `Math.floor(rng() * len)`: an index into an array of `len` elements.
    pub fn index(&mut self, len: usize) -> usize {
        (self.next_f64() * len as f64).floor() as usize
    }
}

/// `docRng(seed, i)`: the stream of record `i`, independent of the order records are made in.
pub fn doc_rng(seed: u32, i: u32) -> Mulberry32 {
    Mulberry32::new(seed.wrapping_add(i.wrapping_mul(SEED_STEP)))
}

/// A v4-shaped UUID from 16 draws, formatted as the JS does.
fn uuid(rng: &mut Mulberry32) -> String {
    let mut b = [0u8; 16];
    for x in &mut b {
        *x = (rng.next_f64() * 256.0).floor() as u8;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(b).hyphenated().to_string()
}

/// The workload generator: the client ids and the note character pool, computed once.
#[derive(Debug, Clone)]
pub struct Workload {
    client_ids: Vec<String>,
    ja_chars: Vec<char>,
}

/// One visit record (`genDoc(i)`); `client` and the other choices are kept as indices so that
/// they map onto Tsunagi's codes without string matching.
#[derive(Debug, Clone, PartialEq)]
pub struct VisitRecord {
    /// `_id`.
    pub id: String,
    /// Index of `client_id` among the 500 clients.
    pub client: usize,
    /// `client_id`.
    pub client_id: String,
    /// Index into [`PROGRAMS`].
    pub program: usize,
    /// `visited_at`.
    pub visited_at: DateTime<Utc>,
    /// Index into [`DISTRICTS`].
    pub district: usize,
    /// Index into [`OUTCOMES`].
    pub outcome: usize,
    /// 700 characters.
    pub note: String,
    /// Indices into [`TAGS`].
    pub tags: [usize; 3],
}

impl VisitRecord {
    /// `visited_at` as JS's `toISOString()` prints it.
    pub fn visited_at_iso(&self) -> String {
        self.visited_at.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The tags as strings.
    pub fn tag_names(&self) -> [&'static str; 3] {
        self.tags.map(|t| TAGS[t])
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload::new()
    }
}

impl Workload {
    /// The client ids (seed [`CLIENT_SEED`]) and the note pool.
    pub fn new() -> Workload {
        let mut r = Mulberry32::new(CLIENT_SEED);
        let client_ids = (0..CLIENTS).map(|_| uuid(&mut r)).collect();
        // Array.from splits by code point; every pool character is in the BMP anyway.
        let ja_chars = JA_POOL.concat().chars().collect();
        Workload {
            client_ids,
            ja_chars,
        }
    }

    /// The 500 client ids.
    pub fn client_ids(&self) -> &[String] {
        &self.client_ids
    }

    /// The characters notes are sampled from (with repeats, as in the JS).
    pub fn note_chars(&self) -> &[char] {
        &self.ja_chars
    }

    fn note(&self, r: &mut Mulberry32) -> String {
        (0..NOTE_LEN)
            .map(|_| self.ja_chars[r.index(self.ja_chars.len())])
            .collect()
    }

    /// `genDoc(i)`.
    pub fn record(&self, i: u32) -> VisitRecord {
        let mut r = doc_rng(SEED, i);
        let id = uuid(&mut r);
        let client = r.index(self.client_ids.len());
        let program = r.index(PROGRAMS.len());
        let secs = (r.next_f64() * YEAR_S).floor() as i64;
        let visited_at = Utc
            .timestamp_opt(BASE_TIME_S + secs, 0)
            .single()
            .unwrap_or_default();
        let district = r.index(DISTRICTS.len());
        let outcome = r.index(OUTCOMES.len());
        let note = self.note(&mut r);
        let tags = [
            r.index(TAGS.len()),
            r.index(TAGS.len()),
            r.index(TAGS.len()),
        ];
        VisitRecord {
            id,
            client,
            client_id: self.client_ids[client].clone(),
            program,
            visited_at,
            district,
            outcome,
            note,
            tags,
        }
    }

    /// `editDoc(doc, i)`: record `i` with a new outcome and a rewritten note.
    pub fn edited(&self, record: &VisitRecord, i: u32) -> VisitRecord {
        let mut r = doc_rng(EDIT_SEED, i);
        let outcome = r.index(OUTCOMES.len());
        let note = self.note(&mut r);
        VisitRecord {
            outcome,
            note,
            ..record.clone()
        }
    }
}

/// `editIndices(n)`: the 100 evenly spread records phase D edits.
pub fn edit_indices(n: u32) -> Vec<u32> {
    let step = (n / 100).max(1);
    (0..100).map(|k| k * step).filter(|&i| i < n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn record_0_matches_the_peer_sample() {
        let sample: Value =
            serde_json::from_str(include_str!("../testdata/sample-doc.json")).unwrap();
        let d = Workload::new().record(0);
        assert_eq!(sample["_id"], d.id.as_str());
        assert_eq!(sample["type"], "visit");
        assert_eq!(sample["client_id"], d.client_id.as_str());
        assert_eq!(sample["program"], PROGRAMS[d.program]);
        assert_eq!(sample["visited_at"], d.visited_at_iso().as_str());
        assert_eq!(sample["district"], DISTRICTS[d.district]);
        assert_eq!(sample["outcome"], OUTCOMES[d.outcome]);
        assert_eq!(sample["note"], d.note.as_str());
        assert_eq!(d.note.chars().count(), NOTE_LEN);
        let tags: Vec<&str> = d.tag_names().to_vec();
        assert_eq!(sample["tags"], serde_json::json!(tags));
    }

    #[test]
    fn the_generator_is_mulberry32() {
        // mulberry32(0)() in JS.
        let mut r = Mulberry32::new(0);
        assert_eq!(r.next_f64(), 0.26642920868471265);
        assert_eq!(Workload::new().note_chars().len(), 293);
    }

    #[test]
    fn later_records_and_edits_match_the_js() {
        // Printed by node from workload.js: large i exercises Math.imul's wrapping.
        let w = Workload::new();
        let d = w.record(12_345);
        assert_eq!(d.visited_at_iso(), "2024-06-02T01:52:33.000Z");
        assert_eq!(d.client_id, "c0fee3f8-fadd-463b-94bf-5405f2f7b70b");
        assert!(w.record(99_999).note.starts_with("伺るるり体におつてた"));
        let e = w.edited(&w.record(5), 5);
        assert_eq!(OUTCOMES[e.outcome], "letter_left");
        assert!(
            e.note
                .starts_with("のき理相在。置重確。ま連をししい目玄まれ")
        );
    }

    #[test]
    fn edit_indices_spread_over_the_records() {
        assert_eq!(edit_indices(10_000)[..3], [0, 100, 200]);
        assert_eq!(edit_indices(50), (0..50).collect::<Vec<_>>());
    }
}

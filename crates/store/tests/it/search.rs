//! Japanese full-text search: one bigram index with positions (phrases for terms of 3+
//! characters, tokens for 2, prefixes for 1), width and kana folding, re-indexing on edit and
//! delete, the upgrade from the two-index schema, checked against a naive substring search.

use crate::{Device, Fixture, contact, person, received};
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;
use tsunagi_core::change::EntityKind;
use tsunagi_core::ids::{ContactId, EntityId, PersonId};
use tsunagi_store::Store;
use tsunagi_store::search::normalize;

struct Notes {
    store: Store,
    dev: Device,
    person: PersonId,
    ids: Vec<ContactId>,
    _fx: Fixture,
}

/// A store with one person and a contact per note (contact i at minute i).
fn notes(texts: &[&str]) -> Notes {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let ids = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let at = format!("2026-11-01T10:{i:02}:00+09:00");
            dev.add_contact(&mut store, contact(p, &at, t))
        })
        .collect();
    Notes {
        store,
        dev,
        person: p,
        ids,
        _fx: fx,
    }
}

impl Notes {
    /// Indexes (into the notes) of the contacts found, and checks the total agrees.
    fn hits(&self, q: &str) -> Vec<usize> {
        let r = self.store.search(q, 1000).unwrap();
        assert_eq!(r.contact_total, r.contacts.len() as u64, "total for {q:?}");
        let mut found: Vec<usize> = r
            .contacts
            .iter()
            .map(|h| {
                self.ids
                    .iter()
                    .position(|id| *id == h.id)
                    .expect("hit is a known contact")
            })
            .collect();
        found.sort_unstable();
        found
    }
}

const A: &str = "認知症の疑いあり。母と同居。";
const B: &str = "本人は認める。知らない人が来たと話す。";
const C: &str = "児童相談所に連絡した。";
const D: &str = "ＡＢＣ会社の担当者と面談";
const E: &str = "ｶﾀｶﾅで書いたメモ";
const F: &str = "父と電話。 次回 訪問予定";

fn sample() -> Notes {
    notes(&[A, B, C, D, E, F])
}

#[test]
fn terms_of_three_or_more_characters_are_phrases_of_bigrams() {
    let n = sample();
    assert_eq!(n.hits("認知症"), vec![0]);
    assert_eq!(n.hits("相談所"), vec![2]);
    assert_eq!(n.hits("連絡した"), vec![2]);
    assert_eq!(n.hits("訪問予定"), vec![5]);
    assert_eq!(n.hits("相談員"), Vec::<usize>::new());
    // B has 認, 知 and ら in that order, but not as one run.
    assert_eq!(n.hits("認知ら"), Vec::<usize>::new());
    // Not across a space: F has "電話。 次回".
    assert_eq!(n.hits("。次回"), Vec::<usize>::new());
}

/// Drops the current index tables and puts back those of an earlier schema (`old_tables`),
/// as a store written by that version would have them (every note indexed there, the queue
/// empty); opening it again must upgrade it and find every note.
fn upgraded_from(version: i64, old_tables: &str) {
    let Notes { store, _fx: fx, .. } = sample();
    drop(store);
    let raw = fx.raw();
    raw.execute_batch(&format!(
        "DROP TABLE gram_rows; DROP TABLE gram_segs; DROP TABLE gram_docs;
         DROP TABLE gram_dead; DROP TABLE gram_state;
         DROP TABLE drafts; DROP INDEX entities_conflicted;
         DROP TABLE chain_heads; DROP TABLE chain_links; DROP TABLE chain_problems;
         ALTER TABLE ops DROP COLUMN chain_seq; ALTER TABLE ops DROP COLUMN chain_prev;
         ALTER TABLE ops DROP COLUMN server_seq;
         ALTER TABLE case_grants DROP COLUMN version;
         {old_tables}
         DELETE FROM fts_queue;
         PRAGMA user_version = {version};"
    ))
    .unwrap();
    drop(raw);
    let store = fx.open();
    assert_eq!(store.index_pending().unwrap(), 6, "every contact is queued");
    let r = store.search("連絡した", 10).unwrap();
    assert_eq!(r.contact_total, 1);
    assert_eq!(store.search("母", 10).unwrap().contact_total, 1);
    assert_eq!(store.index_pending().unwrap(), 0);
    let tables: i64 = fx
        .raw()
        .query_row(
            "SELECT count(*) FROM sqlite_schema
             WHERE name IN ('contact_fts', 'contact_bigram', 'contact_grams')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "the old indexes are gone");
}

/// A store of schema v3 (a trigram index and a bigram index without positions) is
/// searchable after the upgrade.
#[test]
fn notes_indexed_by_the_two_index_schema_are_found_after_the_upgrade() {
    upgraded_from(
        3,
        "CREATE VIRTUAL TABLE contact_fts USING fts5 (
             note, content = '', contentless_delete = 1, tokenize = 'trigram');
         CREATE VIRTUAL TABLE contact_bigram USING fts5 (
             grams, content = '', contentless_delete = 1, detail = none);",
    );
}

/// A store of schema v5 (the FTS5 bigram index with positions) is searchable after the
/// upgrade to the index the store builds itself.
#[test]
fn notes_indexed_by_fts5_are_found_after_the_upgrade() {
    upgraded_from(
        5,
        "CREATE VIRTUAL TABLE contact_grams USING fts5 (
             grams, content = '', contentless_delete = 1);",
    );
}

#[test]
fn two_character_terms_are_one_token_without_false_positives() {
    let n = sample();
    // B has 認 and 知 but not 認知.
    assert_eq!(n.hits("認知"), vec![0]);
    assert_eq!(n.hits("児童"), vec![2]);
    assert_eq!(n.hits("同居"), vec![0]);
    assert_eq!(n.hits("知認"), Vec::<usize>::new());
    // Not across a space: F has "電話。 次回".
    assert_eq!(n.hits("。次"), Vec::<usize>::new());
    assert_eq!(n.hits("次回"), vec![5]);
}

#[test]
fn one_character_terms_are_token_prefixes() {
    let n = sample();
    assert_eq!(n.hits("母"), vec![0]);
    assert_eq!(n.hits("知"), vec![0, 1]);
    assert_eq!(n.hits("父"), vec![5]);
    // At the end of a note and before a space.
    assert_eq!(n.hits("談"), vec![2, 3]);
    assert_eq!(n.hits("定"), vec![5]);
    assert_eq!(n.hits("祖"), Vec::<usize>::new());
}

#[test]
fn every_term_must_match() {
    let n = sample();
    assert_eq!(n.hits("認知 母"), vec![0]);
    assert_eq!(n.hits("認知 児童"), Vec::<usize>::new());
    assert_eq!(n.hits("認知症 同居"), vec![0]);
    assert_eq!(n.hits("相談所 児"), vec![2]);
    assert_eq!(n.hits("知 認める"), vec![1]);
    assert_eq!(
        n.hits("知　母"),
        vec![0],
        "a full-width space separates terms"
    );
}

#[test]
fn full_width_and_half_width_fold_together() {
    let n = sample();
    assert_eq!(n.hits("abc"), vec![3]);
    assert_eq!(n.hits("ＡＢＣ"), vec![3]);
    assert_eq!(n.hits("aBc会社"), vec![3]);
    assert_eq!(n.hits("ab"), vec![3]);
    assert_eq!(n.hits("Ｃ"), vec![3]);
    assert_eq!(n.hits("カタカナ"), vec![4]);
    assert_eq!(n.hits("ｶﾀｶﾅ"), vec![4]);
    assert_eq!(n.hits("カタ"), vec![4]);
    assert_eq!(n.hits("ﾅ"), vec![4]);
}

#[test]
fn hits_name_the_person_and_show_the_term() {
    let n = sample();
    let r = n.store.search("児童", 10).unwrap();
    assert_eq!(r.contacts.len(), 1);
    let hit = &r.contacts[0];
    assert_eq!(hit.person, n.person);
    assert_eq!(hit.person_name, "山田 花子");
    assert_eq!(hit.at, "2026-11-01T01:02:00.000Z");
    assert!(hit.excerpt.contains("児童"), "{}", hit.excerpt);
    // Excerpts are cut from the note as written.
    let r = n.store.search("abc", 10).unwrap();
    assert!(
        r.contacts[0].excerpt.contains("ＡＢＣ"),
        "{}",
        r.contacts[0].excerpt
    );
}

#[test]
fn contact_total_counts_beyond_the_limit_newest_first() {
    let n = notes(&["母と面談", "母に電話", "母の通院", "父と面談"]);
    let r = n.store.search("母", 2).unwrap();
    assert_eq!(r.contact_total, 3);
    let got: Vec<ContactId> = r.contacts.iter().map(|h| h.id).collect();
    assert_eq!(got, vec![n.ids[2], n.ids[1]]);
    assert_eq!(n.store.search("面談", 0).unwrap().contact_total, 2);
}

#[test]
fn empty_queries_find_nothing() {
    let n = sample();
    for q in ["", "   ", "\u{3000}"] {
        let r = n.store.search(q, 10).unwrap();
        assert!(r.contacts.is_empty() && r.persons.is_empty());
        assert_eq!(r.contact_total, 0);
    }
}

#[test]
fn query_syntax_characters_are_searched_as_text() {
    let n = notes(&[
        "\"引用\" と AND OR NOT の話",
        "a*b と (c) と -d",
        "普通のメモ",
    ]);
    assert_eq!(n.hits("\"引用\""), vec![0]);
    assert_eq!(n.hits("AND"), vec![0]);
    assert_eq!(n.hits("OR"), vec![0]);
    assert_eq!(n.hits("a*b"), vec![1]);
    assert_eq!(n.hits("*"), vec![1]);
    assert_eq!(n.hits("(c)"), vec![1]);
    assert_eq!(n.hits("-d"), vec![1]);
    assert_eq!(n.hits("\""), vec![0]);
}

#[test]
fn persons_are_found_by_name_and_by_kana_in_either_script() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let yamada = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    let tanaka = dev.add_person(&mut store, person("田中 太郎", "タナカ タロウ"));
    let maria = dev.add_person(&mut store, person("ＭＡＲＩＡ サントス", "まりあ さんとす"));
    let found = |q: &str| -> Vec<PersonId> {
        let mut v: Vec<PersonId> = store
            .search(q, 10)
            .unwrap()
            .persons
            .into_iter()
            .map(|p| p.id)
            .collect();
        v.sort();
        v
    };
    let mut both = vec![yamada, tanaka];
    both.sort();
    assert_eq!(found("山田"), vec![yamada]);
    assert_eq!(found("やまだ"), vec![yamada]);
    assert_eq!(found("ヤマダ"), vec![yamada]);
    assert_eq!(found("ﾔﾏﾀﾞ"), vec![yamada]);
    assert_eq!(found("はなこ 山田"), vec![yamada]);
    assert_eq!(found("たなか"), vec![tanaka]);
    assert_eq!(found("タナカ"), vec![tanaka]);
    assert_eq!(found("田"), both);
    assert_eq!(found("maria"), vec![maria]);
    assert_eq!(found("サントス"), vec![maria]);
    assert_eq!(found("さんとす"), vec![maria]);
    assert_eq!(found("山田 たなか"), Vec::<PersonId>::new());
    assert_eq!(found("佐藤"), Vec::<PersonId>::new());
}

#[test]
fn editing_a_note_reindexes_it() {
    let mut n = sample();
    let c = n.ids[2];
    n.dev.edit(
        &mut n.store,
        EntityKind::Contact,
        c.into(),
        json!({"note": "就労支援の相談。"}),
    );
    assert_eq!(n.hits("児童"), Vec::<usize>::new());
    assert_eq!(n.hits("相談所"), Vec::<usize>::new());
    assert_eq!(n.hits("就労"), vec![2]);
    assert_eq!(n.hits("就労支援"), vec![2]);
    assert_eq!(n.hits("援"), vec![2]);
    // Another field changes: the note stays indexed once.
    n.dev.edit(
        &mut n.store,
        EntityKind::Contact,
        c.into(),
        json!({"stage": 2}),
    );
    assert_eq!(n.hits("就労"), vec![2]);
    assert_eq!(n.hits("就労支援"), vec![2]);
    // The index agrees with itself after all of this.
    n.store.integrity_check().unwrap();
}

#[test]
fn deleted_contacts_leave_the_results_and_come_back_when_edited_again() {
    let mut n = sample();
    let a = n.ids[0];
    n.dev.delete(&mut n.store, EntityKind::Contact, a.into());
    assert_eq!(n.hits("認知"), Vec::<usize>::new());
    assert_eq!(n.hits("認知症"), Vec::<usize>::new());
    assert_eq!(n.hits("知"), vec![1]);
    assert_eq!(n.store.search("母", 10).unwrap().contact_total, 0);
    assert!(n.store.timeline(n.person, 10).unwrap().len() == 5);

    // An edit made after the deletion brings it back (merge keeps the later edit), with the
    // edited note indexed.
    n.dev.edit(
        &mut n.store,
        EntityKind::Contact,
        a.into(),
        json!({"note": "認知症の疑いは否定。"}),
    );
    assert_eq!(n.hits("認知"), vec![0]);
    assert_eq!(n.hits("否定"), vec![0]);
    assert_eq!(n.hits("母"), Vec::<usize>::new());
    n.store.integrity_check().unwrap();
}

#[test]
fn deleting_a_person_removes_them_from_person_results() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    assert_eq!(store.search("やまだ", 10).unwrap().persons.len(), 1);
    dev.delete(&mut store, EntityKind::Person, p.into());
    assert!(store.search("やまだ", 10).unwrap().persons.is_empty());
    assert!(store.caseload_row(p).unwrap().is_none());
}

/// Characters for random notes: kanji that pair up, width variants that fold together, a
/// letter in both cases, and spaces.
const ALPHABET: &[char] = &['認', '知', '母', '症', 'a', 'Ａ', 'A', 'ｱ', 'ア', ' ', '　'];

fn text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), len)
        .prop_map(|v| v.into_iter().collect())
}

/// What a search should find: contacts whose normalized note contains every normalized term.
fn naive(notes: &[String], query: &str) -> Vec<usize> {
    let terms: Vec<String> = normalize(query)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect();
    if terms.is_empty() {
        return Vec::new();
    }
    notes
        .iter()
        .enumerate()
        .filter(|(_, n)| {
            let n = normalize(n);
            terms.iter().all(|t| n.contains(t.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn search_agrees_with_a_naive_substring_search(
        texts in proptest::collection::vec(text(0..10), 1..8),
        queries in proptest::collection::vec(text(1..5), 1..12),
    ) {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let n = notes(&refs);
        for q in &queries {
            prop_assert_eq!(n.hits(q), naive(&texts, q), "query {:?} over {:?}", q, texts);
        }
        // Deterministic 1-, 2- and 3-character queries taken from the notes themselves.
        let mut probes = BTreeSet::new();
        for t in &texts {
            let chars: Vec<char> = normalize(t).chars().collect();
            for w in 1..=3 {
                for win in chars.windows(w) {
                    probes.insert(win.iter().collect::<String>());
                }
            }
        }
        for q in &probes {
            prop_assert_eq!(n.hits(q), naive(&texts, q), "probe {:?} over {:?}", q, texts);
        }
    }
}

/// Saves queue their note for the background indexer (the save does not pay for indexing);
/// the thread empties the queue by itself.
#[test]
fn the_background_thread_indexes_saved_notes() {
    let texts: Vec<String> = (0..40).map(|i| format!("訪問記録その{i}")).collect();
    // `_fx` keeps the store's folder for the whole test.
    let Notes { store, _fx, .. } = notes(&texts.iter().map(String::as_str).collect::<Vec<_>>());
    // Bounded wait for the background thread (period 250 ms): at most 20 s.
    let mut waited = 0;
    while store.index_pending().unwrap() > 0 && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert_eq!(
        store.index_pending().unwrap(),
        0,
        "the queue was not emptied"
    );
    assert_eq!(store.search("訪問記録", 100).unwrap().contact_total, 40);
}

/// Each search indexes what is queued as a segment of its own; the background thread merges
/// such segments (eight neighbours of one size at a time) while the store is open, and every
/// note is still found, once, after the merges.
#[test]
fn the_background_thread_merges_small_segments() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    for i in 0..40 {
        let at = format!("2026-11-01T10:{i:02}:00+09:00");
        dev.add_contact(&mut store, contact(p, &at, &format!("統合する記録その{i}")));
        // The search indexes the one queued note: one segment per note.
        assert_eq!(
            store.search("統合する記録", 100).unwrap().contact_total,
            i + 1
        );
    }
    let segments = || -> i64 {
        fx.raw()
            .query_row("SELECT count(*) FROM gram_segs", [], |r| r.get(0))
            .unwrap()
    };
    // Bounded wait for the background thread (period 250 ms): at most 20 s. Forty one-note
    // segments merge into five of eight notes.
    let mut waited = 0;
    while segments() > 7 && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert!(segments() <= 7, "{} segments left unmerged", segments());
    let r = store.search("統合する記録", 100).unwrap();
    assert_eq!(r.contact_total, 40);
    assert_eq!(store.search("その17", 100).unwrap().contact_total, 1);
}

/// While a hold is alive (the device holds one while it syncs) the background thread neither
/// indexes queued notes nor merges segments; both resume when the hold is dropped.
#[test]
fn a_background_hold_pauses_indexing_and_merges_until_dropped() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let hold = store.hold_background_work();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    for i in 0..16 {
        let at = format!("2026-11-01T10:{i:02}:00+09:00");
        dev.add_contact(&mut store, contact(p, &at, &format!("保留中の記録その{i}")));
        // The search indexes the one queued note: one segment per note.
        store.search("保留中", 1).unwrap();
    }
    for i in 16..18 {
        let at = format!("2026-11-01T10:{i:02}:00+09:00");
        dev.add_contact(&mut store, contact(p, &at, &format!("保留中の記録その{i}")));
    }
    let segments = || -> i64 {
        fx.raw()
            .query_row("SELECT count(*) FROM gram_segs", [], |r| r.get(0))
            .unwrap()
    };
    // Six periods of the background thread (250 ms each).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(store.index_pending().unwrap(), 2, "indexed while held");
    assert_eq!(segments(), 16, "merged while held");
    drop(hold);
    // Bounded wait: at most 20 s. Sixteen one-note segments merge into two of eight; the two
    // queued notes make a third.
    let mut waited = 0;
    while (store.index_pending().unwrap() > 0 || segments() > 3) && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert_eq!(
        store.index_pending().unwrap(),
        0,
        "not indexed after the hold"
    );
    assert!(segments() <= 3, "{} segments left unmerged", segments());
    assert_eq!(store.search("保留中", 100).unwrap().contact_total, 18);
}

/// A note saved just before the app stops (its indexing still queued) is found after the
/// next start: the queue is in the store and the search indexes what remains.
#[test]
fn a_note_queued_for_indexing_survives_a_restart() {
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut dev = Device::new(1);
    let p = dev.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    dev.add_contact(
        &mut store,
        contact(p, "2026-11-01T10:00:00+09:00", "閉じる直前の記録"),
    );
    drop(store);
    let store = fx.open();
    let r = store.search("直前の", 10).unwrap();
    assert_eq!(r.contact_total, 1);
    assert_eq!(store.index_pending().unwrap(), 0);
}

/// A pulled page that leaves many contacts queued (a fresh device catching up) is indexed in
/// its own transaction: every note is searchable as soon as the page is committed. A small
/// page leaves its notes to the background thread, and a search still finds them.
#[test]
fn a_large_pulled_page_is_indexed_when_it_commits() {
    use tsunagi_store::PageWrite;
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut remote = Device::new(2);
    let p = EntityId::from_uuid(uuid::Uuid::now_v7());
    let page = |remote: &mut Device, store: &Store, n: usize, word: &str| {
        let mut changes = vec![remote.set(
            store,
            EntityKind::Person,
            p,
            person("山田 花子", "やまだ はなこ"),
        )];
        for i in 0..n {
            let id = EntityId::from_uuid(uuid::Uuid::now_v7());
            let at = format!("2026-11-01T10:{:02}:00+09:00", i % 60);
            changes.push(remote.set(
                store,
                EntityKind::Contact,
                id,
                contact(p.into(), &at, &format!("{word}その{i}")),
            ));
        }
        // As the sync engine receives them: each with its body in the store's format.
        let changes = changes.iter().map(received).collect();
        PageWrite {
            changes,
            ..PageWrite::default()
        }
    };
    let big = page(&mut remote, &store, 300, "同期した記録");
    assert_eq!(
        store.commit_page(&big, "2026-11-21T00:00:00Z").unwrap(),
        301
    );
    assert_eq!(
        store.index_pending().unwrap(),
        0,
        "the large page left notes queued"
    );
    assert_eq!(
        store.search("同期した記録", 500).unwrap().contact_total,
        300
    );

    let small = page(&mut remote, &store, 3, "小さな頁");
    store.commit_page(&small, "2026-11-21T00:00:01Z").unwrap();
    assert_eq!(store.search("小さな頁", 10).unwrap().contact_total, 3);
    assert_eq!(store.index_pending().unwrap(), 0);
}

/// A large page indexes the notes it writes as it goes (every 2,048, then the rest at the
/// end), from the states it has just written: a contact written twice in the page (before and
/// after such a step, or both within one) is found by its last note only, a contact deleted
/// in the page not at all, and a local save still queued is indexed with the page.
#[test]
fn a_large_page_indexes_the_last_note_it_wrote_for_each_contact() {
    use tsunagi_store::PageWrite;
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut local = Device::new(1);
    let mut remote = Device::new(2);
    let p = local.add_person(&mut store, person("山田 花子", "やまだ はなこ"));
    local.add_contact(
        &mut store,
        contact(p, "2026-11-01T09:00:00+09:00", "手元で書いた記録"),
    );
    let n = 2_100;
    let mut changes = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = EntityId::from_uuid(uuid::Uuid::now_v7());
        let at = format!("2026-11-01T10:{:02}:00+09:00", i % 60);
        let state = tsunagi_core::merge::EntityState::new(EntityKind::Contact, id);
        changes.push(remote.set_on(&state, contact(p, &at, &format!("最初の記録その{i}"))));
        ids.push((id, state));
    }
    // Contact 5 was indexed at the step after 2,048 notes; contact 2,099 was not yet: both
    // corrected later in the page. Contact 7 deleted in the page.
    for i in [5, n - 1] {
        let (id, _) = ids[i];
        let mut base = tsunagi_core::merge::EntityState::new(EntityKind::Contact, id);
        base.apply(&changes[i]).unwrap();
        changes.push(remote.set_on(&base, json!({"note": "直した記録"})));
    }
    changes.push(remote.tombstone(EntityKind::Contact, ids[7].0));
    let changes = changes.iter().map(received).collect();
    let page = PageWrite {
        changes,
        ..PageWrite::default()
    };
    store.commit_page(&page, "2026-11-21T00:00:00Z").unwrap();
    assert_eq!(
        store.index_pending().unwrap(),
        0,
        "the page left notes queued"
    );
    assert_eq!(
        store.search("最初の記録", 5000).unwrap().contact_total,
        n as u64 - 3
    );
    let fixed = store.search("直した記録", 10).unwrap();
    let mut found: Vec<EntityId> = fixed.contacts.iter().map(|h| h.id.into()).collect();
    found.sort();
    let mut expected = vec![ids[5].0, ids[n - 1].0];
    expected.sort();
    assert_eq!(found, expected);
    let sevens = store.search("最初の記録その7", 500).unwrap();
    assert!(
        sevens
            .contacts
            .iter()
            .all(|h| EntityId::from(h.id) != ids[7].0)
    );
    let expected = (0..n)
        .filter(|i| i.to_string().starts_with('7') && *i != 7)
        .count();
    assert_eq!(sevens.contact_total, expected as u64);
    assert_eq!(store.search("手元で書いた", 10).unwrap().contact_total, 1);
}

/// A page committed in slices (the app's background sync: no transaction holds the write lock
/// long) ends exactly as one committed whole: the same records, every note searchable, the
/// same summaries; and its cursor is written by the last slice only, so a crash between slices
/// re-pulls the page.
#[test]
fn a_page_committed_in_slices_ends_as_one_committed_whole() {
    use tsunagi_store::PageWrite;
    let whole_fx = Fixture::new();
    let sliced_fx = Fixture::new();
    let mut whole = whole_fx.create();
    let mut sliced = sliced_fx.create();
    let mut remote = Device::new(2);
    let p = EntityId::from_uuid(uuid::Uuid::now_v7());
    let mut changes = vec![remote.set(
        &whole,
        EntityKind::Person,
        p,
        person("山田 花子", "やまだ はなこ"),
    )];
    for i in 0..400 {
        let id = EntityId::from_uuid(uuid::Uuid::now_v7());
        let at = format!("2026-11-01T{:02}:{:02}:00+09:00", 8 + i / 60, i % 60);
        changes.push(remote.set(
            &whole,
            EntityKind::Contact,
            id,
            contact(p.into(), &at, &format!("分けて書いた記録その{i}")),
        ));
    }
    let page = PageWrite {
        changes: changes.iter().map(received).collect(),
        cursor: Some(("sync.cursor".into(), 401)),
        ..PageWrite::default()
    };
    assert_eq!(
        whole.commit_page(&page, "2026-11-21T00:00:00Z").unwrap(),
        401
    );
    // A zero slice: every record in a transaction of its own.
    assert_eq!(
        sliced
            .commit_page_sliced(
                &page,
                "2026-11-21T00:00:00Z",
                Some(std::time::Duration::ZERO)
            )
            .unwrap(),
        401
    );
    for store in [&whole, &sliced] {
        assert_eq!(store.meta("sync.cursor").unwrap().as_deref(), Some("401"));
        assert_eq!(store.index_pending().unwrap(), 0, "notes left queued");
        assert_eq!(
            store.search("分けて書いた記録", 500).unwrap().contact_total,
            400
        );
        assert_eq!(store.timeline(p.into(), 1000).unwrap().len(), 400);
    }
    assert_eq!(
        whole.caseload_row(p.into()).unwrap(),
        sliced.caseload_row(p.into()).unwrap()
    );
    // 400 one-note segments: the background thread merges them meanwhile, and every search
    // sees one state of the index, never rows in the middle of a move.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    let mut searches = 0;
    while std::time::Instant::now() < until {
        assert_eq!(
            sliced.search("記録その", 500).unwrap().contact_total,
            400,
            "search {searches} during the merges"
        );
        searches += 1;
    }
    // The same page again (a re-pull after a crash) changes nothing.
    assert_eq!(
        sliced
            .commit_page_sliced(
                &page,
                "2026-11-21T00:00:01Z",
                Some(std::time::Duration::ZERO)
            )
            .unwrap(),
        0
    );
    // A crash after the first slices: the cursor is not there yet.
    let third = Fixture::new();
    let mut cut = third.create();
    let first_half = PageWrite {
        changes: page.changes[..200].to_vec(),
        ..PageWrite::default()
    };
    cut.commit_page_sliced(
        &first_half,
        "2026-11-21T00:00:00Z",
        Some(std::time::Duration::ZERO),
    )
    .unwrap();
    assert_eq!(cut.meta("sync.cursor").unwrap(), None);
}

/// A time-sliced sync begins no transaction while a command of the app runs (the app's
/// commands wait for one slice at most); a page written whole (the CLI's way) does not wait.
#[test]
fn a_sliced_page_waits_for_a_running_command_of_the_app() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tsunagi_store::PageWrite;
    let fx = Fixture::new();
    let mut store = fx.create();
    let mut remote = Device::new(2);
    let page_of = |remote: &mut Device, store: &Store, name: &str| PageWrite {
        changes: vec![received(&remote.set(
            store,
            EntityKind::Person,
            EntityId::from_uuid(uuid::Uuid::now_v7()),
            person(name, "やまだ はなこ"),
        ))],
        ..PageWrite::default()
    };
    let page = page_of(&mut remote, &store, "山田 花子");
    let command = store.foreground();
    let ended = Arc::new(AtomicBool::new(false));
    let ended_by = Arc::clone(&ended);
    let app = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        ended_by.store(true, Ordering::Release);
        drop(command);
    });
    let applied = store
        .commit_page_sliced(
            &page,
            "2026-11-21T00:00:00Z",
            Some(Duration::from_millis(30)),
        )
        .unwrap();
    assert!(
        ended.load(Ordering::Acquire),
        "the sync wrote while the app's command was running"
    );
    assert_eq!(applied, 1);
    app.join().unwrap();
    let page = page_of(&mut remote, &store, "山田 太郎");
    let _running = store.foreground();
    assert_eq!(store.commit_page(&page, "2026-11-21T00:00:01Z").unwrap(), 1);
}

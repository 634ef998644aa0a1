// End-to-end tests of the worker's day in the real built app (WebDriver under Xvfb) against a real tsunagi-server on 127.0.0.1 and a second, headless device of the same team: enrollment, records, offline work, sync, a conflict, invalid input, a draft that survives a crash, locking and the English switch — with screenshots and axe-core on every main screen.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { By } from 'selenium-webdriver';
import { AppSession } from '../lib/app.mjs';
import { byTestId, click, onScreen, screenshot, tap } from '../lib/driver.mjs';
import { alive } from '../lib/procs.mjs';
import {
  ScreenBook,
  attr,
  backendCall,
  fieldError,
  go,
  gone,
  latinOutsideQuotes,
  pendingCount,
  present,
  pressed,
  rows,
  selectByText,
  setValue,
  syncAndWait,
  syncState,
  text,
  textOf,
  typeInto,
  unlockWithKeypad,
  value,
  waitText,
  waitUntil,
} from '../lib/ui.mjs';
import { World, screensDir } from '../lib/world.mjs';

const TEAM = 'csw-e2e';
const PIN = '246813';
const WORKER = '山田 花子';
const COLLEAGUE = '鈴木 一郎';
const PERSON = { name: '渡辺 美咲', kana: 'わたなべ みさき', district: '辻堂', phone: '0466-10-0000' };

/** A local calendar date `days` from today, as YYYY-MM-DD (the app's dates are local). */
function isoDate(days = 0) {
  const d = new Date();
  d.setDate(d.getDate() + days);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Asserts a message a worker sees is Japanese (Latin letters only inside 「」 or in "PIN"). */
function assertJapanese(message, where) {
  assert.ok(message && message.trim().length > 0, `${where}: no message shown`);
  assert.deepEqual(latinOutsideQuotes(message), [], `${where}: the message has Latin text outside 「」: ${message}`);
  assert.match(message, /[\u3040-\u30ff\u4e00-\u9fff]/, `${where}: the message is not Japanese: ${message}`);
}

let world;
let session;
let t0 = Date.now();
/** With TSUNAGI_E2E_TRACE set: how long each step took (to find slow ones). */
function trace(what) {
  if (process.env.TSUNAGI_E2E_TRACE) console.error(`${String(Date.now() - t0).padStart(6)} ms  ${what}`);
  t0 = Date.now();
}
let book;
const s = {}; // what earlier steps made: person id, the headless device, ...

/** The WebDriver of the app session open now. */
const d = () => session.driver;

/** An earlier step did not complete: this one cannot start (no screenshot of that). */
class Unmet extends Error {}

/** Fails at once, naming the earlier step, when something an earlier step makes is missing. */
function needs(key, step) {
  if (!s[key]) throw new Unmet(`needs ${key} from "${step}", which did not complete`);
  return s[key];
}

async function openPerson(id) {
  // Through 今日の予定, so the page is opened anew (and a sheet left open by a failed step closes).
  await go(d(), '#/today');
  await onScreen(d(), 'today');
  await go(d(), `#/person/${id}`);
  const el = await onScreen(d(), 'person');
  await waitUntil(async () => (await el.getAttribute('data-id')) === id, { message: `the person page of ${id}` });
}

before(async () => {
  world = await World.create('worker');
  await world.bootstrap();
  await world.createTeam(TEAM, 'csw');
  s.workerId = await world.createUser(WORKER, TEAM);
  s.colleagueId = await world.createUser(COLLEAGUE, TEAM);
  s.bundle = await world.provision(s.workerId, world.path('bundles', 'yamada.tsunagi-enroll.json'));
  s.appData = world.path('app-device');
  s.appBin = path.join(world.bin, 'tsunagi');
  world.onCleanup(() => session?.close());
  session = await AppSession.open({ app: s.appBin, data: s.appData });
  book = new ScreenBook(d(), screensDir());
});

after(async () => {
  await world?.cleanup();
});

/**
 * A test of this file's scenario; when it fails, the screen as it was is saved as
 * failed-<n>.png next to the screenshots (and the failure rethrown).
 */
let failures = 0;
function step(name, fn) {
  test(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      if (e instanceof Unmet) throw e;
      failures += 1;
      try {
        if (session?.driver) {
          const file = await screenshot(d(), screensDir(), `failed-${failures}`);
          e.message = `${e.message}\n(screen at the failure: ${file})`;
        }
      } catch {
        // the app may be gone: the failure itself matters
      }
      throw e;
    }
  });
}

step('1. enrollment: bundle inspected, PIN set, fingerprints equal tsunagi-admin device show, approval, 今日の予定', async () => {
  trace('before');
  await onScreen(d(), 'enroll');
  // Pasted, as IT's bundle arrives (a long text: set at once, as a paste does).
  await setValue(d(), 'enroll-bundle', s.bundle.text);
  await tap(d(), 'enroll-inspect');
  await byTestId(d(), 'enroll-info');
  assert.equal(await text(d(), 'enroll-info-user'), WORKER);
  assert.equal(await text(d(), 'enroll-info-team'), `${TEAM}（worker）`);
  assert.equal(await text(d(), 'enroll-info-server'), world.server.url);
  trace('inspected');

  // A PIN of one repeated digit is refused in Japanese, and the PIN field is marked.
  await typeInto(d(), 'enroll-pin', '111111');
  await typeInto(d(), 'enroll-pin-repeat', '111111');
  await tap(d(), 'enroll-submit');
  await waitUntil(async () => (await attr(d(), 'enroll-pin', 'aria-invalid')) === 'true', { message: 'the weak PIN to be marked' });
  assertJapanese(await fieldError(d(), 'enroll-pin'), 'weak PIN');
  assert.equal(await present(d(), 'enroll-result'), false, 'a weak PIN must not enroll');
  assert.equal(await value(d(), 'enroll-bundle'), s.bundle.text, 'the bundle stays as pasted');
  trace('weak pin');

  // Typing a new PIN clears the stale message; two PINs that differ are caught while typing.
  await typeInto(d(), 'enroll-pin', PIN);
  assert.equal(await attr(d(), 'enroll-pin', 'aria-invalid'), 'false');
  assert.equal(await fieldError(d(), 'enroll-pin'), null);
  await typeInto(d(), 'enroll-pin-repeat', PIN.slice(0, 5));
  await byTestId(d(), 'enroll-pin-mismatch');
  await typeInto(d(), 'enroll-pin-repeat', PIN);
  await gone(d(), 'enroll-pin-mismatch');
  await book.capture('enroll-bundle');

  trace('mismatch + capture');
  await tap(d(), 'enroll-submit');
  await byTestId(d(), 'enroll-result', 30000);
  trace('enrolled');
  const deviceId = await text(d(), 'enroll-device-id');
  const sig = await text(d(), 'enroll-sig-fingerprint');
  const kem = await text(d(), 'enroll-kem-fingerprint');
  assert.match(await text(d(), 'enroll-recovery-code'), /\S{8,}/, 'the one-time recovery code is shown');
  const shown = await world.admin(['device', 'show', deviceId]);
  assert.equal(shown.sig_fingerprint, sig, 'DevSig fingerprint on the tablet = tsunagi-admin device show');
  assert.equal(shown.kem_fingerprint, kem, 'DevKEM fingerprint on the tablet = tsunagi-admin device show');
  assert.equal(shown.user_name, WORKER);
  assert.equal(shown.state, 'pending');
  await byTestId(d(), 'enroll-approval-state');
  assert.equal(await present(d(), 'enroll-approved'), false, 'not approved before IT approves');
  await book.capture('enroll-fingerprints');

  trace('compared + capture');
  // IT types the device code as the tablet shows it; a wrong one is refused.
  const code = await text(d(), 'enroll-device-code');
  assert.match(code, /^([0-9a-f]{4} ){7}[0-9a-f]{4}$/, 'the device code is 8 groups of 4 hex digits');
  await assert.rejects(world.admin(['device', 'approve', deviceId, '--code', '0000 0000 0000 0000']), /code_mismatch|does not match/);
  await world.admin(['device', 'approve', deviceId, '--code', code]);
  trace('approved');
  await tap(d(), 'enroll-check-approval');
  await byTestId(d(), 'enroll-approved', 30000);
  trace('checked');
  await tap(d(), 'enroll-continue');
  await onScreen(d(), 'today');
  trace('today');
  await waitText(d(), 'header-user', `${WORKER}・${TEAM}`);
  assert.equal((await world.admin(['device', 'show', deviceId])).state, 'active');
  s.deviceId = deviceId;
});

step('2. adding a person: Japanese name, kana, district, program', async () => {
  needs('deviceId', '1. enrollment');
  await tap(d(), 'nav-cases');
  await onScreen(d(), 'cases');
  await tap(d(), 'cases-add-person');
  await onScreen(d(), 'person-new');
  await typeInto(d(), 'person-form-name', PERSON.name);
  await typeInto(d(), 'person-form-kana', PERSON.kana);
  await selectByText(d(), 'person-form-district', PERSON.district);
  await tap(d(), 'person-form-programs-csw');
  await typeInto(d(), 'person-form-phone', PERSON.phone);
  await tap(d(), 'person-form-save');
  const page = await onScreen(d(), 'person');
  const id = await page.getAttribute('data-id');
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.match(await text(d(), 'person-name'), new RegExp(`^${PERSON.name}`));
  const head = await textOf(d(), page);
  assert.ok(head.includes(PERSON.kana) && head.includes(PERSON.district) && head.includes('コミュニティソーシャルワーカー'), head);

  // In 担当ケース, with the filters open and the program chosen.
  await tap(d(), 'nav-cases');
  await onScreen(d(), 'cases');
  await tap(d(), 'cases-filters-toggle');
  await byTestId(d(), 'cases-filters');
  await tap(d(), 'cases-filter-program-csw');
  await waitUntil(async () => (await rows(d(), 'caseload-row')).some((r) => r.id === id), { message: 'the person in the filtered caseload' });
  const row = (await rows(d(), 'caseload-row')).find((r) => r.id === id);
  assert.ok(row.text.includes(PERSON.name) && row.text.includes(PERSON.district), row.text);
  await book.capture('cases-filters');
  await tap(d(), 'cases-filters-clear');
  await tap(d(), 'cases-filters-toggle');
  s.personId = id;
});

step('3. 不在・置き手紙 from the person page in at most 3 taps, then on the timeline', async () => {
  const id = needs('personId', '2. adding a person');
  await openPerson(id);
  const before = (await rows(d(), 'timeline-row')).length;
  let taps = 0;
  const counted = async (testid) => {
    taps += 1;
    await tap(d(), testid);
  };
  await counted('person-quick-letter');
  await byTestId(d(), 'quick-sheet');
  const prefill = await text(d(), 'quick-prefill');
  assert.ok(prefill.includes('訪問') && prefill.includes('手紙を置いた'), `prefilled as a visit with a letter left: ${prefill}`);
  await book.capture('quick-capture', { top: false });
  await counted('quick-save');
  await byTestId(d(), 'person-saved');
  await gone(d(), 'quick-sheet');
  assert.ok(taps <= 3, `不在・置き手紙 took ${taps} taps from the person page (at most 3)`);
  const after = await rows(d(), 'timeline-row');
  assert.equal(after.length, before + 1);
  const newest = await after[0].el.getAttribute('data-outcome');
  assert.equal(newest, 'letter_left');
  assert.equal(await after[0].el.getAttribute('data-channel'), 'visit');
});

step('4. a full visit note: on the timeline, the stage chart and 今日の予定; found by search', async () => {
  const id = needs('personId', '2. adding a person');
  await openPerson(id);
  await tap(d(), 'person-add-contact');
  await onScreen(d(), 'contact');
  await tap(d(), 'contact-channel-visit');
  await tap(d(), 'contact-outcome-met');
  const note = '玄関先で15分ほど話せた。紫陽花の話題で笑顔が見られた。';
  const obs = '室内に郵便物がたまっている。';
  const next = '地域の茶話会を案内する';
  const due = isoDate(7);
  await typeInto(d(), 'contact-note', note);
  await typeInto(d(), 'contact-observations', obs);
  await tap(d(), 'contact-stage-2');
  await typeInto(d(), 'contact-next-step', next);
  await setValue(d(), 'contact-next-due', due);
  await book.capture('visit-note');
  await tap(d(), 'contact-save');
  await onScreen(d(), 'person');
  await waitUntil(async () => (await rows(d(), 'timeline-row')).length === 2, { message: 'two contacts on the timeline' });
  const visit = (await rows(d(), 'timeline-row')).find((r) => r.text.includes(note));
  assert.ok(visit, 'the visit note on the timeline');
  assert.equal(await visit.el.getAttribute('data-outcome'), 'met');
  assert.equal(await visit.el.getAttribute('data-channel'), 'visit');
  for (const part of [obs, next, '段階 2']) assert.ok(visit.text.includes(part), `timeline row lacks ${part}: ${visit.text}`);
  const stage = await text(d(), 'person-stage');
  assert.match(stage, /2/, stage);
  const chart = await byTestId(d(), 'person-stage-chart');
  assert.equal(await chart.getAttribute('aria-label'), 'つながりの段階の推移（1件の記録）');
  await waitUntil(async () => (await chart.findElements(By.css('svg path'))).length > 0, { message: 'the stage chart drawn' });

  await tap(d(), 'nav-today');
  await onScreen(d(), 'today');
  await waitUntil(async () => (await rows(d(), 'today-row')).some((r) => r.id === id && r.text.includes(next)), {
    message: 'the next step on 今日の予定',
  });
  await book.capture('today');

  await tap(d(), 'nav-cases');
  await onScreen(d(), 'cases');
  await typeInto(d(), 'cases-search', '紫陽花');
  await waitUntil(async () => (await rows(d(), 'search-contact-row')).some((r) => r.text.includes(PERSON.name)), {
    message: 'the note found by search',
  });
  await book.capture('search-results');
  await setValue(d(), 'cases-search', '');
  await gone(d(), 'cases-results');
});

step('5. EPDS: item 10 raises the self-harm alert live, before saving; the saved row shows it', async () => {
  const id = needs('personId', '2. adding a person');
  await openPerson(id);
  await tap(d(), 'person-add-assessment');
  await onScreen(d(), 'assessment-picker');
  await tap(d(), 'assessment-pick-epds');
  await onScreen(d(), 'assessment');
  // Items 1, 2, 4 score the key; 3 and 5–9 are reverse scored (key 2 = 1 point): 9 points.
  const keys = ['1', '1', '2', '1', '2', '2', '2', '2', '2'];
  for (const [i, k] of keys.entries()) await tap(d(), `assessment-item-${i + 1}-${k}`);
  await waitUntil(async () => (await text(d(), 'assessment-partial')).includes('9'), { message: 'the running total 9' });
  assert.equal(await present(d(), 'assessment-alert'), false, 'no alert before item 10');
  // Item 10, key 3: reverse scored, 0 points — no alert; the total 9 reaches the cut-off band.
  await tap(d(), 'assessment-item-10-3');
  await waitUntil(async () => (await present(d(), 'assessment-total')) && (await text(d(), 'assessment-total')) === '9', {
    message: 'the complete total 9',
  });
  assert.equal(await present(d(), 'assessment-alert'), false, 'item 10 with 0 points raises no alert');
  assert.equal(await attr(d(), 'assessment-band', 'data-key'), 'possible_depression');
  // Item 10, key 1: 2 points — the alert shows at once, nothing saved yet.
  await tap(d(), 'assessment-item-10-1');
  const asked = Date.now();
  const alert = await byTestId(d(), 'assessment-alert', 10000);
  trace(`alert shown ${Date.now() - asked} ms after the answer`);
  assert.equal(await alert.getAttribute('data-key'), 'self_harm');
  assert.ok((await textOf(d(), alert)).includes('項目10'), await textOf(d(), alert));
  await waitUntil(async () => (await text(d(), 'assessment-total')) === '11', { message: 'the total 11' });
  assert.ok(await present(d(), 'screen-assessment'), 'still on the form: not saved');
  await book.capture('assessment-alert');

  await tap(d(), 'assessment-save');
  await onScreen(d(), 'person');
  await byTestId(d(), 'person-panel-assessments');
  const [row] = await rows(d(), 'assessment-row');
  assert.equal(await row.el.getAttribute('data-instrument'), 'epds');
  const rowAlert = await row.el.findElement(By.css('[data-testid="assessment-row-alert"]'));
  assert.ok((await textOf(d(), rowAlert)).includes('項目10'), await textOf(d(), rowAlert));
  assert.ok(row.text.includes('11'), row.text);
});

step('plan, meeting, consent and share forms; every tab of the person page', async () => {
  const id = needs('personId', '2. adding a person');
  await openPerson(id);
  await tap(d(), 'person-tab-plans');
  await tap(d(), 'person-plan-add');
  await onScreen(d(), 'plan-new');
  await typeInto(d(), 'plan-goals-input', '地域の茶話会に月1回参加する');
  await typeInto(d(), 'plan-role-agency', 'バックアップふじさわ社協');
  await typeInto(d(), 'plan-role-task', '茶話会への同行');
  await setValue(d(), 'plan-review-on', isoDate(30));
  await book.capture('plan-form');
  await tap(d(), 'plan-save');
  await onScreen(d(), 'person');
  await waitUntil(async () => (await rows(d(), 'plan-row')).length === 1, { message: 'the plan on the plans tab' });

  await tap(d(), 'person-meeting-add');
  await onScreen(d(), 'meeting');
  await tap(d(), 'meeting-kind-shien');
  await typeInto(d(), 'meeting-agencies-input', '藤沢市福祉総合相談支援センター');
  await typeInto(d(), 'meeting-decisions', '月1回の見守り訪問を続ける');
  await book.capture('meeting-form');
  await tap(d(), 'meeting-save');
  await onScreen(d(), 'person');
  await waitUntil(async () => (await rows(d(), 'meeting-row')).length === 1, { message: 'the meeting on the plans tab' });

  await tap(d(), 'person-tab-consents');
  await tap(d(), 'person-consent-add');
  await onScreen(d(), 'consent');
  await typeInto(d(), 'consent-scope-input', 'csw-other');
  await tap(d(), 'consent-method-written');
  await book.capture('consent-form');
  await tap(d(), 'consent-save');
  await onScreen(d(), 'person');
  await waitUntil(async () => (await rows(d(), 'consent-row')).length === 1, { message: 'the consent on the consents tab' });

  await tap(d(), 'person-share');
  await onScreen(d(), 'share');
  await typeInto(d(), 'share-team', 'csw-other');
  await tap(d(), 'share-basis-consent');
  await book.capture('share-form');
  await tap(d(), 'share-cancel');
  await onScreen(d(), 'person');

  for (const tab of ['timeline', 'profile', 'assessments', 'plans', 'consents', 'access']) {
    await tap(d(), `person-tab-${tab}`);
    await byTestId(d(), `person-panel-${tab}`);
    assert.equal(await attr(d(), `person-tab-${tab}`, 'aria-selected'), 'true');
    await book.capture(`person-${tab}`);
  }
  assert.ok((await rows(d(), 'access-row')).length > 0, 'the access log lists this page being opened');
  await tap(d(), 'person-tab-timeline');
});

step('6. offline: banner, pending count rising; back online the records reach a second device, and its record reaches the app', async () => {
  const id = needs('personId', '2. adding a person');
  // The colleague's headless device, same team, enrolled and approved by IT via the CLI.
  s.other = await world.enrolledDevice('suzuki', s.colleagueId, COLLEAGUE, '975310');
  await syncAndWait(d());
  await s.other.sync();
  assert.equal((await s.other.show(id)).person.name, PERSON.name, 'the second device has the person before going offline');

  await world.server.stop();
  await openPerson(id);
  await tap(d(), 'person-tab-timeline');
  await tap(d(), 'sync-now');
  await byTestId(d(), 'sync-offline-banner', 30000);
  assert.equal(await syncState(d()), 'offline');
  assertJapanese(await text(d(), 'sync-offline-banner'), 'offline banner');

  const counts = [await pendingCount(d())];
  const rise = async (what) => {
    const last = counts.at(-1);
    const n = await waitUntil(async () => {
      const c = await pendingCount(d());
      return c > last ? c : 0;
    }, { timeoutMs: 10000, message: `the pending count to rise above ${last} after ${what}` });
    counts.push(n);
  };
  // A quick letter with its text typed.
  await tap(d(), 'person-quick-letter');
  await typeInto(d(), 'quick-letter-text', 'オフライン中の置き手紙：また来週伺います');
  await tap(d(), 'quick-save');
  await byTestId(d(), 'person-saved');
  await rise('a quick letter');
  // A visit note.
  await tap(d(), 'person-add-contact');
  await onScreen(d(), 'contact');
  await tap(d(), 'contact-channel-phone');
  await tap(d(), 'contact-outcome-not_home');
  await typeInto(d(), 'contact-note', 'オフライン記録：電話に出なかった');
  await tap(d(), 'contact-save');
  await onScreen(d(), 'person');
  await rise('a visit note');
  // Another quick letter.
  await tap(d(), 'person-quick-letter');
  await tap(d(), 'quick-save');
  await byTestId(d(), 'person-saved');
  await rise('a second quick letter');
  assert.ok(counts[0] < counts[1] && counts[1] < counts[2] && counts[2] < counts[3], `pending counts ${counts}`);
  assert.ok(await present(d(), 'sync-offline-banner'), 'still offline');
  const onApp = (await rows(d(), 'timeline-row')).length;
  await book.capture('offline');

  // The server back on the same port and data: the app catches up.
  await world.server.start();
  await syncAndWait(d());
  await gone(d(), 'sync-offline-banner');

  await s.other.sync();
  const page = await s.other.show(id);
  const notes = page.timeline.map((c) => JSON.stringify(c));
  assert.ok(notes.some((n) => n.includes('オフライン記録：電話に出なかった')), `the offline visit note on the second device: ${notes}`);
  assert.ok(notes.some((n) => n.includes('オフライン中の置き手紙')), 'the offline letter on the second device');
  assert.equal(page.timeline.length, onApp, 'the second device has every contact the app shows');
  const found = await s.other.search('オフライン記録');
  assert.ok(JSON.stringify(found).includes(PERSON.name), `search on the second device: ${JSON.stringify(found)}`);

  // The colleague records a phone call; it reaches the app.
  const added = await s.other.cli([
    'contact', 'add', '--person', id, '--channel', 'phone', '--outcome', 'met', '--note', '鈴木が電話で近況を確認した',
  ]);
  await s.other.sync();
  await syncAndWait(d());
  await openPerson(id);
  await tap(d(), 'person-tab-timeline');
  const row = (await rows(d(), 'timeline-row')).find((r) => r.id === added.id);
  assert.ok(row, `the colleague's contact ${added.id} on the app's timeline`);
  assert.ok(row.text.includes('鈴木が電話で近況を確認した'), row.text);
});

step('7. a conflict made on both devices: shown, resolved by keeping one, and the other device agrees', async () => {
  const id = needs('personId', '2. adding a person');
  const other = needs('other', '6. offline');
  await syncAndWait(d());
  await other.sync();
  // The colleague changes the phone number and does not sync yet: the devices cannot see each other.
  const theirs = '0466-22-2222';
  const mine = '0466-11-1111';
  await other.cli(['person', 'edit', id, '--phone', theirs]);
  await openPerson(id);
  await tap(d(), 'person-tab-profile');
  await tap(d(), 'person-edit');
  await onScreen(d(), 'person-edit');
  await typeInto(d(), 'person-form-phone', mine);
  await tap(d(), 'person-form-save');
  await onScreen(d(), 'person');
  await syncAndWait(d());
  await other.sync();
  const theirView = await other.show(id);
  assert.ok(theirView.conflicts.some((c) => c.field === 'phone'), `the second device sees the conflict: ${JSON.stringify(theirView.conflicts)}`);

  await syncAndWait(d());
  await go(d(), '#/today');
  await onScreen(d(), 'today');
  await waitUntil(async () => (await rows(d(), 'today-conflict-row')).some((r) => r.id === id), {
    timeoutMs: 10000,
    message: 'the conflict listed on 今日の予定',
  });
  assert.ok((await text(d(), 'today-conflicts')).includes(PERSON.name));
  await book.capture('today-conflicts');
  const link = (await rows(d(), 'today-conflict-row')).find((r) => r.id === id);
  await click(d(), link.el);
  await onScreen(d(), 'person');
  const conflict = await byTestId(d(), 'conflict-row');
  assert.equal(await conflict.getAttribute('data-field'), 'phone');
  const ctext = await textOf(d(), conflict);
  assert.ok(ctext.includes(mine) && ctext.includes(theirs), ctext);
  assert.ok(ctext.includes('この端末') && ctext.includes('別の端末'), `whose each version is: ${ctext}`);
  await book.capture('person-conflict');
  // Keep the colleague's number.
  const versions = await conflict.findElements(By.css('li'));
  let kept = false;
  for (const v of versions) {
    if ((await textOf(d(), v)).includes(theirs)) {
      await click(d(), await v.findElement(By.css('[data-testid="conflict-keep"]')));
      kept = true;
      break;
    }
  }
  assert.ok(kept, 'a keep button beside the colleague’s version');
  await gone(d(), 'conflict-row');
  await tap(d(), 'person-tab-profile');
  assert.ok((await text(d(), 'person-profile')).includes(theirs));
  await syncAndWait(d());
  await other.sync();
  const after = await other.show(id);
  assert.equal(after.person.phone, theirs, 'the second device shows the kept value');
  assert.deepEqual(after.conflicts, [], 'and no conflict');
  await go(d(), '#/cases');
  await go(d(), '#/today');
  await onScreen(d(), 'today');
  await waitUntil(async () => !(await present(d(), 'today-conflicts')), { message: 'no conflicts left on 今日の予定' });
});

step('8. invalid input: Japanese errors, the field marked, everything typed kept', async () => {
  const id = needs('personId', '2. adding a person');
  // A next due date before the visit date.
  await openPerson(id);
  await tap(d(), 'person-add-contact');
  await onScreen(d(), 'contact');
  const at = `${isoDate(0)}T10:00`;
  const note = '日付の確認：玄関で立ち話';
  await tap(d(), 'contact-channel-visit');
  await tap(d(), 'contact-outcome-met');
  await setValue(d(), 'contact-at', at);
  await typeInto(d(), 'contact-note', note);
  await typeInto(d(), 'contact-next-step', '再訪問');
  await setValue(d(), 'contact-next-due', isoDate(-1));
  await tap(d(), 'contact-save');
  const fe = await byTestId(d(), 'contact-next-due-error');
  assertJapanese(await textOf(d(), fe), 'next due before the visit (field)');
  assert.ok((await textOf(d(), fe)).includes('次回予定日'), await textOf(d(), fe));
  assertJapanese(await text(d(), 'contact-error'), 'next due before the visit (banner)');
  assert.equal(await attr(d(), 'contact-error', 'data-code'), 'next_due_before_contact');
  assert.equal(await attr(d(), 'contact-next-due', 'aria-invalid'), 'true');
  assert.equal(await attr(d(), 'contact-note', 'aria-invalid'), 'false');
  assert.equal(await value(d(), 'contact-at'), at);
  assert.equal(await value(d(), 'contact-note'), note);
  assert.equal(await value(d(), 'contact-next-step'), '再訪問');
  assert.equal(await value(d(), 'contact-next-due'), isoDate(-1));
  assert.ok(await pressed(d(), 'contact-channel-visit'));
  assert.ok(await pressed(d(), 'contact-outcome-met'));
  assert.ok(await present(d(), 'screen-contact'), 'still on the form');
  await book.capture('visit-note-error', { top: false });
  // Corrected, it saves.
  await setValue(d(), 'contact-next-due', isoDate(3));
  await tap(d(), 'contact-save');
  await onScreen(d(), 'person');
  await waitUntil(async () => (await rows(d(), 'timeline-row')).some((r) => r.text.includes(note)), { message: 'the corrected note saved' });

  // An empty name, then an impossible birth date.
  await go(d(), '#/person/new');
  await onScreen(d(), 'person-new');
  await typeInto(d(), 'person-form-kana', 'こばやし いちろう');
  const district = await selectByText(d(), 'person-form-district', '辻堂');
  await tap(d(), 'person-form-programs-csw');
  await typeInto(d(), 'person-form-birth', '2024-02-30');
  await typeInto(d(), 'person-form-address', '藤沢市辻堂1-2-3');
  await tap(d(), 'person-form-save');
  const nameErr = await byTestId(d(), 'person-form-name-error');
  assertJapanese(await textOf(d(), nameErr), 'empty name (field)');
  assertJapanese(await text(d(), 'person-form-error'), 'empty name (banner)');
  assert.equal(await attr(d(), 'person-form-name', 'aria-invalid'), 'true');
  const keptValues = async () => {
    assert.equal(await value(d(), 'person-form-kana'), 'こばやし いちろう');
    assert.equal(await value(d(), 'person-form-district'), district);
    assert.equal(await value(d(), 'person-form-birth'), '2024-02-30');
    assert.equal(await value(d(), 'person-form-address'), '藤沢市辻堂1-2-3');
    assert.ok(await pressed(d(), 'person-form-programs-csw'));
  };
  await keptValues();
  await typeInto(d(), 'person-form-name', '小林 一郎');
  await tap(d(), 'person-form-save');
  const birthErr = await byTestId(d(), 'person-form-birth-error');
  const birthMsg = await textOf(d(), birthErr);
  assertJapanese(birthMsg, 'impossible birth date (field)');
  assert.ok(birthMsg.includes('「2024-02-30」') && birthMsg.includes('存在しない日付'), birthMsg);
  assert.equal(await attr(d(), 'person-form-birth', 'aria-invalid'), 'true');
  assert.equal(await attr(d(), 'person-form-name', 'aria-invalid'), 'false');
  assert.equal(await value(d(), 'person-form-name'), '小林 一郎');
  await keptValues();
  await book.capture('person-form-error', { top: false });
  await typeInto(d(), 'person-form-birth', '80代');
  await tap(d(), 'person-form-save');
  await onScreen(d(), 'person');
  assert.match(await text(d(), 'person-name'), /^小林 一郎/);
});

step('9. a draft survives killing the app: SIGKILL, a new session on the same device, unlock, the visit note is back', async () => {
  const id = needs('personId', '2. adding a person');
  await openPerson(id);
  await tap(d(), 'person-add-contact');
  await onScreen(d(), 'contact');
  assert.equal(await present(d(), 'contact-draft'), false, 'no draft before typing');
  const note = '下書き：玄関で娘さんと話した。次回は本人に会えるよう午後に伺う。';
  await tap(d(), 'contact-channel-visit');
  await tap(d(), 'contact-outcome-family');
  await typeInto(d(), 'contact-note', note);
  // The draft is kept about 0.4 s after the last change: the notice says so.
  await byTestId(d(), 'contact-draft', 10000);
  const pid = await session.kill();
  assert.equal(alive(pid), false, `app process ${pid} is gone`);

  session = await AppSession.open({ app: s.appBin, data: s.appData });
  book.driver = d();
  await onScreen(d(), 'lock');
  assert.equal(await text(d(), 'lock-user'), WORKER);
  await book.capture('lock');
  await unlockWithKeypad(d(), PIN);
  await onScreen(d(), 'today');
  await openPerson(id);
  await tap(d(), 'person-add-contact');
  await onScreen(d(), 'contact');
  await byTestId(d(), 'contact-draft', 10000);
  await waitUntil(async () => (await value(d(), 'contact-note')) === note, { timeoutMs: 5000, message: 'the note typed before the kill' });
  assert.ok(await pressed(d(), 'contact-outcome-family'));
  assert.ok(await pressed(d(), 'contact-channel-visit'));
  assert.ok((await text(d(), 'contact-draft')).includes('復元'), 'the notice says it was restored');
  await tap(d(), 'contact-draft-discard');
  await waitUntil(async () => (await value(d(), 'contact-note')) === '', { message: 'the form emptied after discarding' });
  await tap(d(), 'contact-cancel');
  await onScreen(d(), 'person');
});

step('settings: the idle lock time, 今すぐロック shows the user on the lock screen, and the English switch', async () => {
  needs('deviceId', '1. enrollment');
  await tap(d(), 'nav-settings');
  const screen = await onScreen(d(), 'settings');
  assert.ok((await textOf(d(), screen)).includes('5分間操作がないと自動でロックします。'), 'the idle lock time is shown');
  await book.capture('settings');
  try {
    await tap(d(), 'settings-language-en');
    await waitUntil(async () => (await text(d(), 'nav-today')) === 'Today', { message: 'the menu in English' });
    assert.equal(await text(d(), 'nav-cases'), 'Caseload');
    assert.equal(await d().executeScript('return document.documentElement.lang'), 'en');
    assert.ok((await textOf(d(), screen)).includes('Locks itself after 5 minutes without use.'));
    await book.capture('settings-en');
  } finally {
    await tap(d(), 'settings-language-ja');
  }
  await waitUntil(async () => (await text(d(), 'nav-today')) === '今日の予定', { message: 'the menu back in Japanese' });
  assert.equal(await d().executeScript('return document.documentElement.lang'), 'ja');

  await tap(d(), 'settings-lock-now');
  await onScreen(d(), 'lock');
  assert.equal(await text(d(), 'lock-user'), WORKER);
  assert.equal(await present(d(), 'app-header'), false, 'nothing of the records shows while locked');
  await assert.rejects(backendCall(d(), 'caseload', { program: null, district: null, status: null, stage: null }), /app_locked/);
  await unlockWithKeypad(d(), PIN);
  // Unlocking returns to where the worker was.
  await onScreen(d(), 'settings');
});

test('accessibility: no serious or critical axe-core violation on any screen, at either size', async (t) => {
  const expected = [
    'enroll-bundle', 'enroll-fingerprints', 'today', 'cases-filters', 'search-results', 'quick-capture', 'visit-note',
    'assessment-alert', 'plan-form', 'meeting-form', 'consent-form', 'share-form', 'person-timeline', 'person-profile',
    'person-assessments', 'person-plans', 'person-consents', 'person-access', 'offline', 'today-conflicts',
    'person-conflict', 'visit-note-error', 'person-form-error', 'lock', 'settings', 'settings-en',
  ];
  const seen = book.names();
  for (const name of expected) {
    await t.test(name, () => {
      assert.ok(seen.includes(name), `screen ${name} was not reached`);
      const entry = book.screens.find((e) => e.name === name);
      assert.deepEqual(entry.violations, [], `axe-core on ${name}:\n${entry.violations.join('\n')}`);
    });
  }
});

test('layout: no screen is wider than the window at 1280×800 or 800×1280', async (t) => {
  for (const entry of book.screens) {
    await t.test(entry.name, () => {
      assert.deepEqual(entry.overflow, [], `${entry.name}: ${entry.overflow.join('; ')}`);
    });
  }
});

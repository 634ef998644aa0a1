// The demo's screenshot tour (run by scripts/lib/demo when there is no display): opens the real app on the demo device, unlocks it on the keypad, and saves 1280×800 and 800×1280 PNGs of the main screens — never saving a record.
//
// Usage: node tests/app/screens.mjs --app BIN --data DIR --pin PIN --out DIR
// Needs tauri-driver and WebKitWebDriver on PATH, a display (xvfb-run) and the keystore session
// that holds the demo device's key (scripts/lib/with-keystore). Prints each file it saved, one
// per line; exits 1 naming the screen that did not show, 2 on bad arguments.

import { parseArgs } from 'node:util';
import { By } from 'selenium-webdriver';
import { AppSession } from './lib/app.mjs';
import { byTestId, click, onScreen, tap } from './lib/driver.mjs';
import { ScreenBook, go, gone, present, rows, typeInto, unlockWithKeypad, waitUntil } from './lib/ui.mjs';

const LIMIT_MS = 120000;

let args;
try {
  ({ values: args } = parseArgs({
    options: { app: { type: 'string' }, data: { type: 'string' }, pin: { type: 'string' }, out: { type: 'string' } },
    strict: true,
  }));
  for (const k of ['app', 'data', 'pin', 'out']) if (!args[k]) throw new Error(`--${k} is required`);
} catch (e) {
  console.error(`screens: ${e.message}\nusage: node tests/app/screens.mjs --app BIN --data DIR --pin PIN --out DIR`);
  process.exit(2);
}

let session = null;
let step = 'starting the app';
const started = Date.now();
// Never hang the demo: past the limit, stop everything and say where it stood.
const guard = setTimeout(async () => {
  console.error(`screens: stopped after ${LIMIT_MS / 1000} s at: ${step}`);
  await session?.close();
  process.exit(1);
}, LIMIT_MS);

/** Opens a person of the caseload by name (the row in 担当ケース, found by search if need be). */
async function openByName(d, name) {
  await go(d, '#/cases');
  await onScreen(d, 'cases');
  await typeInto(d, 'cases-search', name);
  const hit = await waitUntil(async () => (await rows(d, 'search-person-row')).find((r) => r.text.includes(name)), {
    message: `${name} in the search results`,
  });
  await click(d, hit.el);
  await onScreen(d, 'person');
}

let code = 0;
try {
  session = await AppSession.open({ app: args.app, data: args.data });
  const d = session.driver;
  const book = new ScreenBook(d, args.out);
  const shot = async (name) => {
    await book.capture(name, { axe: false });
  };

  step = 'the lock screen';
  await onScreen(d, 'lock', 30000);
  await shot('lock');

  step = 'unlocking with the keypad';
  await unlockWithKeypad(d, args.pin);
  step = '今日の予定';
  await onScreen(d, 'today', 30000);
  await waitUntil(async () => (await present(d, 'today-row')) || (await present(d, 'today-empty')), { message: 'the agenda loaded' });
  await shot('today');

  step = '担当ケース';
  await tap(d, 'nav-cases');
  await onScreen(d, 'cases');
  await byTestId(d, 'caseload-row');
  await shot('cases');

  step = 'the 8050 case 佐藤 健一 (timeline and stage chart)';
  await openByName(d, '佐藤 健一');
  await tap(d, 'person-tab-timeline');
  await byTestId(d, 'timeline-row');
  await byTestId(d, 'person-stage-chart');
  await waitUntil(async () => (await d.findElements(By.css('[data-testid="person-stage-chart"] svg path'))).length > 0, {
    message: 'the stage chart drawn',
  });
  await shot('person-8050');

  step = 'the quick capture sheet (opened and cancelled, nothing saved)';
  await tap(d, 'person-quick-letter');
  await byTestId(d, 'quick-sheet');
  await book.capture('quick-capture', { axe: false, top: false });
  await tap(d, 'quick-cancel');
  await gone(d, 'quick-sheet');

  step = 'the infant 池田 結菜 with the EPDS alert (assessments)';
  await openByName(d, '池田 結菜');
  await tap(d, 'person-tab-assessments');
  await byTestId(d, 'assessment-row-alert');
  await shot('infant-epds-alert');

  step = 'an assessment form (EPDS, left without saving)';
  await tap(d, 'person-assessments-add');
  await onScreen(d, 'assessment-picker');
  await tap(d, 'assessment-pick-epds');
  await onScreen(d, 'assessment');
  await byTestId(d, 'assessment-item');
  await shot('assessment-form');
  await tap(d, 'assessment-cancel');
  await onScreen(d, 'person');

  step = '設定';
  await tap(d, 'nav-settings');
  await onScreen(d, 'settings');
  await shot('settings');

  for (const f of book.files) console.log(f);
  console.error(`screens: ${book.files.length} screenshots in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  console.error(`screens: ${step} did not show: ${e.message}`);
  code = 1;
} finally {
  clearTimeout(guard);
  await session?.close();
}
process.exit(code);

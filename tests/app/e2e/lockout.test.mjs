// End-to-end test of the PIN lockout in the real built app, on a device directory of its own (provisioned and approved by IT via the CLIs): four wrong PINs count the attempts down, the fifth disables the device, and the right PIN no longer opens it — not in the app, not after a restart, not in the CLI.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AppSession } from '../lib/app.mjs';
import { byTestId, onScreen } from '../lib/driver.mjs';
import { run } from '../lib/procs.mjs';
import { ScreenBook, attr, latinOutsideQuotes, present, text, unlockWithKeypad, waitText, waitUntil } from '../lib/ui.mjs';
import { World, screensDir } from '../lib/world.mjs';

const PIN = '864209';
const WRONG = '135792';
const USER = '田中 次郎';

let world;
let session;
let device;
let book;

before(async () => {
  world = await World.create('lockout');
  await world.bootstrap();
  await world.createTeam('dementia-e2e', 'dementia');
  const user = await world.createUser(USER, 'dementia-e2e');
  device = await world.enrolledDevice('tanaka', user, USER, PIN);
  world.onCleanup(() => session?.close());
  session = await AppSession.open({ app: path.join(world.bin, 'tsunagi'), data: device.dir });
  book = new ScreenBook(session.driver, screensDir());
});

after(async () => {
  await world?.cleanup();
});

test('10. five wrong PINs: attempts left count down, the fifth disables the device, the right PIN no longer opens it', async () => {
  const d = session.driver;
  await onScreen(d, 'lock');
  assert.equal(await text(d, 'lock-user'), USER);
  const left = [];
  for (let i = 1; i <= 4; i++) {
    await unlockWithKeypad(d, WRONG);
    await waitUntil(async () => (await present(d, 'lock-error')) && (await attr(d, 'lock-error', 'data-code')) === 'wrong_pin', {
      message: `wrong PIN ${i} refused`,
    });
    const msg = await waitText(d, 'lock-attempts-left', new RegExp(`${5 - i}`));
    assert.deepEqual(latinOutsideQuotes(await text(d, 'lock-error')), [], `the lock error is Japanese: ${await text(d, 'lock-error')}`);
    left.push(Number(/\d+/.exec(msg)[0]));
    assert.ok(await present(d, 'screen-lock'), `still the lock screen after ${i} wrong PINs`);
  }
  assert.deepEqual(left, [4, 3, 2, 1], 'attempts left count down');

  await unlockWithKeypad(d, WRONG);
  await onScreen(d, 'disabled');
  await byTestId(d, 'lock-disabled');
  assert.deepEqual(latinOutsideQuotes(await text(d, 'lock-disabled')), []);
  assert.equal(await present(d, 'lock-key-1'), false, 'no keypad on a disabled device');
  assert.equal(await present(d, 'lock-submit'), false);
  const shot = await book.capture('disabled');
  assert.deepEqual(shot.violations, [], `axe-core on disabled:\n${shot.violations.join('\n')}`);
  assert.deepEqual(shot.overflow, [], shot.overflow.join('; '));

  // The right PIN no longer opens it: the app's own unlock command refuses it...
  const refused = await d.executeAsyncScript(
    `const done = arguments[arguments.length - 1];
     window.__TAURI_INTERNALS__.invoke('unlock', { req: { pin: arguments[0] } })
       .then(() => done({ unlocked: true })).catch((e) => done({ code: e && e.code }));`,
    PIN,
  );
  assert.notEqual(refused.unlocked, true, `the right PIN unlocked a disabled device: ${JSON.stringify(refused)}`);

  // ...a restarted app shows the disabled screen again...
  await session.close();
  session = await AppSession.open({ app: path.join(world.bin, 'tsunagi'), data: device.dir });
  await onScreen(session.driver, 'disabled');
  assert.equal(await present(session.driver, 'lock-key-1'), false);

  // ...and so does the CLI, with the right PIN on stdin.
  const status = await device.cli(['status']);
  assert.equal(status.device.phase, 'disabled', JSON.stringify(status));
  assert.equal(status.sync, null, 'a disabled store is not opened');
  await assert.rejects(
    run(device.bin, ['--data', device.dir, '--json', 'caseload'], { input: `${PIN}\n` }),
    /exit [12]/,
    'the CLI opens the disabled store with the right PIN',
  );
});

// Helpers to drive and read the app's screens by data-testid: bounded waits, values, the lock keypad, the Japanese-message rule, and screenshots with axe-core and an overflow check at both tablet sizes.

import path from 'node:path';
import { By } from 'selenium-webdriver';
import { axeViolations, byTestId, screenshot, setSize, tap } from './driver.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws with
 * `message` and the last value or error seen). Errors thrown by `fn` count as "not yet".
 */
export async function waitUntil(fn, { timeoutMs = 15000, interval = 150, message = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  let lastErr;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= end) break;
    await sleep(interval);
  }
  throw new Error(
    `${message}: not true within ${timeoutMs} ms (last value ${JSON.stringify(last)}${lastErr ? `, last error ${lastErr.message}` : ''})`,
  );
}

const css = (id) => By.css(`[data-testid="${id}"]`);

/** Whether an element with this testid is in the page now (no waiting). */
export async function present(driver, id) {
  return (await driver.findElements(css(id))).length > 0;
}

/** Waits until no element with this testid is in the page. */
export async function gone(driver, id, timeoutMs = 15000) {
  await waitUntil(async () => !(await present(driver, id)), { timeoutMs, message: `[data-testid="${id}"] to go away` });
}

/**
 * The rendered text of an element (its innerText). WebKitWebDriver's own "get element text"
 * answers "" for some visible elements (a one-line span with overflow: hidden and an ellipsis),
 * so the page is asked instead.
 */
export async function textOf(driver, el) {
  return (await driver.executeScript('return arguments[0].innerText', el)).trim();
}

/** The rendered text of the element with this testid (waiting for it). */
export async function text(driver, id, timeoutMs) {
  return textOf(driver, await byTestId(driver, id, timeoutMs));
}

/** The value of the input with this testid, read from the DOM property. */
export async function value(driver, id) {
  const el = await byTestId(driver, id);
  return driver.executeScript('return arguments[0].value', el);
}

/** An attribute of the element with this testid. */
export async function attr(driver, id, name) {
  return (await byTestId(driver, id)).getAttribute(name);
}

/**
 * Sets an input's value as a paste or a picker does (native setter, then input and change
 * events, so the UI's bindings see it). For long texts and date inputs, whose typing WebKit's
 * driver does not emulate key by key.
 */
export async function setValue(driver, id, v) {
  const el = await byTestId(driver, id);
  await driver.executeScript(
    `const el = arguments[0];
     const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
       : el instanceof HTMLSelectElement ? HTMLSelectElement.prototype : HTMLInputElement.prototype;
     Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, arguments[1]);
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));`,
    el,
    v,
  );
  return el;
}

/** Types text key by key into an input (after clearing it), as a worker would. */
export async function typeInto(driver, id, s) {
  const el = await byTestId(driver, id);
  await el.clear();
  await el.sendKeys(s);
  return el;
}

/** Chooses the option of a <select> whose visible text is `label`; returns its value. */
export async function selectByText(driver, id, label) {
  const el = await byTestId(driver, id);
  const v = await driver.executeScript(
    `const o = [...arguments[0].options].find((o) => o.textContent.trim() === arguments[1]);
     return o ? o.value : null;`,
    el,
    label,
  );
  if (v === null) throw new Error(`no option 「${label}」 in [data-testid="${id}"]`);
  await setValue(driver, id, v);
  return v;
}

/** Navigates inside the app by its hash router (#/cases, #/person/ID, ...). */
export async function go(driver, hash) {
  await driver.executeScript('location.hash = arguments[0]', hash);
}

/** Every element with this testid, with its data-id and text. */
export async function rows(driver, id) {
  const els = await driver.findElements(css(id));
  const out = [];
  for (const el of els) {
    out.push({ el, id: await el.getAttribute('data-id'), text: await textOf(driver, el) });
  }
  return out;
}

/** Types the PIN on the lock screen's keypad and presses 解除. */
export async function unlockWithKeypad(driver, pin) {
  await byTestId(driver, 'screen-lock', 30000);
  await tap(driver, 'lock-key-clear');
  for (const d of pin) await tap(driver, `lock-key-${d}`);
  await tap(driver, 'lock-submit');
}

/**
 * Whether a message a worker sees is Japanese as the app promises: no Latin letters except
 * inside 「」 (what the worker typed, quoted back) and the word PIN.
 */
export function latinOutsideQuotes(s) {
  const stripped = s.replace(/「[^」]*」/g, '').replace(/PIN/g, '');
  return stripped.match(/[A-Za-z]+/g) ?? [];
}

/** Waits for two animation frames and a short settle (layout, ResizeObserver, chart redraw). */
export async function settle(driver, ms = 250) {
  await driver.executeAsyncScript(`
    const done = arguments[arguments.length - 1];
    requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, ${ms})));
  `);
}

/** The two tablet sizes every main screen is checked at. */
export const SIZES = [
  [1280, 800],
  [800, 1280],
];

/**
 * Screenshots, axe-core and an overflow check of the main screens. `capture(name)` saves
 * `<dir>/<name>-<w>x<h>.png` at both sizes, runs axe-core at both (serious and critical
 * violations kept per screen) and notes when the page is wider than the window (something is
 * clipped or pushes sideways). The results are asserted per screen by the test file.
 */
export class ScreenBook {
  constructor(driver, dir) {
    this.driver = driver;
    this.dir = dir;
    this.screens = [];
    this.files = [];
  }

  async capture(name, { sizes = SIZES, axe = true, top = true } = {}) {
    const d = this.driver;
    const entry = { name, violations: [], overflow: [] };
    const started = Date.now();
    for (const [w, h] of sizes) {
      await setSize(d, w, h);
      if (top) await d.executeScript('window.scrollTo(0, 0)');
      await settle(d);
      const wide = await d.executeScript(
        'return [document.documentElement.scrollWidth, window.innerWidth, window.innerHeight]',
      );
      if (wide[0] > wide[1] + 1) entry.overflow.push(`${w}x${h}: page is ${wide[0]} px wide in a ${wide[1]} px window`);
      if (wide[1] !== w || wide[2] !== h) entry.overflow.push(`${w}x${h}: the window is ${wide[1]}x${wide[2]}`);
      this.files.push(await screenshot(d, this.dir, `${name}-${w}x${h}`));
      if (axe) {
        for (const v of await axeViolations(d)) {
          entry.violations.push(`${w}x${h} ${v.id} (${v.impact}): ${v.help} — ${v.nodes.join(', ')}`);
        }
      }
    }
    await setSize(d, sizes[0][0], sizes[0][1]);
    await settle(d, 50);
    entry.ms = Date.now() - started;
    if (process.env.TSUNAGI_E2E_TRACE) console.error(`capture ${name}: ${entry.ms} ms`);
    this.screens.push(entry);
    return entry;
  }

  /** Screen names, for the report. */
  names() {
    return this.screens.map((s) => s.name);
  }

  filePath(name, w, h) {
    return path.join(this.dir, `${name}-${w}x${h}.png`);
  }
}

/** The error message shown under a field (the `.field-error` of the field holding this testid), or null. */
export async function fieldError(driver, id) {
  const el = await byTestId(driver, id);
  return driver.executeScript(
    `const f = arguments[0].closest('.field');
     const e = f && f.querySelector('.field-error');
     return e ? e.textContent.trim() : null;`,
    el,
  );
}

/** Whether the choice button with this testid is pressed. */
export async function pressed(driver, id) {
  return (await attr(driver, id, 'aria-pressed')) === 'true';
}

/** The sync indicator's pending count (0 when the badge is not shown). */
export async function pendingCount(driver) {
  const els = await driver.findElements(By.css('[data-testid="sync-pending-count"]'));
  if (els.length === 0) return 0;
  return Number(await els[0].getAttribute('data-count'));
}

/** The sync indicator's state (data-state), or null when it is not shown. */
export async function syncState(driver) {
  const els = await driver.findElements(By.css('[data-testid="sync-indicator"]'));
  return els.length === 0 ? null : els[0].getAttribute('data-state');
}

/**
 * Calls one of the app's own commands from the page (as the UI does) and returns its answer.
 * For waiting on the backend's state (e.g. a finished sync) without reading a screen that
 * refreshes only every 2 s; assertions still read the screens.
 */
export async function backendCall(driver, name, req) {
  const r = await driver.executeAsyncScript(
    `const done = arguments[arguments.length - 1];
     const args = arguments[1] === null ? {} : { req: arguments[1] };
     window.__TAURI_INTERNALS__.invoke(arguments[0], args)
       .then((v) => done({ ok: v === undefined ? null : v }))
       .catch((e) => done({ err: e }));`,
    name,
    req ?? null,
  );
  if ('err' in r) throw new Error(`${name} failed: ${JSON.stringify(r.err)}`);
  return r.ok;
}

/**
 * Starts a sync round (the 今すぐ同期 button, or the command when the button is not shown) and
 * waits until the app has nothing pending and its last round succeeded (bounded), then until
 * the indicator on screen says so.
 */
export async function syncAndWait(driver, { timeoutMs = 45000 } = {}) {
  const end = Date.now() + timeoutMs;
  const btn = await driver.findElements(By.css('[data-testid="sync-now"]'));
  if (btn.length > 0 && (await btn[0].isEnabled())) await btn[0].click();
  else await backendCall(driver, 'sync_now');
  let kicked = Date.now();
  await waitUntil(
    async () => {
      const v = await backendCall(driver, 'sync_status');
      if (!v.running && v.pending === 0 && v.state === 'synced') return true;
      // A round that ended with an error (or one asked for while another ran) is asked again.
      if (!v.running && Date.now() - kicked > 3000) {
        await backendCall(driver, 'sync_now');
        kicked = Date.now();
      }
      return false;
    },
    { timeoutMs: Math.max(1000, end - Date.now()), interval: 300, message: 'the app to finish a sync with nothing pending' },
  );
  await waitUntil(async () => (await syncState(driver)) === 'synced' && (await pendingCount(driver)) === 0, {
    timeoutMs: 8000,
    message: 'the sync indicator to show 同期済み with nothing pending',
  });
}

/** Waits until the text of the element with this testid equals `expected` (or matches it, a RegExp). */
export async function waitText(driver, id, expected, timeoutMs = 15000) {
  let last = null;
  const ok = (t) => (expected instanceof RegExp ? expected.test(t) : t === expected);
  try {
    return await waitUntil(
      async () => {
        last = await textOf(driver, await driver.findElement(css(id)));
        return ok(last) ? last : null;
      },
      { timeoutMs },
    );
  } catch {
    throw new Error(`[data-testid="${id}"] to read ${expected}: last read ${JSON.stringify(last)} after ${timeoutMs} ms`);
  }
}

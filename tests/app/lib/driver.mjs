// Drives the real built app (target/*/tsunagi) through tauri-driver and WebKitWebDriver: start and stop the driver, open the app on a device directory, find elements by data-testid, screenshots, accessibility checks with axe-core.

import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Builder, By, until } from 'selenium-webdriver';
import { portFree } from './procs.mjs';

const require = createRequire(import.meta.url);

/** Waits until something listens on 127.0.0.1:port (bounded). */
export async function waitForPort(port, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const open = await new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A free-looking port below the ephemeral range (picked at random, then checked). */
export function randomPort() {
  return 20000 + Math.floor(Math.random() * 12000);
}

/** A random port p with p and p + 1 free (tauri-driver and its native driver). */
async function freePortPair() {
  for (let i = 0; i < 50; i++) {
    const p = randomPort();
    if ((await portFree(p)) && (await portFree(p + 1))) return p;
  }
  throw new Error('no free pair of ports found on 127.0.0.1');
}

/**
 * Starts tauri-driver. The app it launches inherits `env` (TSUNAGI_DATA: the device
 * directory). Returns { url, pid, output(), stop() }.
 */
export async function startDriver({ env = {}, log } = {}) {
  const port = await freePortPair();
  const nativePort = port + 1;
  const proc = spawn('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const keep = (b) => {
    lines.push(b.toString());
    if (lines.length > 200) lines.shift();
    if (log) log(b.toString());
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  try {
    await waitForPort(port);
  } catch (e) {
    proc.kill('SIGKILL');
    throw new Error(`${e.message}\ntauri-driver said:\n${lines.join('')}`);
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    pid: proc.pid,
    output: () => lines.join(''),
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Opens the app binary through the driver; resolves once the UI's first screen shows. */
export async function openApp(driverUrl, application, { width = 1280, height = 800 } = {}) {
  const caps = { browserName: 'wry', 'tauri:options': { application } };
  const driver = await new Builder().usingServer(driverUrl).withCapabilities(caps).build();
  await setSize(driver, width, height);
  await driver.wait(until.elementLocated(By.css('[data-testid^="screen-"]')), 30000);
  return driver;
}

/** Resizes the window so that the page (the viewport) is width × height. */
export async function setSize(driver, width, height) {
  // GTK applies a resize asynchronously (no window manager under Xvfb): read the viewport only
  // once it has moved and stopped moving, and correct for decorations from what it settled at
  // (CI once read it mid-resize and ended at 360×1760 for 800×1280).
  const viewport = () => driver.executeScript('return [window.innerWidth, window.innerHeight]');
  const pause = (ms) => new Promise((r) => setTimeout(r, ms));
  let outer = [width, height];
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = await viewport();
    await driver.manage().window().setRect({ width: outer[0], height: outer[1], x: 0, y: 0 });
    let now = await viewport();
    for (let i = 0; i < 30 && now[0] === before[0] && now[1] === before[1]; i++) {
      if (now[0] === width && now[1] === height) return;
      await pause(50);
      now = await viewport();
    }
    for (let i = 0; i < 40; i++) {
      await pause(50);
      const next = await viewport();
      if (next[0] === now[0] && next[1] === now[1]) break;
      now = next;
    }
    if (now[0] === width && now[1] === height) return;
    outer = [outer[0] + width - now[0], outer[1] + height - now[1]];
  }
}

/** The element with this data-testid, waiting for it (bounded). */
export async function byTestId(driver, id, timeoutMs = 15000) {
  const el = await driver.wait(until.elementLocated(By.css(`[data-testid="${id}"]`)), timeoutMs, `no [data-testid="${id}"] within ${timeoutMs} ms`);
  return el;
}

/** Every element with this data-testid (no waiting). */
export async function allByTestId(driver, id) {
  return driver.findElements(By.css(`[data-testid="${id}"]`));
}

/**
 * Clicks the element with this data-testid once it is visible and enabled, scrolled to the
 * middle of the window first (so the sticky header and save bar never cover it).
 */
export async function tap(driver, id, timeoutMs = 15000) {
  const el = await byTestId(driver, id, timeoutMs);
  await click(driver, el, timeoutMs);
  return el;
}

/** Clicks an element once it is visible and enabled, scrolled to the middle of the window. */
export async function click(driver, el, timeoutMs = 15000) {
  await driver.wait(until.elementIsVisible(el), timeoutMs);
  await driver.wait(until.elementIsEnabled(el), timeoutMs);
  await driver.executeScript("arguments[0].scrollIntoView({ block: 'center', inline: 'nearest' })", el);
  await el.click();
}

/** Replaces the text of an input or textarea. */
export async function type(driver, id, text) {
  const el = await byTestId(driver, id);
  await el.clear();
  await el.sendKeys(text);
  return el;
}

/** Waits until the screen with this name (data-testid="screen-<name>") shows. */
export async function onScreen(driver, name, timeoutMs = 20000) {
  return byTestId(driver, `screen-${name}`, timeoutMs);
}

/** Saves a PNG of the window to dir/name.png; returns its path. */
export async function screenshot(driver, dir, name) {
  await mkdir(dir, { recursive: true });
  const png = await driver.takeScreenshot();
  const file = path.join(dir, `${name}.png`);
  await writeFile(file, Buffer.from(png, 'base64'));
  return file;
}

let axeSource;

/**
 * Runs axe-core on the current screen; returns the serious and critical violations (each
 * with its rule id, impact and the first offending elements).
 */
export async function axeViolations(driver) {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await driver.executeScript(axeSource);
  const result = await driver.executeAsyncScript(`
    const done = arguments[arguments.length - 1];
    window.axe.run(document, { resultTypes: ['violations'] })
      .then((r) => done({ violations: r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
      })) }))
      .catch((e) => done({ error: String(e) }));
  `);
  if (result.error) throw new Error(`axe-core failed: ${result.error}`);
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

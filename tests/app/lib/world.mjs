// The world of an end-to-end test: a real tsunagi-server on 127.0.0.1, IT's tsunagi-admin, headless tsunagi-device devices and temp folders — each with a private data dir, all stopped and removed by cleanup().

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { portFree, run } from './procs.mjs';

/** The repository root (tests/app/lib → ../../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Where the built binaries are: TSUNAGI_BIN_DIR, else $CARGO_TARGET_DIR/debug, else
 * <root>/target/debug. Throws naming what is missing (build first: a stale or missing binary
 * makes every assertion fail confusingly).
 */
export function binDir() {
  const dir =
    process.env.TSUNAGI_BIN_DIR ??
    path.join(process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, 'target'), 'debug');
  for (const b of ['tsunagi', 'tsunagi-server', 'tsunagi-admin', 'tsunagi-device']) {
    if (!existsSync(path.join(dir, b))) {
      throw new Error(
        `${b} not found in ${dir}: build first (cd ui && npm run build; cargo build -p tsunagi-app -p tsunagi-server -p tsunagi-admin -p tsunagi-device), or set TSUNAGI_BIN_DIR`,
      );
    }
  }
  return dir;
}

/** Where the E2E run saves its screenshots: TSUNAGI_E2E_SCREENS or <root>/target/e2e/screens. */
export function screensDir() {
  return process.env.TSUNAGI_E2E_SCREENS ?? path.join(ROOT, 'target', 'e2e', 'screens');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A free port below the kernel's ephemeral range (32768+, where outgoing connections could hold
 * it): picked at random, then checked, so the health check never reaches someone else's server.
 */
async function pickPort() {
  for (let i = 0; i < 50; i++) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (await portFree(p)) return p;
  }
  throw new Error('no free port found on 127.0.0.1');
}

/** A tsunagi-server child process on 127.0.0.1. */
export class Server {
  constructor(bin, dataDir) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.port = null;
    this.proc = null;
    this.token = null;
    this.log = [];
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it (on a random free port the first time, on the same port afterwards). */
  async start() {
    const fixed = this.port !== null;
    for (let attempt = 0; attempt < (fixed ? 1 : 5); attempt++) {
      if (!fixed) this.port = await pickPort();
      if (await this.#tryStart()) return;
    }
    throw new Error(`tsunagi-server did not come up on 127.0.0.1:${this.port}:\n${this.log.slice(-40).join('')}`);
  }

  async #tryStart() {
    const proc = spawn(this.bin, ['--data', this.dataDir, '--listen', `127.0.0.1:${this.port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    let out = '';
    proc.stdout.on('data', (b) => {
      out += b.toString();
      this.log.push(b.toString());
      const m = /^bootstrap token: (\S+)$/m.exec(out);
      if (m) this.token = m[1];
    });
    proc.stderr.on('data', (b) => {
      this.log.push(b.toString());
      if (this.log.length > 400) this.log.splice(0, 100);
    });
    this.exited = new Promise((resolve) => proc.on('exit', resolve));
    const end = Date.now() + 20000;
    while (Date.now() < end) {
      if (proc.exitCode !== null || proc.signalCode !== null) return false;
      try {
        const r = await fetch(`${this.url}/v1/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return true;
      } catch {
        // not yet
      }
      await sleep(100);
    }
    await this.stop();
    return false;
  }

  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for the exit. */
  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}

/**
 * One test world: a temp folder, a server, IT (tsunagi-admin with its own folder), headless
 * devices. `cleanup()` stops everything and removes the folder.
 */
export class World {
  static async create(name = 'world') {
    const w = new World();
    w.bin = binDir();
    w.dir = await mkdtemp(path.join(os.tmpdir(), `tsunagi-e2e-${name}-`));
    w.server = new Server(path.join(w.bin, 'tsunagi-server'), path.join(w.dir, 'server'));
    w.devices = [];
    w.cleanups = [];
    return w;
  }

  path(...parts) {
    return path.join(this.dir, ...parts);
  }

  /** Runs something at cleanup (before the folder is removed), last registered first. */
  onCleanup(fn) {
    this.cleanups.push(fn);
  }

  /** Starts the server and bootstraps IT: admin init with the server's one-time token. */
  async bootstrap() {
    await this.server.start();
    if (!this.server.token) throw new Error('tsunagi-server printed no bootstrap token');
    await this.admin(['init', '--server', this.server.url, '--bootstrap-token', this.server.token], { json: false });
  }

  /** tsunagi-admin with this world's IT folder and passphrase; --json output parsed. */
  async admin(args, { json = true } = {}) {
    const { stdout } = await run(path.join(this.bin, 'tsunagi-admin'), json ? ['--json', ...args] : args, {
      env: { TSUNAGI_ADMIN_DIR: this.path('admin'), TSUNAGI_ADMIN_PASSPHRASE: 'e2e passphrase for IT only' },
    });
    return json ? JSON.parse(stdout) : stdout;
  }

  async createTeam(team, program = 'csw') {
    await this.admin(['team', 'create', team, '--program', program]);
  }

  /** Creates a user; returns its id. */
  async createUser(name, team, role = 'worker') {
    const r = await this.admin(['user', 'create', '--name', name, '--team', team, '--role', role]);
    return r.id;
  }

  /** Provisions an enrollment bundle for the user; returns { file, text }. */
  async provision(userId, file) {
    await mkdir(path.dirname(file), { recursive: true });
    await this.admin(['device', 'provision', '--user', userId, '--out', file]);
    return { file, text: await readFile(file, 'utf8') };
  }

  /** A headless device with its own data dir (nothing made yet). */
  device(name, pin = '975310') {
    const d = new HeadlessDevice(path.join(this.bin, 'tsunagi-device'), this.path('devices', name), pin);
    this.devices.push(d);
    return d;
  }

  /**
   * A headless device of `userId`, made the way IT does it: init with a PIN, enrollment with
   * the bundle, approval with tsunagi-admin, the team key fetched.
   */
  async enrolledDevice(name, userId, userName, pin) {
    const d = this.device(name, pin);
    await d.init(userName);
    const bundle = await this.provision(userId, this.path('bundles', `${name}.tsunagi-enroll.json`));
    const enrolled = await d.cli(['enroll', bundle.file]);
    d.id = enrolled.device;
    await this.admin(['device', 'approve', d.id, '--code', enrolled.device_code]);
    await d.cli(['keys'], { json: false });
    return d;
  }

  /** Stops everything started and removes the folder. Never throws. */
  async cleanup() {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`cleanup: ${e.message}`);
      }
    }
    await this.server.stop().catch(() => undefined);
    if (process.env.TSUNAGI_E2E_KEEP) {
      console.error(`TSUNAGI_E2E_KEEP: left ${this.dir}`);
    } else {
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}

/** A headless tsunagi-device: every command gets the PIN on stdin, --json parsed. */
export class HeadlessDevice {
  constructor(bin, dir, pin) {
    this.bin = bin;
    this.dir = dir;
    this.pin = pin;
    this.id = null;
  }

  async cli(args, { json = true, input } = {}) {
    const full = ['--data', this.dir, ...(json ? ['--json'] : []), ...args];
    const { stdout } = await run(this.bin, full, { input: input ?? `${this.pin}\n` });
    return json ? JSON.parse(stdout) : stdout;
  }

  async init(userName) {
    await mkdir(path.dirname(this.dir), { recursive: true });
    return this.cli(['init', '--pin-stdin', '--user', userName]);
  }

  sync() {
    return this.cli(['sync']);
  }

  show(personId) {
    return this.cli(['person', 'show', personId]);
  }

  search(text) {
    return this.cli(['search', text]);
  }
}

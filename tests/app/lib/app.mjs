// One run of the real app under our own tauri-driver on a device directory: open, close (everything under the driver stopped), and kill the app process hard (SIGKILL, found as the binary under our driver's process tree).

import { openApp, startDriver } from './driver.mjs';
import { descendants, findUnder, killAll, waitGone } from './procs.mjs';

/** Resolves `p`, or rejects after `ms` with `what` (a hung WebDriver call must not hang the run). */
export function within(p, ms, what) {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

export class AppSession {
  /**
   * Starts tauri-driver with TSUNAGI_DATA=data and opens the app binary on it (the window sized
   * width × height); resolves once a screen shows.
   */
  static async open({ app, data, width = 1280, height = 800, env = {} }) {
    const s = new AppSession();
    s.app = app;
    s.data = data;
    s.drv = await startDriver({ env: { TSUNAGI_DATA: data, ...env } });
    try {
      s.driver = await within(openApp(s.drv.url, app, { width, height }), 60000, 'opening the app');
    } catch (e) {
      await s.close();
      throw new Error(`${e.message}\ntauri-driver said:\n${s.drv.output()}`);
    }
    return s;
  }

  /** The app processes (the binary) under our driver. */
  appPids() {
    return this.drv ? findUnder(this.drv.pid, this.app) : [];
  }

  /**
   * Kills the app hard, as a crash or a flat battery would: SIGKILL to the one app process
   * under our driver; then ends the WebDriver session and the driver. Returns the pid killed.
   */
  async kill() {
    const pids = this.appPids();
    if (pids.length !== 1) throw new Error(`expected one app process under tauri-driver ${this.drv.pid}, found ${JSON.stringify(pids)}`);
    killAll(pids, 'SIGKILL');
    const left = await waitGone(pids, 5000);
    if (left.length > 0) throw new Error(`app process ${left} still alive 5 s after SIGKILL`);
    await this.close();
    return pids[0];
  }

  /** Ends the session and the driver; kills whatever is left under the driver. Never throws. */
  async close() {
    const under = this.drv ? descendants(this.drv.pid) : [];
    if (this.driver) {
      await within(this.driver.quit(), 10000, 'ending the WebDriver session').catch(() => undefined);
      this.driver = null;
    }
    if (this.drv) {
      await this.drv.stop().catch(() => undefined);
      killAll(under, 'SIGKILL');
      await waitGone(under, 5000);
      this.drv = null;
    }
  }
}

// Process helpers for the end-to-end tests: running the CLIs with bounded time, free loopback ports, finding the app's process under our own tauri-driver (never by a broad name), and stopping what we started.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Runs a program to completion with a time limit. Resolves { stdout, stderr } on exit 0;
 * rejects with an error naming the command, its exit status and its output otherwise.
 */
export function run(file, args, { input, env, timeoutMs = 120000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, cwd },
      (err, stdout, stderr) => {
        if (err) {
          const what = err.killed ? `killed after ${timeoutMs} ms` : `exit ${err.code}`;
          reject(new Error(`${file} ${args.join(' ')}: ${what}\nstdout: ${stdout}\nstderr: ${stderr}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** The parent pid of a process, or null when it is gone. */
function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return null;
  }
}

/** Whether a pid is alive and not a zombie. */
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every live descendant of `root` (children, grandchildren, ...). */
export function descendants(root) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const pp = ppidOf(pid);
    if (pp === null) continue;
    if (!children.has(pp)) children.set(pp, []);
    children.get(pp).push(pid);
  }
  const out = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop();
    for (const c of children.get(p) ?? []) {
      if (alive(c)) out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** The executable a pid runs, or null. */
export function exeOf(pid) {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** The descendants of `root` that run the binary `exe` (an absolute path). */
export function findUnder(root, exe) {
  return descendants(root).filter((p) => exeOf(p) === exe);
}

/** Sends `signal` to each pid still alive; ignores the ones already gone. */
export function killAll(pids, signal = 'SIGKILL') {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

/** Waits until none of `pids` is alive (bounded); returns the ones still alive. */
export async function waitGone(pids, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  let left = pids.filter(alive);
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = left.filter(alive);
  }
  return left;
}

/** Whether nothing listens on 127.0.0.1:port now (we can bind it). */
export function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// The idle lock: after a number of minutes without touch, pointer or keys, it calls `onIdle`
// once (the app then closes open records and locks).

/** What counts as the worker using the app. */
export const ACTIVITY_EVENTS = ['pointerdown', 'keydown', 'touchstart', 'wheel', 'input'] as const;

export interface IdleLock {
  /** Starts watching (from now). */
  start(): void;
  /** Stops watching. */
  stop(): void;
  /** Counts as activity now. */
  touch(): void;
  /** Changes the limit (from the backend's `idle_lock_minutes`). */
  setMinutes(minutes: number): void;
}

export interface IdleLockOptions {
  minutes: number;
  onIdle: () => void;
  /** Where activity is heard (default: window). */
  target?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  now?: () => number;
}

/** Creates the idle lock. A limit of 0 minutes or less never locks. */
export function createIdleLock(opts: IdleLockOptions): IdleLock {
  const now = opts.now ?? (() => Date.now());
  const target = opts.target ?? (typeof window !== 'undefined' ? window : null);
  let limitMs = opts.minutes * 60_000;
  let last = now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;

  const arm = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (running && limitMs > 0) timer = setTimeout(check, Math.max(0, ms));
  };

  // A sleeping tablet does not run timers: the check compares clock times, not timer counts.
  function check() {
    if (!running) return;
    const idle = now() - last;
    if (limitMs > 0 && idle >= limitMs) {
      running = false;
      detach();
      opts.onIdle();
    } else {
      arm(limitMs - idle);
    }
  }

  const onActivity = () => {
    last = now();
  };
  const onVisible = () => {
    if (typeof document !== 'undefined' && document.visibilityState === 'visible') check();
  };

  function attach() {
    for (const e of ACTIVITY_EVENTS) target?.addEventListener(e, onActivity, { capture: true, passive: true });
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
  }
  function detach() {
    for (const e of ACTIVITY_EVENTS) target?.removeEventListener(e, onActivity, { capture: true });
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisible);
  }

  return {
    start() {
      if (running) return;
      running = true;
      last = now();
      attach();
      arm(limitMs);
    },
    stop() {
      running = false;
      detach();
      arm(0);
    },
    touch: onActivity,
    setMinutes(minutes: number) {
      limitMs = minutes * 60_000;
      if (running) check();
    },
  };
}

// The app's session: its status (phase), locking (closing open records and flushing drafts
// first), and the reference vocabulary loaded after unlock.
import { backend, type Backend } from './api/backend';
import { isApiError } from './api/errors';
import { toApiError } from './api/errors';
import type { ApiError, AppStatus, Reference } from './api/types';
import { flushAllDrafts } from './drafts';

let status = $state<AppStatus | null>(null);
let statusError = $state<ApiError | null>(null);
let reference = $state<Reference | null>(null);

export const session = {
  get status(): AppStatus | null {
    return status;
  },
  get error(): ApiError | null {
    return statusError;
  },
  get reference(): Reference | null {
    return reference;
  },
};

/** Asks the backend where the app stands. */
export async function refreshStatus(): Promise<AppStatus | null> {
  try {
    status = await backend().status();
    statusError = null;
  } catch (e) {
    statusError = toApiError(e);
  }
  return status;
}

/** Loads the vocabulary (districts, stages, channels, ...) once unlocked. */
export async function loadReference(): Promise<Reference> {
  const r = await backend().reference();
  reference = r;
  return r;
}

/** Person pages open now, closed before locking. */
const openPages = new Set<string>();

export function pageOpened(page: string): void {
  openPages.add(page);
}

/** Closes a person page (the access log records how long it was open). Never throws. */
export async function closePage(page: string): Promise<void> {
  if (!openPages.delete(page)) return;
  try {
    await backend().close_person({ page });
  } catch {
    // The page is closed on the device's side when the app locks or stops.
  }
}

let locking: Promise<void> | null = null;

/** Locks now: keeps waiting drafts, closes open records, then locks the store. */
export function lockNow(): Promise<void> {
  if (locking) return locking;
  locking = (async () => {
    await flushAllDrafts();
    await Promise.all([...openPages].map((p) => closePage(p)));
    try {
      await backend().lock();
    } catch (e) {
      statusError = toApiError(e);
    }
    reference = null;
    await refreshStatus();
  })().finally(() => {
    locking = null;
  });
  return locking;
}

/**
 * The backend, watched: a command refused because the store locked itself (`app_locked`, e.g.
 * another window or the backend's own timer) brings the lock screen instead of an error.
 */
export function watchLocked(b: Backend): Backend {
  const watched: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(b) as [string, (req?: unknown) => Promise<unknown>][]) {
    watched[name] = (req?: unknown) =>
      fn.call(b, req).catch((e: unknown) => {
        if (isApiError(e) && e.code === 'app_locked' && name !== 'status') void refreshStatus();
        throw e;
      });
  }
  return watched as unknown as Backend;
}

// Closing the app (or the webview reloading) closes open records, as far as it can.
if (typeof window !== 'undefined') {
  window.addEventListener('pagehide', () => {
    for (const p of [...openPages]) void closePage(p);
  });
}

/** For tests: forget everything. */
export function resetSession(): void {
  status = null;
  statusError = null;
  reference = null;
  openPages.clear();
}

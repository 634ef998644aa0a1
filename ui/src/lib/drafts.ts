// Draft autosave: what a form holds is kept with `save_draft` shortly after each change, is
// restored when the form opens, and is discarded after a successful save or on request.
import { backend, type Backend } from './api/backend';
import { toApiError } from './api/errors';
import type { ApiError } from './api/types';

/** Wait after the last change before keeping the draft. */
export const DRAFT_DELAY_MS = 400;

/** The envelope kept in the draft's body, so a later form version can tell old drafts apart. */
interface Envelope<T> {
  v: 1;
  data: T;
}

/** One form's draft. */
export interface Autosave<T> {
  /** Keeps `data` after the delay (a newer call replaces a waiting one). */
  schedule(data: T): void;
  /** Keeps the waiting change now. */
  flush(): Promise<void>;
  /** The kept draft, or null (also for a body this form cannot read). */
  restore(): Promise<T | null>;
  /** Forgets the draft (after a save, or when the worker discards it). */
  discard(): Promise<void>;
  /** Stops without keeping a waiting change (the form closed after discarding or saving). */
  dispose(): void;
  /** Whether a change waits to be kept. */
  readonly waiting: boolean;
}

export interface AutosaveOptions {
  /** `contact:<person id>`, `person:new`, `assessment:<person id>:<instrument>`, ... */
  key: string;
  /** Shown in the list of drafts (山田花子さんの訪問記録). */
  label: () => string;
  delay?: number;
  backend?: () => Backend;
  /** Told when keeping the draft failed (the form stays as typed). */
  onError?: (e: ApiError) => void;
  /** Told after a draft was kept. */
  onSaved?: () => void;
}

const live = new Set<Autosave<unknown>>();

/** Keeps every waiting draft now: before the app locks, hides or closes. */
export async function flushAllDrafts(): Promise<void> {
  await Promise.all([...live].map((a) => a.flush()));
}

if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') void flushAllDrafts();
  });
  window.addEventListener('pagehide', () => void flushAllDrafts());
}

/** Reads a draft body kept by `createAutosave`; null when it is not one. */
export function readDraftBody<T>(body: string): T | null {
  try {
    const parsed = JSON.parse(body) as Partial<Envelope<T>>;
    return parsed && parsed.v === 1 && 'data' in parsed ? (parsed.data as T) : null;
  } catch {
    return null;
  }
}

/** Creates the autosave of one form. */
export function createAutosave<T>(opts: AutosaveOptions): Autosave<T> {
  const delay = opts.delay ?? DRAFT_DELAY_MS;
  const be = opts.backend ?? backend;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending: { data: T } | null = null;
  let chain: Promise<void> = Promise.resolve();
  let closed = false;

  const write = (data: T): Promise<void> => {
    const body = JSON.stringify({ v: 1, data } satisfies Envelope<T>);
    chain = chain.then(async () => {
      try {
        await be().save_draft({ key: opts.key, label: opts.label(), body });
        opts.onSaved?.();
      } catch (e) {
        opts.onError?.(toApiError(e));
      }
    });
    return chain;
  };

  const self: Autosave<T> = {
    schedule(data: T) {
      if (closed) return;
      pending = { data };
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void self.flush(), delay);
    },
    async flush() {
      if (timer) clearTimeout(timer);
      timer = null;
      const p = pending;
      pending = null;
      if (p) await write(p.data);
      else await chain;
    },
    async restore() {
      try {
        const d = await be().draft({ key: opts.key });
        return d ? readDraftBody<T>(d.body) : null;
      } catch (e) {
        opts.onError?.(toApiError(e));
        return null;
      }
    },
    async discard() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
      await chain;
      try {
        await be().discard_draft({ key: opts.key });
      } catch (e) {
        opts.onError?.(toApiError(e));
      }
    },
    dispose() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      pending = null;
      live.delete(self as Autosave<unknown>);
    },
    get waiting() {
      return pending !== null;
    },
  };
  live.add(self as Autosave<unknown>);
  return self;
}

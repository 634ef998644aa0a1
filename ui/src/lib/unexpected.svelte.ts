// Unexpected failures (a script error, an unhandled rejection) caught app-wide and shown as a
// dismissible notice instead of a blank screen.
import { toApiError } from './api/errors';
import type { ApiError } from './api/types';

let last = $state<ApiError | null>(null);

export const unexpected = {
  get error(): ApiError | null {
    return last;
  },
  report(e: unknown): void {
    last = toApiError(e);
    console.error(e);
  },
  dismiss(): void {
    last = null;
  },
};

/** Catches what nothing else caught. */
export function installGlobalHandlers(target: Window = window): void {
  target.addEventListener('error', (e) => unexpected.report(e.error ?? e.message));
  target.addEventListener('unhandledrejection', (e) => unexpected.report(e.reason));
}

// What every form shares: its draft (restore on open, autosave while typing, discard after
// saving) and its error (the backend's message, and the field it marks).
import { onDestroy, onMount } from 'svelte';
import { createAutosave, type Autosave } from './drafts';
import { errorField, toApiError } from './api/errors';
import type { ApiError } from './api/types';

export interface FormDraftOptions<T> {
  key: string;
  label: () => string;
  /** The form's fields now (read deeply, so every change is noticed). */
  get: () => T;
  /** Puts restored fields back into the form. */
  set: (data: T) => void;
  /** Whether the fields hold nothing worth keeping (an untouched form keeps no draft). */
  isEmpty?: (data: T) => boolean;
  /** Test hook: the autosave to use. */
  autosave?: Autosave<T>;
}

/** The draft of a form: restored when it opens, kept while typing. */
export function useFormDraft<T>(opts: FormDraftOptions<T>) {
  const state = $state({ restored: false, saved: false, ready: false, error: null as ApiError | null });
  const autosave =
    opts.autosave ??
    createAutosave<T>({
      key: opts.key,
      label: opts.label,
      onError: (e) => (state.error = e),
      onSaved: () => (state.saved = true),
    });
  let pristine = '';
  let finished = false;

  onMount(() => {
    pristine = JSON.stringify(opts.get());
    void autosave.restore().then((data) => {
      if (data !== null && !finished) {
        opts.set(data);
        state.restored = true;
      }
      state.ready = true;
    });
  });

  $effect(() => {
    const now = JSON.stringify(opts.get());
    if (!state.ready || finished) return;
    const data = JSON.parse(now) as T;
    if (!state.restored && opts.isEmpty?.(data)) return;
    if (now !== pristine || state.restored) autosave.schedule(data);
  });

  onDestroy(() => {
    if (finished) return;
    void autosave.flush().then(() => autosave.dispose());
  });

  return {
    get restored() {
      return state.restored;
    },
    get saved() {
      return state.saved;
    },
    get ready() {
      return state.ready;
    },
    get error() {
      return state.error;
    },
    /** After a successful save: the draft is no longer needed. */
    async done() {
      finished = true;
      await autosave.discard();
      autosave.dispose();
    },
    /** The worker discards the draft: forget it and refill the form as new. */
    async discard(reset: () => void) {
      await autosave.discard();
      reset();
      pristine = JSON.stringify(opts.get());
      state.restored = false;
      state.saved = false;
    },
  };
}

/** A form's last error and the field it marks. */
export function useFormError(fields: readonly string[], aliases: Record<string, string> = {}) {
  let error = $state<ApiError | null>(null);
  const field = $derived(errorField(error, fields, aliases));
  return {
    get error() {
      return error;
    },
    set error(e: ApiError | null) {
      error = e;
    },
    /** The marked field's name, or null. */
    get field() {
      return field;
    },
    /** Records a failure from any rejection. */
    fail(e: unknown) {
      error = toApiError(e);
    },
    clear() {
      error = null;
    },
    /** The error's message when it marks `name`. */
    at(name: string, text: (e: ApiError) => string): string | null {
      return error && field === name ? text(error) : null;
    },
  };
}

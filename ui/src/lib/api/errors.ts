// Turning a failed command into an ApiError and finding which form field it marks.
import type { ApiError } from './types';

/** Whether a value has the ApiError shape the Tauri shell rejects with. */
export function isApiError(e: unknown): e is ApiError {
  return (
    typeof e === 'object' && e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message_ja?: unknown }).message_ja === 'string'
  );
}

/** Any rejection as an ApiError; unexpected ones (a JS error, a string) get code `unexpected`. */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) {
    return {
      code: e.code,
      message: typeof e.message === 'string' ? e.message : '',
      message_ja: e.message_ja,
      field: typeof e.field === 'string' && e.field !== '' ? e.field : null,
      bad_input: Boolean(e.bad_input),
    };
  }
  const text = e instanceof Error ? e.message : String(e);
  return {
    code: 'unexpected',
    message: `Unexpected error: ${text}`,
    message_ja: `予期しないエラーが発生しました。入力した内容は残っています。（${text}）`,
    field: null,
    bad_input: false,
  };
}

/** The message to show, in the UI's language. */
export function errorText(e: ApiError, lang: 'ja' | 'en'): string {
  return lang === 'en' && e.message ? e.message : e.message_ja;
}

/**
 * The field an error marks, mapped onto the form's own field names: the backend names fields
 * as in the request (`next_due`); `aliases` maps other spellings a form knows to its fields.
 * Returns null when the error concerns no field of this form (shown at the top instead).
 */
export function errorField(
  e: ApiError | null,
  formFields: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | null {
  if (!e || !e.field) return null;
  const raw = e.field.trim();
  const normal = raw.replace(/[\s-]+/g, '_').toLowerCase();
  for (const f of [raw, normal, aliases[raw], aliases[normal]]) {
    if (f && formFields.includes(f)) return f;
  }
  return null;
}

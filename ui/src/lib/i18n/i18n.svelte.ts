// The UI language (a setting kept in localStorage) and the translation function.
import { CATALOGUES, fill, type Lang, type MessageKey } from './catalogue';

const STORAGE_KEY = 'tsunagi.lang';

function initial(): Lang {
  try {
    return globalThis.localStorage?.getItem(STORAGE_KEY) === 'en' ? 'en' : 'ja';
  } catch {
    return 'ja';
  }
}

const first = initial();
let lang = $state<Lang>(first);

function apply(l: Lang): void {
  if (typeof document !== 'undefined') document.documentElement.lang = l;
}
apply(first);

export const i18n = {
  get lang(): Lang {
    return lang;
  },
  set lang(l: Lang) {
    lang = l;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, l);
    } catch {
      // A webview without storage keeps the choice for this run only.
    }
    apply(l);
  },
};

/** The message for `key` in the current language, with `{name}` placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  return fill(CATALOGUES[lang][key], params);
}

/** A domain label from the backend's reference data, in the current language. */
export function label(c: { label_ja: string; label_en?: string | null } | null | undefined): string {
  if (!c) return '';
  return lang === 'en' && c.label_en ? c.label_en : c.label_ja;
}

export type { Lang, MessageKey };

// The message catalogues by language: Japanese is the reference, English has the same keys.
import { ja } from './ja';
import { en } from './en';

export type Lang = 'ja' | 'en';
export type MessageKey = keyof typeof ja;
export type Catalogue = Record<MessageKey, string>;

export const CATALOGUES: Record<Lang, Catalogue> = { ja, en };

/** Fills `{name}` placeholders. */
export function fill(text: string, params?: Record<string, string | number>): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
}

// Unit tests of the message catalogues: Japanese and English have the same keys, none empty,
// and the same placeholders.
import { describe, expect, it } from 'vitest';
import { ja } from './ja';
import { en } from './en';
import { fill } from './catalogue';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('catalogues', () => {
  it('have the same keys', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(ja).sort());
  });

  it('have no empty message', () => {
    for (const [k, v] of [...Object.entries(ja), ...Object.entries(en)]) expect(v.trim(), k).not.toBe('');
  });

  it('use the same placeholders in both languages', () => {
    for (const k of Object.keys(ja) as (keyof typeof ja)[]) expect(placeholders(en[k]), k).toEqual(placeholders(ja[k]));
  });

  it('fills placeholders and leaves unknown ones', () => {
    expect(fill('あと{n}回', { n: 3 })).toBe('あと3回');
    expect(fill('{a}と{b}', { a: 'x' })).toBe('xと{b}');
  });
});

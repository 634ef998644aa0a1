// Unit tests of error handling: any rejection becomes an ApiError, and its field marks the
// form's input of that name.
import { describe, expect, it } from 'vitest';
import { errorField, errorText, isApiError, toApiError } from './errors';
import { apiError } from './fake';

describe('errors', () => {
  it('keeps an ApiError as it came', () => {
    const e = apiError('invalid_date', '日付が正しくありません。', 'next_due');
    expect(isApiError(e)).toBe(true);
    expect(toApiError(e)).toEqual(e);
  });

  it('wraps anything else as unexpected, in Japanese', () => {
    const e = toApiError(new Error('boom'));
    expect(e.code).toBe('unexpected');
    expect(e.message_ja).toContain('boom');
    expect(e.field).toBeNull();
    expect(toApiError('text').code).toBe('unexpected');
  });

  it('marks the field the error names', () => {
    const fields = ['name', 'next_due', 'birth'];
    expect(errorField(apiError('x', 'y', 'next_due'), fields)).toBe('next_due');
    expect(errorField(apiError('x', 'y', 'next due'), fields)).toBe('next_due');
    expect(errorField(apiError('x', 'y', 'birth_date'), fields, { birth_date: 'birth' })).toBe('birth');
  });

  it('marks nothing for a field the form does not have', () => {
    expect(errorField(apiError('x', 'y', 'pin'), ['name'])).toBeNull();
    expect(errorField(apiError('x', 'y'), ['name'])).toBeNull();
    expect(errorField(null, ['name'])).toBeNull();
  });

  it('shows the message in the UI language', () => {
    const e = { ...apiError('x', '日本語'), message: 'English' };
    expect(errorText(e, 'ja')).toBe('日本語');
    expect(errorText(e, 'en')).toBe('English');
  });
});

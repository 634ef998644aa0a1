// Unit tests of date and time formatting in Japanese and English.
import { describe, expect, it } from 'vitest';
import { formatDate, formatDateTime, formatDuration, formatShortDate, nowLocalInput, parseWall, todayIso } from './format';

describe('format', () => {
  it('writes a date in Japanese with the weekday', () => {
    expect(formatDate('2026-12-02')).toBe('2026年12月2日（水）');
    expect(formatDate('2027-01-01')).toBe('2027年1月1日（金）');
    expect(formatShortDate('2026-11-28')).toBe('11月28日（土）');
  });

  it('keeps the wall-clock time of a recorded time with an offset', () => {
    expect(formatDateTime('2026-12-02T14:05:00+09:00')).toBe('2026年12月2日（水） 14:05');
    expect(formatDateTime('2026-12-02T09:30')).toBe('2026年12月2日（水） 09:30');
  });

  it('writes English dates', () => {
    expect(formatDate('2026-12-02', 'en')).toBe('Wed, 2 Dec 2026');
    expect(formatDateTime('2026-12-02T14:05:00+09:00', 'en')).toBe('Wed, 2 Dec 2026 14:05');
  });

  it('shows unreadable input as given', () => {
    expect(formatDate('80代')).toBe('80代');
    expect(formatDate(null)).toBe('');
    expect(parseWall('2026-13-45T99')).toBeNull();
  });

  it('gives inputs for today and now', () => {
    const d = new Date(2026, 11, 2, 8, 7);
    expect(todayIso(d)).toBe('2026-12-02');
    expect(nowLocalInput(d)).toBe('2026-12-02T08:07');
  });

  it('writes durations roughly', () => {
    expect(formatDuration(42)).toBe('42秒');
    expect(formatDuration(95)).toBe('約2分');
    expect(formatDuration(3 * 3600 + 600)).toBe('約3時間10分');
    expect(formatDuration(95, 'en')).toBe('about 2 min');
  });
});

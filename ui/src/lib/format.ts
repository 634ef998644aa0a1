// Dates and times as the screens show them, in Japanese (2026年12月2日（水）) or English.
import type { Lang } from './i18n/catalogue';

const WEEK_JA = ['日', '月', '火', '水', '木', '金', '土'];
const WEEK_EN = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A wall-clock date and time, as recorded. */
export interface WallTime {
  y: number;
  m: number;
  d: number;
  hh: number | null;
  mm: number | null;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * Reads `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` or RFC 3339. A time with an explicit offset keeps
 * its wall-clock time (the local time where it was recorded); a UTC time (`Z`) is shown in this
 * device's time zone.
 */
export function parseWall(s: string | null | undefined): WallTime | null {
  if (!s) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/.exec(s.trim());
  if (!m) return null;
  const [, y, mo, d, hh, mm, zone] = m;
  if (zone && /^[Zz]$/.test(zone)) {
    const dt = new Date(s);
    if (Number.isNaN(dt.getTime())) return null;
    return { y: dt.getFullYear(), m: dt.getMonth() + 1, d: dt.getDate(), hh: dt.getHours(), mm: dt.getMinutes() };
  }
  return {
    y: Number(y), m: Number(mo), d: Number(d),
    hh: hh === undefined ? null : Number(hh),
    mm: mm === undefined ? null : Number(mm),
  };
}

function weekday(w: WallTime): number {
  return new Date(Date.UTC(w.y, w.m - 1, w.d)).getUTCDay();
}

/** 2026年12月2日（水） / Wed, 2 Dec 2026. Unreadable input is shown as given. */
export function formatDate(s: string | null | undefined, lang: Lang = 'ja'): string {
  const w = parseWall(s);
  if (!w) return s ?? '';
  const wd = weekday(w);
  return lang === 'ja'
    ? `${w.y}年${w.m}月${w.d}日（${WEEK_JA[wd]}）`
    : `${WEEK_EN[wd]}, ${w.d} ${MONTH_EN[w.m - 1]} ${w.y}`;
}

/** 12月2日（水） without the year, for lists within the year. */
export function formatShortDate(s: string | null | undefined, lang: Lang = 'ja'): string {
  const w = parseWall(s);
  if (!w) return s ?? '';
  const wd = weekday(w);
  return lang === 'ja' ? `${w.m}月${w.d}日（${WEEK_JA[wd]}）` : `${WEEK_EN[wd]}, ${w.d} ${MONTH_EN[w.m - 1]}`;
}

/** 2026年12月2日（水）14:05 / Wed, 2 Dec 2026 14:05. */
export function formatDateTime(s: string | null | undefined, lang: Lang = 'ja'): string {
  const w = parseWall(s);
  if (!w) return s ?? '';
  const date = formatDate(s, lang);
  return w.hh === null ? date : `${date} ${pad(w.hh)}:${pad(w.mm ?? 0)}`;
}

/** 14:05. */
export function formatTime(s: string | null | undefined): string {
  const w = parseWall(s);
  return w && w.hh !== null ? `${pad(w.hh)}:${pad(w.mm ?? 0)}` : '';
}

/** Today as YYYY-MM-DD in this device's time zone. */
export function todayIso(now: Date = new Date()): string {
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Now as a `datetime-local` value (YYYY-MM-DDTHH:MM). */
export function nowLocalInput(now: Date = new Date()): string {
  return `${todayIso(now)}T${pad(now.getHours())}:${pad(now.getMinutes())}`;
}

/** A number of seconds as a rough duration (約2分 / about 2 min). */
export function formatDuration(seconds: number, lang: Lang = 'ja'): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return lang === 'ja' ? `${s}秒` : `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return lang === 'ja' ? `約${min}分` : `about ${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  if (lang === 'ja') return rest ? `約${h}時間${rest}分` : `約${h}時間`;
  return rest ? `about ${h} h ${rest} min` : `about ${h} h`;
}

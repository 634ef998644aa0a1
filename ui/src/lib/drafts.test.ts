// Unit tests of draft autosave: kept after the delay (the last change wins), restored, flushed
// before locking, discarded after saving, and never lost by a failed save.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAutosave, DRAFT_DELAY_MS, flushAllDrafts, readDraftBody } from './drafts';
import { FakeBackend } from './api/fake';
import type { Backend } from './api/backend';

describe('drafts', () => {
  let fake: FakeBackend;
  let be: Backend;
  beforeEach(() => {
    vi.useFakeTimers();
    fake = new FakeBackend();
    be = fake.asBackend();
  });
  afterEach(() => vi.useRealTimers());

  const make = (key = 'contact:p1') => createAutosave<{ note: string }>({ key, label: () => '山田さんの訪問記録', backend: () => be });

  it('keeps only the last change, after the delay', async () => {
    const a = make();
    a.schedule({ note: 'a' });
    a.schedule({ note: 'ab' });
    expect(fake.callsOf('save_draft')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS);
    expect(fake.callsOf('save_draft')).toEqual([
      { key: 'contact:p1', label: '山田さんの訪問記録', body: JSON.stringify({ v: 1, data: { note: 'ab' } }) },
    ]);
    a.dispose();
  });

  it('restores what was kept', async () => {
    const a = make();
    a.schedule({ note: '玄関で話した' });
    await a.flush();
    a.dispose();
    const b = make();
    expect(await b.restore()).toEqual({ note: '玄関で話した' });
    b.dispose();
  });

  it('keeps waiting drafts at once when asked (before locking)', async () => {
    const a = make();
    a.schedule({ note: 'x' });
    await flushAllDrafts();
    expect(fake.drafts.has('contact:p1')).toBe(true);
    a.dispose();
  });

  it('discards a draft and drops a waiting change', async () => {
    const a = make();
    a.schedule({ note: 'x' });
    await a.flush();
    a.schedule({ note: 'y' });
    await a.discard();
    await vi.advanceTimersByTimeAsync(DRAFT_DELAY_MS * 2);
    expect(fake.drafts.has('contact:p1')).toBe(false);
    expect(fake.callsOf('discard_draft')).toEqual([{ key: 'contact:p1' }]);
    a.dispose();
  });

  it('reports a failed save and keeps the next one going', async () => {
    const errors: string[] = [];
    const a = createAutosave<{ note: string }>({ key: 'k', label: () => 'l', backend: () => be, onError: (e) => errors.push(e.code) });
    fake.failNext('save_draft', { code: 'store', message: '', message_ja: '保存できません', field: null, bad_input: false });
    a.schedule({ note: '1' });
    await a.flush();
    a.schedule({ note: '2' });
    await a.flush();
    expect(errors).toEqual(['store']);
    expect(readDraftBody(fake.drafts.get('k')!.body)).toEqual({ note: '2' });
    a.dispose();
  });

  it('ignores a body it cannot read', () => {
    expect(readDraftBody('not json')).toBeNull();
    expect(readDraftBody('{"v":2,"data":{}}')).toBeNull();
  });
});

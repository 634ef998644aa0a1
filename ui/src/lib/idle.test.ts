// Unit tests of the idle lock: it fires once after the limit without activity, activity
// postpones it, and a sleeping device is caught up by clock time.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createIdleLock } from './idle';

describe('idle lock', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('locks after the limit without activity, once', () => {
    const onIdle = vi.fn();
    const idle = createIdleLock({ minutes: 5, onIdle, target: new EventTarget() });
    idle.start();
    vi.advanceTimersByTime(5 * 60_000 - 1);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(20 * 60_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('is postponed by touches and keys', () => {
    const onIdle = vi.fn();
    const target = new EventTarget();
    const idle = createIdleLock({ minutes: 1, onIdle, target });
    idle.start();
    vi.advanceTimersByTime(50_000);
    target.dispatchEvent(new Event('pointerdown'));
    vi.advanceTimersByTime(50_000);
    target.dispatchEvent(new Event('keydown'));
    vi.advanceTimersByTime(59_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('counts clock time, not timer ticks (a tablet that slept)', () => {
    const onIdle = vi.fn();
    let now = 0;
    const idle = createIdleLock({ minutes: 1, onIdle, target: new EventTarget(), now: () => now });
    idle.start();
    now = 10 * 60_000;
    idle.setMinutes(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it('stops watching when stopped, and never locks with a limit of 0', () => {
    const onIdle = vi.fn();
    const a = createIdleLock({ minutes: 1, onIdle, target: new EventTarget() });
    a.start();
    a.stop();
    const b = createIdleLock({ minutes: 0, onIdle, target: new EventTarget() });
    b.start();
    vi.advanceTimersByTime(60 * 60_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});

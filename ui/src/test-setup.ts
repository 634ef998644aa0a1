// Test setup shared by every unit test: a clean DOM and session between tests.
import { afterEach } from 'vitest';
import { cleanup } from '@testing-library/svelte';
import { resetSession } from './lib/session.svelte';

afterEach(() => {
  cleanup();
  resetSession();
  localStorage.clear();
});

// Vite build and Vitest settings: relative base for Tauri's custom protocol, output in ui/dist,
// no inline scripts (CSP), and the shipped Japanese font without its unused WOFF fallbacks.
import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Fontsource lists a WOFF fallback after each WOFF2 file; WebKitGTK reads WOFF2, so the
// fallbacks would only double the files shipped in dist.
function woff2Only(): Plugin {
  return {
    name: 'tsunagi-woff2-only',
    enforce: 'pre',
    transform(code, id) {
      if (!id.includes('@fontsource') || !id.endsWith('.css')) return null;
      return { code: code.replace(/,\s*url\([^)]*\.woff\)\s*format\('woff'\)/g, ''), map: null };
    },
  };
}

export default defineConfig(({ mode }) => ({
  base: './',
  plugins: [woff2Only(), svelte()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1200,
  },
  // Components mount in jsdom with Svelte's browser build.
  resolve: mode === 'test' ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
  },
}));

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

// The app runs with Tauri's `freezePrototype`: Object.prototype is frozen, so assigning an
// inherited read-only name on a plain object throws. ECharts' scheduler copies every name of a
// class prototype (including `constructor`) onto plain objects when its module loads; skipping
// `constructor` there is the one change it needs (checked with a frozen prototype in a browser).
function echartsFrozenPrototype(): Plugin {
  return {
    name: 'tsunagi-echarts-frozen-prototype',
    enforce: 'pre',
    transform(code, id) {
      if (!/echarts[\\/]lib[\\/]core[\\/]Scheduler\.js$/.test(id)) return null;
      const fixed = code.replace(
        /for \(var (\w+) in Clz\.prototype\) \{/,
        (m, v: string) => `${m} if (${v} === 'constructor') continue;`,
      );
      if (fixed === code) this.error('ECharts Scheduler.js changed: review the frozen-prototype fix');
      return { code: fixed, map: null };
    },
  };
}

export default defineConfig(({ mode }) => ({
  base: './',
  plugins: [woff2Only(), echartsFrozenPrototype(), svelte()],
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

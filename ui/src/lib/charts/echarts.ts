// ECharts, tree-shaken to what the app draws (line charts with a grid, tooltip and aria
// descriptions, SVG renderer, Japanese locale); loaded on demand by the chart components.
import * as echarts from 'echarts/core';
import { LineChart } from 'echarts/charts';
import { AriaComponent, GridComponent, TooltipComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import langJA from 'echarts/lib/i18n/langJA.js';

echarts.use([LineChart, GridComponent, TooltipComponent, AriaComponent, SVGRenderer]);
echarts.registerLocale('JA', langJA as Parameters<typeof echarts.registerLocale>[1]);

export type Chart = echarts.ECharts;

/** A chart in `el`, with the UI language's locale. */
export function createChart(el: HTMLElement, lang: 'ja' | 'en'): Chart {
  return echarts.init(el, undefined, { renderer: 'svg', locale: lang === 'ja' ? 'JA' : 'EN' });
}

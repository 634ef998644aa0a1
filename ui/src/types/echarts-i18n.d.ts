// Declares ECharts' Japanese locale module, which ships without type declarations.
declare module 'echarts/lib/i18n/langJA.js' {
  const locale: Record<string, unknown>;
  export default locale;
}

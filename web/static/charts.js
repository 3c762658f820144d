// Chart.js (vendored: vendor/chart.umd.min.js, loaded as a classic script
// before the page's module) with the panel's colours.

export const COLOURS = {
  contact: '#5fb0e8',
  light: '#3fb27f',
  firm: '#e0a33a',
  steps: '#8f7fe0',
  cadence: '#e06f9a',
  level: '#c9d3dc',
  steadiness: '#5fb0e8',
  wholeFoot: '#3fb27f',
  asymmetry: '#e0a33a',
  power: '#e06f9a',
  powerPerKg: '#8f7fe0',
  mark: '#c9d3dc',
  grid: '#2e3843',
  text: '#93a1ae',
};

export function chartLib() {
  const Chart = window.Chart;
  if (!Chart) return null;
  Chart.defaults.color = COLOURS.text;
  Chart.defaults.borderColor = COLOURS.grid;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 14;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;      // calm, and cheap on a small tablet
  return Chart;
}

/** Make (or remake) a chart on a canvas; returns it, or null without Chart.js. */
export function chart(canvas, config) {
  const Chart = chartLib();
  if (!Chart || !canvas) return null;
  const old = Chart.getChart(canvas);
  if (old) old.destroy();
  return new Chart(canvas, config);
}

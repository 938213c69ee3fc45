import { html, table, type Html } from './html.js';
import { formatNumber } from './parts.js';

export interface ChartBar {
  /** Start of the bucket (ISO 8601). */
  start: string;
  value: number;
}

const WIDTH = 600;
const HEIGHT = 170;
const LEFT = 44;
const BOTTOM = 22;
const TOP = 10;

function clock(iso: string): string {
  return iso.slice(11, 16);
}

function rounded(value: number): string {
  return value >= 10 || value === 0 ? formatNumber(Math.round(value)) : value.toFixed(value >= 1 ? 1 : 2);
}

/**
 * A bar chart drawn on the server as inline SVG (no script, no external request): its `<title>`
 * says what it shows in one sentence, and the same numbers are in a table under `<details>` for
 * anyone who does not read charts. Colours come from the stylesheet (classes, no style attributes).
 */
export function barChart(options: { id: string; title: string; unit: string; bars: ChartBar[]; note: string }): Html {
  const { id, title, unit, bars } = options;
  const max = Math.max(0, ...bars.map((b) => b.value));
  const plotWidth = WIDTH - LEFT - 6;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = bars.length === 0 ? plotWidth : plotWidth / bars.length;
  const barWidth = Math.max(1, step * 0.8);
  const rects = bars.map((b, i) => {
    const h = max === 0 ? 0 : (b.value / max) * plotHeight;
    const x = LEFT + i * step + (step - barWidth) / 2;
    const y = TOP + plotHeight - h;
    return html`<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}"><title>${clock(b.start)} UTC: ${rounded(b.value)} ${unit}</title></rect>`;
  });
  const ticks =
    bars.length === 0
      ? []
      : [0, Math.floor(bars.length / 2), bars.length - 1].map((i) =>
          // The last label ends at the plot's right edge: centred under the last bar it was cut off.
          i === bars.length - 1 && i > 0
            ? html`<text x="${(LEFT + bars.length * step).toFixed(1)}" y="${HEIGHT - 6}" text-anchor="end">${clock(bars[i]!.start)}</text>`
            : html`<text x="${(LEFT + i * step + step / 2).toFixed(1)}" y="${HEIGHT - 6}" text-anchor="middle">${clock(bars[i]!.start)}</text>`,
        );
  const peak = bars.length === 0 ? 'no data' : `peak ${rounded(max)} ${unit}`;
  const summary = `${title}: ${bars.length} bars from ${bars[0] ? clock(bars[0].start) : '-'} to ${bars.at(-1) ? clock(bars.at(-1)!.start) : '-'} UTC, ${peak}.`;
  const svg = html`<svg class="chart" id="${id}" role="img" aria-labelledby="${id}-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" preserveAspectRatio="xMidYMid meet"><title id="${id}-title">${summary}</title>
<line class="axis" x1="${LEFT}" y1="${TOP + plotHeight}" x2="${WIDTH - 6}" y2="${TOP + plotHeight}"></line>
<line class="axis" x1="${LEFT}" y1="${TOP}" x2="${LEFT}" y2="${TOP + plotHeight}"></line>
<text x="${LEFT - 4}" y="${TOP + 10}" text-anchor="end">${rounded(max)}</text><text x="${LEFT - 4}" y="${TOP + plotHeight}" text-anchor="end">0</text>
${rects}${ticks}</svg>`;
  const rows = bars.map((b) => [html`${clock(b.start)}`, html`${rounded(b.value)}`]);
  return html`<figure class="card"><figcaption><h3>${title}</h3></figcaption>${svg}<p class="muted">${options.note} · ${peak}</p><details><summary>The numbers (table)</summary>${table(['bucket start (UTC)', unit], rows)}</details></figure>`;
}

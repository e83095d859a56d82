// Renders the autoscale-step time series as a standalone SVG (no browser, no dependency): one panel
// per run, pool size and in-flight load on the left axis, throughput on the right axis.

/** One point of a run's time series. */
export interface TimePoint {
  /** Seconds since the run started. */
  seconds: number
  /** The pool's `maxSize`. */
  maxSize: number
  /** Connections open (client side), including those still opening. */
  open: number
  /** Connections open and ready (checked out or idle). */
  ready: number
  /** Requests in flight: holding a connection or waiting for one. */
  inFlight: number
  /** Queries completed per second over the last tick. */
  throughput: number
}

/** One panel: a titled series with its phase boundaries (seconds). */
export interface PlotPanel {
  title: string
  series: readonly TimePoint[]
  boundaries: readonly number[]
  /** Another run's throughput drawn behind, for comparison (e.g. the best fixed pool's). */
  reference?: { label: string; series: readonly TimePoint[] } | undefined
}

const WIDTH = 900
const PANEL_HEIGHT = 260
const MARGIN = { left: 60, right: 70, top: 34, bottom: 36 }
const COLORS = { size: '#1f77b4', open: '#9ecae1', inFlight: '#ff7f0e', throughput: '#2ca02c', reference: '#999999' }

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceMax(value: number): number {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}

function path(points: readonly TimePoint[], x: (p: TimePoint) => number, y: (p: TimePoint) => number): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p).toFixed(1)},${y(p).toFixed(1)}`).join('')
}

function panel(p: PlotPanel, top: number): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom
  const duration = Math.max(1, ...p.series.map((s) => s.seconds))
  const leftMax = niceMax(Math.max(...p.series.map((s) => Math.max(s.maxSize, s.inFlight, s.open))))
  const rightMax = niceMax(Math.max(...p.series.map((s) => s.throughput), ...(p.reference?.series ?? []).map((s) => s.throughput)))
  const x = (seconds: number) => MARGIN.left + (seconds / duration) * plotWidth
  const yLeft = (value: number) => top + MARGIN.top + plotHeight - (value / leftMax) * plotHeight
  const yRight = (value: number) => top + MARGIN.top + plotHeight - (value / rightMax) * plotHeight
  const parts: string[] = []
  parts.push(`<text x="${MARGIN.left}" y="${top + 20}" font-size="14" font-weight="bold">${escape(p.title)}</text>`)
  for (let i = 0; i <= 4; i++) {
    const value = (leftMax * i) / 4
    const y = yLeft(value)
    parts.push(`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" stroke="#eee"/>`)
    parts.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${Math.round(value)}</text>`)
    parts.push(`<text x="${WIDTH - MARGIN.right + 6}" y="${yRight((rightMax * i) / 4) + 4}" font-size="11">${Math.round((rightMax * i) / 4)}</text>`)
  }
  for (const boundary of p.boundaries) {
    parts.push(`<line x1="${x(boundary)}" x2="${x(boundary)}" y1="${top + MARGIN.top}" y2="${top + MARGIN.top + plotHeight}" stroke="#999" stroke-dasharray="4 3"/>`)
  }
  for (let s = 0; s <= duration; s += 5) {
    parts.push(`<text x="${x(s)}" y="${top + MARGIN.top + plotHeight + 16}" font-size="11" text-anchor="middle">${s}s</text>`)
  }
  const series = p.series
  if (p.reference !== undefined) {
    parts.push(`<path d="${path(p.reference.series, (s) => x(s.seconds), (s) => yRight(s.throughput))}" fill="none" stroke="${COLORS.reference}" stroke-width="1" opacity="0.7"/>`)
    parts.push(`<text x="${MARGIN.left}" y="${top + MARGIN.top - 4}" font-size="11" fill="${COLORS.reference}">grey: ${escape(p.reference.label)} throughput</text>`)
  }
  parts.push(`<path d="${path(series, (s) => x(s.seconds), (s) => yRight(s.throughput))}" fill="none" stroke="${COLORS.throughput}" stroke-width="1.2" opacity="0.8"/>`)
  parts.push(`<path d="${path(series, (s) => x(s.seconds), (s) => yLeft(s.inFlight))}" fill="none" stroke="${COLORS.inFlight}" stroke-width="1.5"/>`)
  parts.push(`<path d="${path(series, (s) => x(s.seconds), (s) => yLeft(s.open))}" fill="none" stroke="${COLORS.open}" stroke-width="1.5"/>`)
  parts.push(`<path d="${path(series, (s) => x(s.seconds), (s) => yLeft(s.maxSize))}" fill="none" stroke="${COLORS.size}" stroke-width="2"/>`)
  parts.push(`<text x="14" y="${top + MARGIN.top + plotHeight / 2}" font-size="11" transform="rotate(-90 14 ${top + MARGIN.top + plotHeight / 2})" text-anchor="middle">connections / requests</text>`)
  parts.push(`<text x="${WIDTH - 12}" y="${top + MARGIN.top + plotHeight / 2}" font-size="11" transform="rotate(90 ${WIDTH - 12} ${top + MARGIN.top + plotHeight / 2})" text-anchor="middle">queries/s</text>`)
  return parts.join('\n')
}

/**
 * The whole figure: one panel per run, stacked, with a shared legend.
 *
 * @example
 * await writeFile('bench/autoscale-step.svg', renderStepPlot([{ title, series, boundaries: [10, 20] }]))
 */
export function renderStepPlot(panels: readonly PlotPanel[], caption: string): string {
  const legendHeight = 40
  const height = panels.length * PANEL_HEIGHT + legendHeight
  const legend = [
    ['pool size (maxSize)', COLORS.size],
    ['open connections', COLORS.open],
    ['in-flight requests', COLORS.inFlight],
    ['throughput (right axis)', COLORS.throughput],
  ]
    .map(([label, color], i) => `<rect x="${MARGIN.left + i * 190}" y="${height - 26}" width="14" height="4" fill="${color}"/><text x="${MARGIN.left + i * 190 + 20}" y="${height - 20}" font-size="12">${label}</text>`)
    .join('\n')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<title>${escape(caption)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * PANEL_HEIGHT)),
    legend,
    `<text x="${WIDTH - MARGIN.right}" y="${height - 6}" font-size="10" text-anchor="end" fill="#666">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

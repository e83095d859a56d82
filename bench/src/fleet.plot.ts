// Renders the fleet benchmark's connections over time as a standalone SVG (no dependency): one panel per
// setup, each instance's open connections stacked as a band, the server's own count of the fleet's
// connections as a line, and the budget and the server's limit as dashed lines.

/** A step series: `value` holds from `seconds` until the next point. */
export interface StepPoint {
  seconds: number
  value: number
}

/** One panel. */
export interface FleetPanel {
  title: string
  /** Per instance, its open connections (client side). */
  instances: readonly (readonly StepPoint[])[]
  /** The fleet's connections as the server lists them. */
  server: readonly StepPoint[]
  /** Seconds at which the hot set changed. */
  boundaries: readonly number[]
  /** Horizontal reference lines, e.g. the budget. */
  limits: readonly { label: string; value: number }[]
}

const WIDTH = 900
const PANEL_HEIGHT = 280
const MARGIN = { left: 60, right: 150, top: 34, bottom: 36 }
const GRID_SECONDS = 0.1

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceMax(value: number): number {
  if (value <= 0) return 1
  const magnitude = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude
  return 10 * magnitude
}

/** Distinct hues around the colour wheel, alternating lightness so neighbours stand apart. */
function color(index: number, count: number): string {
  const hue = Math.round((index * 360) / Math.max(1, count))
  return `hsl(${hue}, 65%, ${index % 2 === 0 ? 55 : 70}%)`
}

/** The value of a step series at `seconds` (0 before its first point). */
function valueAt(series: readonly StepPoint[], seconds: number, from: { index: number }): number {
  while (from.index + 1 < series.length && (series[from.index + 1] as StepPoint).seconds <= seconds) from.index++
  const point = series[from.index]
  return point === undefined || point.seconds > seconds ? 0 : point.value
}

function panel(p: FleetPanel, top: number): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom
  const duration = Math.max(1, ...p.server.map((s) => s.seconds), ...p.instances.flatMap((s) => s.map((point) => point.seconds)))
  const grid = Array.from({ length: Math.floor(duration / GRID_SECONDS) + 1 }, (_, i) => i * GRID_SECONDS)
  // Stack the instances on the common grid: stacked[i][t] is the top of instance i's band.
  const cursors = p.instances.map(() => ({ index: 0 }))
  const stacked = p.instances.map(() => new Array<number>(grid.length).fill(0))
  grid.forEach((seconds, t) => {
    let sum = 0
    p.instances.forEach((series, i) => {
      sum += valueAt(series, seconds, cursors[i] as { index: number })
      ;(stacked[i] as number[])[t] = sum
    })
  })
  const top1 = Math.max(1, ...(stacked[stacked.length - 1] ?? [0]), ...p.server.map((s) => s.value), ...p.limits.map((l) => l.value))
  const yMax = niceMax(top1 * 1.05)
  const x = (seconds: number) => MARGIN.left + (seconds / duration) * plotWidth
  const y = (value: number) => top + MARGIN.top + plotHeight - (value / yMax) * plotHeight
  const parts: string[] = []
  parts.push(`<text x="${MARGIN.left}" y="${top + 20}" font-size="14" font-weight="bold">${escape(p.title)}</text>`)
  for (let i = 0; i <= 4; i++) {
    const value = (yMax * i) / 4
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#eee"/>`)
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(value) + 4}" font-size="11" text-anchor="end">${Math.round(value)}</text>`)
  }
  const step = duration > 60 ? 10 : 5
  for (let s = 0; s <= duration; s += step) {
    parts.push(`<text x="${x(s)}" y="${top + MARGIN.top + plotHeight + 16}" font-size="11" text-anchor="middle">${s}s</text>`)
  }
  stacked.forEach((upper, i) => {
    const lower = i === 0 ? new Array<number>(grid.length).fill(0) : (stacked[i - 1] as number[])
    const forward = grid.map((s, t) => `${x(s).toFixed(1)},${y(upper[t] as number).toFixed(1)}`)
    const back = grid.map((s, t) => `${x(s).toFixed(1)},${y(lower[t] as number).toFixed(1)}`).reverse()
    parts.push(`<polygon points="${[...forward, ...back].join(' ')}" fill="${color(i, stacked.length)}" stroke="none"/>`)
  })
  for (const boundary of p.boundaries) {
    parts.push(`<line x1="${x(boundary)}" x2="${x(boundary)}" y1="${top + MARGIN.top}" y2="${top + MARGIN.top + plotHeight}" stroke="#555" stroke-dasharray="4 3"/>`)
  }
  p.limits.forEach((limit, i) => {
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(limit.value)}" y2="${y(limit.value)}" stroke="${i === 0 ? '#c00' : '#600'}" stroke-dasharray="6 3" stroke-width="1.5"/>`)
    parts.push(`<text x="${MARGIN.left + plotWidth + 6}" y="${y(limit.value) + 4}" font-size="11" fill="${i === 0 ? '#c00' : '#600'}">${escape(`${limit.label} (${limit.value})`)}</text>`)
  })
  const serverPath = p.server.map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.seconds).toFixed(1)},${y(s.value).toFixed(1)}`).join('')
  parts.push(`<path d="${serverPath}" fill="none" stroke="#000" stroke-width="1.5"/>`)
  parts.push(`<text x="14" y="${top + MARGIN.top + plotHeight / 2}" font-size="11" transform="rotate(-90 14 ${top + MARGIN.top + plotHeight / 2})" text-anchor="middle">connections</text>`)
  return parts.join('\n')
}

/**
 * The whole figure: one panel per setup, stacked, with a legend.
 *
 * @example
 * await writeFile('bench/fleet.svg', renderFleetPlot(panels, 'fleet, 16 instances'))
 */
export function renderFleetPlot(panels: readonly FleetPanel[], caption: string): string {
  const legendHeight = 44
  const height = panels.length * PANEL_HEIGHT + legendHeight
  const legend = [
    `<rect x="${MARGIN.left}" y="${height - 30}" width="14" height="8" fill="${color(0, 4)}"/><rect x="${MARGIN.left + 14}" y="${height - 30}" width="14" height="8" fill="${color(1, 4)}"/>`,
    `<text x="${MARGIN.left + 34}" y="${height - 22}" font-size="12">one band per instance: its open connections (client side), stacked</text>`,
    `<rect x="${MARGIN.left + 430}" y="${height - 28}" width="18" height="2" fill="#000"/><text x="${MARGIN.left + 454}" y="${height - 22}" font-size="12">the fleet's connections in pg_stat_activity</text>`,
    `<text x="${MARGIN.left}" y="${height - 6}" font-size="11" fill="#555">dashed verticals: the hot set moves</text>`,
  ].join('\n')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<title>${escape(caption)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * PANEL_HEIGHT)),
    legend,
    `<text x="${WIDTH - 10}" y="${height - 6}" font-size="10" text-anchor="end" fill="#666">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

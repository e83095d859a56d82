// Least-squares slope of a series, for trends such as heap growth over a soak run. Hand-written: it is
// one formula, and a statistics package for it would be a dependency for ten lines.

/** A point of a series. */
export interface Point {
  x: number
  y: number
}

/**
 * The slope of the least-squares line through `points` (change of `y` per unit of `x`).
 *
 * @throws {RangeError} with fewer than two points, or when every `x` is the same
 * @example
 * slope([{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 5 }]) // 2
 */
export function slope(points: readonly Point[]): number {
  if (points.length < 2) throw new RangeError(`Expected at least two points, got ${points.length}`)
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / points.length
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / points.length
  let covariance = 0
  let variance = 0
  for (const { x, y } of points) {
    covariance += (x - meanX) * (y - meanY)
    variance += (x - meanX) ** 2
  }
  if (variance === 0) throw new RangeError('Expected points with at least two distinct x values')
  return covariance / variance
}

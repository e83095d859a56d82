/** A promise with its settle functions exposed, to drive fakes step by step. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
}

/**
 * A promise settled from outside (`Promise.withResolvers()`, which Node.js 20 lacks).
 *
 * @example
 * const answered = deferred<string>()
 * server.onQuery = () => answered.promise
 * answered.resolve('ok')
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

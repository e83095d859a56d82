import { OperationContext, type OperationContextOptions } from './operation-context.js'
import { checkOption } from './options.js'

/** Options of `runOperation()`: those of `OperationContext.create`. */
export type RunOperationOptions = OperationContextOptions

/**
 * Runs a background job as an operation: its own scope and context, `fn` inside `run`, and `dispose()`
 * in `finally`. Returns `fn`'s result, or rethrows its error after disposal. A disposal failure after a
 * failed job is reported through the container's `onError` (the job's own error wins); after a
 * successful job it is thrown.
 *
 * @throws {InvalidOptionError} when `fn` is not a function (before any scope is created), or for bad options
 * @example
 * await runOperation('billing-worker', 'charge', async (context) => {
 *   await context.postgres.query('UPDATE invoices SET paid = true WHERE id = $1', [id])
 * }, { container })
 */
export async function runOperation<R>(
  handler: string,
  operation: string,
  fn: (context: OperationContext) => R | Promise<R>,
  options: RunOperationOptions,
): Promise<R> {
  checkOption('runOperation', 'fn', fn, { type: 'function' })
  const context = OperationContext.createFor('runOperation', handler, operation, options)
  let result: R
  try {
    result = await context.run(() => fn(context))
  } catch (error) {
    await disposeInside(context).catch((disposeError: unknown) => context.scope.container.reportError(disposeError))
    throw error
  }
  await disposeInside(context)
  return result
}

// Disposers run in the job's own context, so what they log carries its request id (not an outer job's).
function disposeInside(context: OperationContext): Promise<void> {
  return context.run(() => context.dispose())
}

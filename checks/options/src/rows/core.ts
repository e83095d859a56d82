import { OperationContext, createPoolRegistry, createServiceContainer, runOperation, type PoolEventListeners } from '@lifeguard/core'
import { PoolEventHub, PoolMonitor, resolveResize } from '@lifeguard/core/adapter'
import { TIMER_LIMIT, TOO_LONG, type OptionRow } from '../option-row.js'

const pkg = '@lifeguard/core'
const container = () => createServiceContainer()
const monitor = { name: 'orders', kind: 'test', target: 'test://orders' }

/** `@lifeguard/core`: the registry, runOperation, OperationContext, and the pieces adapters build on. */
export const coreRows: OptionRow[] = [
  { package: pkg, entry: 'registry.close', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: () => createPoolRegistry().close({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'registry.warmup', bad: 'connections: 0', option: 'connections', call: () => createPoolRegistry().warmup({ connections: 0 }) },
  { package: pkg, entry: 'registry.warmup', bad: 'timeoutMillis: 2 ** 32', option: 'timeoutMillis', message: TIMER_LIMIT, call: () => createPoolRegistry().warmup({ timeoutMillis: TOO_LONG }) },
  { package: pkg, entry: 'runOperation', bad: 'a job that is not a function', option: 'fn', call: () => runOperation('job', 'run', 'not a function' as never, { container: container() }) },
  {
    package: pkg,
    entry: 'OperationContext.create',
    bad: 'deadlineMillis: 2 ** 32',
    option: 'deadlineMillis',
    message: TIMER_LIMIT,
    call: () => OperationContext.create('http', 'GET /', { container: container(), deadlineMillis: TOO_LONG }).dispose(),
  },
  { package: pkg, entry: 'new PoolEventHub', bad: 'events: { onError: 5 }', option: 'events.onError', call: () => new PoolEventHub('orders', 'test', { onError: 5 } as never) },
  { package: pkg, entry: 'new PoolEventHub', bad: 'events: { onErorr }', option: 'events.onErorr', call: () => new PoolEventHub('orders', 'test', { onErorr: () => {} } as PoolEventListeners) },
  { package: pkg, entry: 'hub.on', bad: "on('error', 5)", option: 'listener', call: () => new PoolEventHub('orders', 'test').on('error', 5 as never) },
  { package: pkg, entry: 'new PoolMonitor', bad: 'leakDetectionMillis: 2 ** 32', option: 'leakDetectionMillis', message: TIMER_LIMIT, call: () => new PoolMonitor({ ...monitor, leakDetectionMillis: TOO_LONG }) },
  { package: pkg, entry: 'resolveResize', bad: 'resize(undefined)', option: 'size', call: () => resolveResize('resize', { minSize: 0, maxSize: 10 }, undefined as never) },
]

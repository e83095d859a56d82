import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { OperationContext, ResolutionError, createServiceContainer, type ServiceResolver } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

// A whole second copy of core's modules, errors included (a query-string copy of one file would share
// `errors.ts` with this one): what an application gets when an adapter brings its own copy of core.
type Core = typeof import('../src/index.js')
let theirs: Core
let copyDir: string

const copies = suite("core's errors recognised across two installed copies")

copies.before(async () => {
  copyDir = mkdtempSync(join(tmpdir(), 'lifeguard-core-copy-'))
  cpSync(new URL('../src', import.meta.url), join(copyDir, 'src'), { recursive: true })
  writeFileSync(join(copyDir, 'package.json'), '{ "type": "module" }')
  theirs = (await import(pathToFileURL(join(copyDir, 'src', 'index.ts')).href)) as Core
})

copies.after(() => {
  rmSync(copyDir, { recursive: true, force: true })
})

copies('the test really has two copies, with two ResolutionError classes', () => {
  assert.is.not(theirs.ResolutionError, ResolutionError)
  assert.is.not(theirs.OperationContext, OperationContext)
})

copies("ofScope() of a plain scope is undefined, whichever copy's scope it is", async () => {
  const ours = createServiceContainer()
  const their = theirs.createServiceContainer()
  assert.is(OperationContext.ofScope(their.createScope() as never), undefined)
  assert.is(theirs.OperationContext.ofScope(ours.createScope() as never), undefined)
  await ours.dispose()
  await their.dispose()
})

copies("an adapter's own copy resolving from the application's plain scope (context.postgres's path)", async () => {
  // How the database adapters register their handle: its factory asks its own copy for the scope's context.
  const container = createServiceContainer().scoped('postgres', (r: ServiceResolver) => ({ context: theirs.OperationContext.ofScope(r.scope as never) }))
  const scope = container.createScope()
  assert.equal(scope.resolve('postgres'), { context: undefined })
  const context = OperationContext.create('api', 'GET /x', { container })
  assert.is((context.get('postgres') as { context: unknown }).context, context)
  await context.dispose()
  await container.dispose()
})

copies("a factory that resolves from the other copy's scope passes its errors on as they are", async () => {
  const their = theirs.createServiceContainer()
  const theirScope = their.createScope()
  const container = createServiceContainer().scoped('bridge', () => theirScope.resolve('missing'))
  const unknown = throwsError(() => container.createScope().resolve('bridge'), Error) as InstanceType<Core['ResolutionError']>
  assert.instance(unknown, theirs.ResolutionError)
  assert.is(unknown.reason, 'unknown', 'not wrapped as a failing factory')
  await theirScope.dispose()
  const disposed = throwsError(() => container.createScope().resolve('bridge'), Error)
  assert.instance(disposed, theirs.DisposedError)
  await container.dispose()
  await their.dispose()
})

copies.run()

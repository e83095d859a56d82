// One process of N operations, each a context, one `context.postgres.query('SELECT 1')` and a dispose, on a
// warmed pool of one connection (after 3,000 of warm-up). Run under callgrind by operation-instructions.sh,
// which counts it with N and with none, so the difference divided by N is what one operation costs.
//
//   node bench/tools/operation-instructions.mjs [REPO_ROOT] [N] [plain|deadline]
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(process.argv[2] ?? '.')
const operations = Number(process.argv[3] ?? 3000)
const withDeadline = process.argv[4] === 'deadline'
const load = (path) => import(pathToFileURL(resolve(root, path)).href)
const { createServiceContainer, OperationContext } = await load('core/dist/index.js')
const { createPostgresPool, registerPostgres } = await load('adapters/postgres/dist/index.js')

const pool = createPostgresPool({
  name: 'count',
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? 'postgres',
  database: process.env.PGDATABASE ?? 'test',
  minSize: 1,
  maxSize: 1,
  applicationName: 'operation-instructions',
})
await pool.warmup()
const container = registerPostgres(createServiceContainer(), pool)
const options = withDeadline ? { container, deadlineMillis: 600_000 } : { container }

async function operation() {
  const context = OperationContext.create('bench', 'select-1', options)
  await context.run(() => context.postgres.query('SELECT 1'))
  await context.dispose()
}

for (let i = 0; i < 3000; i++) await operation()
for (let i = 0; i < operations; i++) await operation()
await pool.close()

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runRow, type OptionRow, type RowOutcome } from '../src/option-row.js'
import { optionRows } from '../src/rows.js'

// Every package refuses bad options the same way: an InvalidOptionError naming the option. Rows marked
// `pending` (a package that does not refuse that input yet) run too; their outcome is printed at the end,
// never silently skipped, and a pending row that passes is reported so that its mark can be removed.

const Options = suite('bad options, every package')
const pending: { row: OptionRow; outcome: RowOutcome }[] = []

const label = (row: OptionRow) => `${row.package} ${row.entry}(${row.bad}) -> \`${row.option}\``

for (const row of optionRows) {
  if (row.pending !== undefined) {
    Options(`pending: ${label(row)}`, async () => {
      pending.push({ row, outcome: await runRow(row) })
    })
    continue
  }
  Options(label(row), async () => {
    const outcome = await runRow(row)
    assert.ok(outcome.passed, outcome.passed ? '' : outcome.reason)
  })
}

Options('every package has rows, and every row names its option', () => {
  const packages = new Set(optionRows.map((row) => row.package))
  for (const name of ['@lifeguard/core', '@lifeguard/mongodb', '@lifeguard/postgres', '@lifeguard/autoscale', '@lifeguard/express', '@lifeguard/koa', '@lifeguard/hono']) {
    assert.ok(packages.has(name), `rows for ${name}`)
  }
  for (const row of optionRows) assert.ok(row.option.length > 0, label(row))
})

Options.after(() => {
  if (pending.length === 0) return
  const lines = pending.map(({ row, outcome }) =>
    outcome.passed ? `  NOW PASSES (remove its pending mark): ${label(row)}` : `  pending: ${label(row)}\n      ${row.pending}; today: ${outcome.reason.slice(0, 200)}`,
  )
  console.log(`\n${pending.length} pending row(s):\n${lines.join('\n')}\n`)
})

Options.run()

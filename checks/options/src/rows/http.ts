import { createServiceContainer } from '@lifeguard/core'
import { lifeguard as expressLifeguard } from '@lifeguard/express'
import { lifeguard as honoLifeguard } from '@lifeguard/hono'
import { lifeguard as koaLifeguard } from '@lifeguard/koa'
import { TIMER_LIMIT, TOO_LONG, type OptionRow } from '../option-row.js'

const container = createServiceContainer()
const gap = 'middleware durations are not capped at the timer limit yet'

const middlewares = [
  ['@lifeguard/express', expressLifeguard],
  ['@lifeguard/koa', koaLifeguard],
  ['@lifeguard/hono', honoLifeguard],
] as const

/** `@lifeguard/express`, `@lifeguard/koa`, `@lifeguard/hono`: the middleware factories. */
export const httpRows: OptionRow[] = [
  ...middlewares.map(
    ([pkg, lifeguard]): OptionRow => ({ package: pkg, entry: 'lifeguard', bad: 'deadlineMillis: 2 ** 32', option: 'deadlineMillis', message: TIMER_LIMIT, pending: gap, call: () => lifeguard({ container, deadlineMillis: TOO_LONG }) }),
  ),
  { package: '@lifeguard/express', entry: 'lifeguard', bad: 'abortGraceMillis: 2 ** 32', option: 'abortGraceMillis', message: TIMER_LIMIT, pending: gap, call: () => expressLifeguard({ container, abortGraceMillis: TOO_LONG }) },
]

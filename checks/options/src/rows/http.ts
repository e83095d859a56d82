import { createServiceContainer } from '@lifeguard/core'
import { lifeguard as expressLifeguard } from '@lifeguard/express'
import { lifeguard as honoLifeguard } from '@lifeguard/hono'
import { lifeguard as koaLifeguard } from '@lifeguard/koa'
import { TIMER_LIMIT, TOO_LONG, type OptionRow } from '../option-row.js'

const container = createServiceContainer()

const middlewares = [
  ['@lifeguard/express', expressLifeguard],
  ['@lifeguard/koa', koaLifeguard],
  ['@lifeguard/hono', honoLifeguard],
] as const

/** `@lifeguard/express`, `@lifeguard/koa`, `@lifeguard/hono`: the middleware factories. */
export const httpRows: OptionRow[] = [
  ...middlewares.map(
    ([pkg, lifeguard]): OptionRow => ({ package: pkg, entry: 'lifeguard', bad: 'deadlineMillis: 2 ** 32', option: 'deadlineMillis', message: TIMER_LIMIT, call: () => lifeguard({ container, deadlineMillis: TOO_LONG }) }),
  ),
  // An id written into a header that frames the message breaks the response (Content-Length beside Transfer-Encoding).
  ...middlewares.map(
    ([pkg, lifeguard]): OptionRow => ({ package: pkg, entry: 'lifeguard', bad: "requestIdHeader: 'transfer-encoding'", option: 'requestIdHeader', call: () => lifeguard({ container, requestIdHeader: 'transfer-encoding' }) }),
  ),
  { package: '@lifeguard/express', entry: 'lifeguard', bad: 'abortGraceMillis: 2 ** 32', option: 'abortGraceMillis', message: TIMER_LIMIT, call: () => expressLifeguard({ container, abortGraceMillis: TOO_LONG }) },
]

import type { OptionRow } from './option-row.js'
import { autoscaleRows } from './rows/autoscale.js'
import { coreRows } from './rows/core.js'
import { httpRows } from './rows/http.js'
import { mongodbRows } from './rows/mongodb.js'
import { postgresRows } from './rows/postgres.js'

/** Every row, package by package. */
export const optionRows: readonly OptionRow[] = [...coreRows, ...mongodbRows, ...postgresRows, ...autoscaleRows, ...httpRows]

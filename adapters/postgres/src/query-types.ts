import type * as pg from 'pg'

/** The values of a parameterized query (`$1`, `$2`, ...). */
export type QueryValues = readonly unknown[]

/** A query as pg takes it: SQL text, or a config (`{ text, values, name, rowMode, types }`). */
export type QueryText = string | pg.QueryConfig<unknown[]> | pg.QueryArrayConfig<unknown[]>

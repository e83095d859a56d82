/** True when `dir` holds both `initdb` and `pg_ctl`. */
export declare function hasServerPrograms(dir: string): boolean

/**
 * `PG_BINDIR` when it is set; else the `bin` folder of the numerically newest version under `root` (default
 * `/usr/lib/postgresql`) that holds both `initdb` and `pg_ctl`; `undefined` when there is none.
 */
export declare function findPostgresBinDir(options?: { env?: Readonly<Record<string, string | undefined>>; root?: string }): string | undefined

import type { OptionRule } from '@lifeguard/core/adapter'

// MongoDB's rules for names, checked before the driver sees them: a bad name is an `InvalidOptionError`
// naming it (the driver's own check throws its MongoInvalidArgumentError for some, and accepts others that
// the server then refuses).

/** A database name: what the server accepts on every platform. */
export const databaseNameRule = {
  type: 'custom',
  expected: 'a MongoDB database name (1 to 63 bytes, none of `/\\. "$`)',
  check: (value: unknown) => typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) < 64 && !/[/\\. "$\0]/.test(value),
} as const satisfies OptionRule

/** A collection name. */
export const collectionNameRule = {
  type: 'custom',
  expected: 'a MongoDB collection name (a non-empty string without `$` or NUL)',
  check: (value: unknown) => typeof value === 'string' && value !== '' && !/[$\0]/.test(value),
} as const satisfies OptionRule

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mayCommit, transactionControl } from '../src/internal/transaction-control.js'

const test = suite('transactionControl')

const none = { commits: false, prepares: false, rollsBack: false }

test('finds the statements that end a transaction, in any case, past comments, in any statement of a text', () => {
  assert.equal(transactionControl('COMMIT'), { ...none, commits: true })
  assert.equal(transactionControl('end work'), { ...none, commits: true })
  assert.equal(transactionControl('commit and chain'), { ...none, commits: true })
  assert.equal(transactionControl("/* checkout */ PREPARE TRANSACTION 'g1'"), { ...none, prepares: true })
  assert.equal(transactionControl("-- checkout\nprepare transaction E'g1'"), { ...none, prepares: true })
  assert.equal(transactionControl('ROLLBACK AND CHAIN'), { ...none, rollsBack: true })
  assert.equal(transactionControl('abort'), { ...none, rollsBack: true })
  assert.equal(transactionControl('UPDATE t SET n = 1; COMMIT'), { ...none, commits: true })
  assert.equal(transactionControl('ROLLBACK; SELECT 1/0'), { ...none, rollsBack: true })
  assert.equal(transactionControl({ text: 'SELECT 1;; ROLLBACK WORK; COMMIT' }), { ...none, commits: true, rollsBack: true })
})

test('what ends nothing: savepoints, prepared transactions of others, SQL PREPARE, and words inside strings, identifiers and comments', () => {
  assert.equal(transactionControl('ROLLBACK TO SAVEPOINT s'), none)
  assert.equal(transactionControl('rollback transaction to s'), none)
  assert.equal(transactionControl("COMMIT PREPARED 'g1'"), none)
  assert.equal(transactionControl("ROLLBACK PREPARED 'g1'"), none)
  assert.equal(transactionControl('PREPARE q AS SELECT 1; SELECT 1/0'), none)
  assert.equal(transactionControl('PREPARE transaction (int) AS SELECT $1'), none)
  assert.equal(transactionControl('PREPARE transaction AS SELECT 1'), none)
  assert.equal(transactionControl("SELECT 'x; COMMIT'; SELECT \"a;commit\" /* ; COMMIT */ -- ; COMMIT"), none)
  assert.equal(transactionControl('DO $$ BEGIN COMMIT; END $$'), none)
  assert.equal(transactionControl('SELECT committed FROM t'), none)
  assert.equal(transactionControl({ name: 'again' } as never), none)
  assert.equal(transactionControl("SELECT 'never closed; COMMIT"), none)
})

test('mayCommit: a COMMIT, END or PREPARE TRANSACTION anywhere in the text', () => {
  assert.ok(mayCommit('INSERT INTO t VALUES (1); COMMIT'))
  assert.ok(mayCommit("PREPARE TRANSACTION 'g'"))
  assert.not.ok(mayCommit('ROLLBACK'))
  assert.not.ok(mayCommit(undefined))
})

test.run()

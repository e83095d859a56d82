import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mayCommit, statementsBeforeCommit, transactionControl } from '../src/internal/transaction-control.js'

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

test('given a count, only the first statements are read: those that ran before a failure', () => {
  assert.equal(transactionControl('ROLLBACK TO SAVEPOINT s; SELECT 1/0; ROLLBACK', 2), none)
  assert.equal(transactionControl("PREPARE q AS SELECT 1; SELECT 1/0; PREPARE TRANSACTION 'g'", 2), none)
  assert.equal(transactionControl("PREPARE q AS SELECT 1; PREPARE TRANSACTION 'g'", 1), none)
  // Empty statements have no command tag: not counted.
  assert.equal(transactionControl(';; COMMIT ;; ROLLBACK', 1), { ...none, commits: true })
  assert.equal(transactionControl('SELECT 1; COMMIT', 0), none)
})

test('a BEGIN ATOMIC body belongs to its CREATE statement: its END is no commit', () => {
  const body = 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END'
  assert.equal(transactionControl(body), none)
  assert.equal(transactionControl(`${body}; COMMIT`, 1), none)
  assert.equal(transactionControl(`${body}; COMMIT`, 2), { ...none, commits: true })
  assert.equal(transactionControl('create procedure p() begin atomic end; end'), { ...none, commits: true })
  assert.equal(transactionControl("CREATE FUNCTION f() RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT 'x; END; COMMIT'; END"), none)
})

test('statementsBeforeCommit: how many statements (as the server counts them) come before the first that may commit', () => {
  assert.is(statementsBeforeCommit('COMMIT'), 0)
  assert.is(statementsBeforeCommit('INSERT INTO big SELECT * FROM t; COMMIT'), 1)
  assert.is(statementsBeforeCommit("SELECT 1;; UPDATE t SET n = 1; PREPARE TRANSACTION 'g'; COMMIT"), 2)
  assert.is(statementsBeforeCommit('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; COMMIT'), 1)
  assert.is(statementsBeforeCommit('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END'), -1)
  assert.is(statementsBeforeCommit('ROLLBACK'), -1)
  assert.is(statementsBeforeCommit(undefined), -1)
})

test.run()

import { ConnectionLostError, OperationAbortedError, PoolClosedError, PoolExhaustedError, PoolTimeoutError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RequestError, problemFrom } from '../src/problems.js'

const Problems = suite('problemFrom')

Problems('pool pressure, also wrapped by a service factory, is a 503 with Retry-After', () => {
  const timeout = new PoolTimeoutError('orders', 5000)
  for (const error of [new PoolExhaustedError('orders', 10), timeout, new Error('Could not resolve', { cause: timeout })]) {
    const { problem, headers, unexpected } = problemFrom(error, 'r-1')
    assert.equal(problem, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The service is busy. Retry later.', code: 'service_busy', requestId: 'r-1' })
    assert.equal(headers, { 'Retry-After': '1' })
    assert.not.ok(unexpected)
  }
})

Problems('a lost database connection, also wrapped, is a 503 of its own with Retry-After, not an unexpected 500', () => {
  const lost = new ConnectionLostError('orders', 'run a query', false, { cause: new Error('terminating connection due to administrator command') })
  for (const error of [lost, new Error('Could not create the order', { cause: lost })]) {
    const { problem, headers, unexpected } = problemFrom(error, 'r-2')
    assert.equal(problem, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The database connection was lost. Retry later.', code: 'connection_lost', requestId: 'r-2' })
    assert.equal(headers, { 'Retry-After': '1' })
    assert.not.ok(unexpected)
  }
})

Problems('an aborted operation is a 503 of its own, not an unexpected 500', () => {
  const { problem, headers, unexpected } = problemFrom(new OperationAbortedError('acquire a connection from pool \'orders\''), 'r-3')
  assert.equal(problem, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The request was cancelled before it completed.', code: 'operation_aborted', requestId: 'r-3' })
  assert.equal(headers, {})
  assert.not.ok(unexpected)
})

Problems('a body the client cut off is a 400 request_aborted on every framework', () => {
  const nodeAbort = Object.assign(new Error('aborted'), { code: 'ECONNRESET' })
  const bodyParserAbort = Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 })
  for (const error of [nodeAbort, new TypeError('terminated', { cause: nodeAbort }), bodyParserAbort]) {
    const { problem, unexpected } = problemFrom(error, 'r-4')
    assert.equal(problem, { type: 'about:blank', title: 'Bad Request', status: 400, detail: 'The request was cut off before its body was complete.', code: 'request_aborted', requestId: 'r-4' })
    assert.not.ok(unexpected)
  }
  // Another reset (not a request body's) stays unexpected.
  assert.ok(problemFrom(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'r').unexpected)
})

Problems('a wait that ran out while every connect failed is a 503 database_unavailable, not service_busy', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  const { problem, headers, unexpected } = problemFrom(new PoolTimeoutError('orders', 5000, { cause: refused }), 'r-7')
  assert.equal(problem, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The database cannot be reached. Retry later.', code: 'database_unavailable', requestId: 'r-7' })
  assert.equal(headers, { 'Retry-After': '1' })
  assert.not.ok(unexpected)
})

Problems("a pool closed by the shutdown is a 503 that closes the connection, not an unexpected 500", () => {
  const { problem, headers, unexpected } = problemFrom(new PoolClosedError('orders'), 'r-5')
  assert.equal(problem, { type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'The service is shutting down. Retry later.', code: 'shutting_down', requestId: 'r-5' })
  assert.equal(headers, { 'Retry-After': '1', Connection: 'close' })
  assert.not.ok(unexpected)
})

Problems("Express's other client errors, with a 4xx status and no type, keep their status", () => {
  // A body that does not decompress (body-parser), a path with a bad `%` escape (the router).
  for (const error of [Object.assign(new Error('incorrect header check'), { status: 400 }), Object.assign(new URIError("Failed to decode param '%'"), { status: 400, statusCode: 400 })]) {
    const { problem, unexpected } = problemFrom(error, 'r-6')
    assert.is(problem.status, 400)
    assert.is(problem.code, 'bad_request')
    assert.not.ok(unexpected)
  }
})

Problems('anything unexpected is a 500 that says nothing about the internals, flagged for the log', () => {
  const { problem, unexpected } = problemFrom(new Error('relation "orders" does not exist at postgres://app:pw@db'), undefined)
  assert.equal(problem, { type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'Something went wrong; the log has the details.', code: 'internal' })
  assert.ok(unexpected)
  assert.ok(problemFrom('a string', undefined).unexpected)
})

Problems('a RequestError and a body parser error answer as they say', () => {
  assert.equal(problemFrom(new RequestError(404, 'not_found', 'No order 7.'), 'r').problem.title, 'Not Found')
  const parserError = Object.assign(new Error('Unexpected token'), { type: 'entity.parse.failed', status: 400 })
  assert.is(problemFrom(parserError, 'r').problem.code, 'invalid_json')
  assert.is(problemFrom(parserError, 'r').problem.detail, 'The request body is not valid JSON.')
})

Problems.run()

import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, createServiceContainer } from '../../src/index.js'
import { MAX_TIMER_MILLIS } from '../../src/adapter.js'
import { httpMiddlewareSettings, type HttpMiddlewareOptions } from '../../src/http.js'
import { throwsError } from '@lifeguard/test-kit'

const test = suite('the shared middleware options are checked once, with their defaults in one place')
const container = createServiceContainer()

test("defaults: handler 'http', header 'x-request-id'; a header is kept lower-case", () => {
  const settings = httpMiddlewareSettings({ container })
  assert.is(settings.container, container)
  assert.is(settings.handlerName, 'http')
  assert.is(settings.requestIdHeader, 'x-request-id')
  assert.is(settings.deadlineMillis, undefined)
  assert.is(settings.operationName, undefined)
  const custom = httpMiddlewareSettings({ container, handlerName: 'orders-api', requestIdHeader: 'X-Correlation-Id', deadlineMillis: MAX_TIMER_MILLIS })
  assert.equal([custom.handlerName, custom.requestIdHeader, custom.deadlineMillis], ['orders-api', 'x-correlation-id', MAX_TIMER_MILLIS])
})

test('takes the request-id headers in common use', () => {
  for (const header of ['Request-Id', 'X-Correlation-Id', 'traceparent', 'X-Amzn-Trace-Id', 'X-Cloud-Trace-Context', 'CF-Ray']) {
    assert.is(httpMiddlewareSettings({ container, requestIdHeader: header }).requestIdHeader, header.toLowerCase())
  }
})

test('the settings\' operationName reports a failing one to onError and answers undefined: it never throws', () => {
  const reported: unknown[] = []
  const reporting = createServiceContainer({ onError: (error) => void reported.push(error) })
  const unprintable = { toString: () => { throw new Error('no string for you') } }
  const namers: [(input: unknown) => string | undefined, string][] = [
    [() => 'GET /mine', ''],
    [() => undefined, ''],
    [() => { throw new Error('naming broke') }, 'It said: naming broke'],
    [() => '', 'It returned an empty string.'],
    [() => 42 as never, 'It returned a number.'],
    [() => null as never, 'It returned null.'],
    [() => Object.create(null) as never, 'It returned an object.'],
    [() => unprintable as never, 'It returned an object.'],
    // From request data, it would go into every log line and metric attribute as it is.
    [() => 'GET /a\nFAKE LOG LINE', 'It returned a name with control, separator, bidi or zero-width characters.'],
    [() => `GET /${'x'.repeat(300)}`, 'It returned a name of 305 characters (at most 256).'],
  ]
  for (const [operationName, why] of namers) {
    reported.length = 0
    const settings = httpMiddlewareSettings({ container: reporting, operationName })
    const name = settings.operationName?.({})
    if (why === '') {
      assert.equal(reported, [])
      assert.is(name, operationName({}))
      continue
    }
    assert.is(name, undefined, why)
    assert.is(reported.length, 1)
    assert.instance(reported[0], InvalidOptionError)
    assert.is((reported[0] as InvalidOptionError).option, 'operationName')
    assert.is((reported[0] as Error).message, `\`operationName\` failed, and the operation gets its default name. ${why}`)
  }
})

test('handlerName is checked as OperationContext.create checks it: printable and at most 256 characters', () => {
  for (const handlerName of ['a\nb', 'x'.repeat(257), '']) {
    const error = throwsError(() => httpMiddlewareSettings({ container, handlerName }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'handlerName')
  }
})

test('refuses each bad option, naming it', () => {
  const cases: [string, unknown, string][] = [
    ['container', {}, 'a ServiceContainer'],
    ['handlerName', '', 'a non-empty string'],
    ['operationName', 'GET /', 'a function'],
    ['requestIdHeader', 'x request id', 'an HTTP header name'],
    // A header that frames the message, or says what the response is: the echoed id would break or change it.
    ['requestIdHeader', 'Transfer-Encoding', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'content-type', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'Content-Encoding', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'set-cookie', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'Location', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    // Any content-* header describes the body (a 503 that replaces it drops them), and HTTP/2 refuses hop-by-hop ones.
    ['requestIdHeader', 'Content-ID', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'content-md5', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'Proxy-Connection', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    ['requestIdHeader', 'http2-settings', 'an HTTP header name of up to 64 characters, not one that frames or describes the message'],
    // The id is the client's: it would set what a browser or a proxy acts on (CORS, HSTS, a timed redirect, nginx's
    // internal redirect).
    ...[
      'Access-Control-Allow-Origin',
      'access-control-allow-credentials',
      'Strict-Transport-Security',
      'Refresh',
      'X-Frame-Options',
      'Cross-Origin-Opener-Policy-Report-Only',
      'Link',
      'X-Accel-Redirect',
      'X-Sendfile',
    ].map((name): [string, unknown, string] => ['requestIdHeader', name, 'an HTTP header name of up to 64 characters, not one that frames or describes the message or that a browser or proxy acts on']),
    ['deadlineMillis', 0, 'an integer number of milliseconds between 1 and 2147483647'],
    ['deadlineMillis', 1.5, 'an integer number of milliseconds between 1 and 2147483647'],
    ['deadlineMillis', 2 ** 32, 'an integer number of milliseconds between 1 and 2147483647, got `4294967296` (number)'],
  ]
  for (const [option, value, expected] of cases) {
    const error = throwsError(() => httpMiddlewareSettings({ container, [option]: value } as HttpMiddlewareOptions<unknown>), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, `Invalid options for lifeguard: expected \`${option}\` to be ${expected}`)
  }
})

test("refuses unknown keys, and takes an adapter's own rules beside the shared ones", () => {
  const unknown = throwsError(() => httpMiddlewareSettings({ container, handlr: 'x' } as HttpMiddlewareOptions<unknown>), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(unknown.message, 'unknown option `handlr`')
  const extra = { abortGraceMillis: { type: 'duration', optional: true } } as const
  httpMiddlewareSettings({ container, abortGraceMillis: 0 } as HttpMiddlewareOptions<unknown>, extra)
  const tooLong = throwsError(() => httpMiddlewareSettings({ container, abortGraceMillis: 2 ** 32 } as HttpMiddlewareOptions<unknown>, extra), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(tooLong.option, 'abortGraceMillis')
})

test.run()

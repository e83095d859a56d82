// Runs a compiled quick-start program as its user would, and judges the run: a program that ends by
// itself must exit 0; one that keeps running (a server) must answer the README's `curl` commands and
// then exit 0 on SIGTERM, which is how `docker stop` and process managers end it.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const hook = fileURLToPath(new URL('../packed-install/port-hook.mjs', import.meta.url))
const runMain = fileURLToPath(new URL('../packed-install/run-main.mjs', import.meta.url))

const sleep = (millis) => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * Runs `program` (a `.js` file) with `node` and `env`. Resolves `{ ok, reason, output }`.
 * `requests` are `{ url, method, headers, body }` from the README, sent once the program is running.
 */
export async function runQuickStart({ node, program, cwd, env, requests = [], timeoutMillis = 60_000 }) {
  const child = fork(runMain, [program], {
    cwd,
    env,
    execPath: node,
    execArgv: ['--import', hook],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const ports = new Map()
  let ready = false
  child.on('message', (message) => {
    if (message?.type === 'listening') ports.set(message.requested, message.port)
    if (message?.type === 'ready') ready = true
  })
  let exit
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve((exit = { code, signal }))))
  const until = async (condition, millis) => {
    const deadline = Date.now() + millis
    while (!condition() && Date.now() < deadline) await sleep(25)
    return condition()
  }
  const fail = async (reason) => {
    if (exit === undefined) child.kill('SIGKILL')
    await exited
    return { ok: false, reason, output }
  }

  if (!(await until(() => ready || exit !== undefined, timeoutMillis))) return fail(`did not finish its start within ${timeoutMillis}ms`)
  if (exit !== undefined && requests.length === 0) {
    return exit.code === 0 ? { ok: true, output } : { ok: false, reason: `exited with ${exit.code ?? exit.signal}`, output }
  }

  for (const request of requests) {
    const url = new URL(request.url)
    const requested = Number(url.port || 80)
    if (!(await until(() => ports.has(requested) || exit !== undefined, 10_000)) || exit !== undefined) {
      return fail(`does not listen on port ${requested} (its README's \`curl ${request.url}\`)${exit ? `: exited with ${exit.code ?? exit.signal}` : ''}`)
    }
    url.port = String(ports.get(requested))
    try {
      const response = await fetch(url, { method: request.method, headers: request.headers, body: request.body, signal: AbortSignal.timeout(10_000) })
      const text = await response.text()
      if (!response.ok) return fail(`answered ${response.status} to ${request.method} ${request.url}: ${text.slice(0, 200)}`)
      output += `\n[packed-install] ${request.method} ${request.url} -> ${response.status} ${text.slice(0, 200)}\n`
    } catch (error) {
      return fail(`${request.method} ${request.url} failed: ${error.message}`)
    }
  }

  // A program that ends by itself does so as soon as its last await is done; give it that moment.
  if (exit === undefined) await until(() => exit !== undefined, requests.length === 0 ? 1_000 : 0)
  if (exit === undefined) {
    child.kill('SIGTERM')
    if (!(await until(() => exit !== undefined, 15_000))) return fail('did not exit within 15s of SIGTERM')
    if (exit.code !== 0) return { ok: false, reason: `exited with ${exit.code ?? exit.signal} on SIGTERM (a graceful shutdown exits 0)`, output }
    return { ok: true, output }
  }
  return exit.code === 0 ? { ok: true, output } : { ok: false, reason: `exited with ${exit.code ?? exit.signal}`, output }
}

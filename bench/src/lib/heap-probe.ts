// Preloaded (`--import`) into a service the soak benchmark runs as a child process with `--expose-gc`
// and an IPC channel: answers the bench's heap question with the heap in use right after a full
// collection. The service itself gets no debug endpoint and no code of ours.

/** The message the bench sends, and the type of the answer. */
export const HEAP_MESSAGE = 'lifeguard-bench:heap'

/** The probe's answer: `heapUsed` in bytes after `gc()`. */
export interface HeapAnswer {
  type: typeof HEAP_MESSAGE
  id: number
  heapUsed: number
}

// Present only under `--expose-gc`: without it a heap figure would include garbage, so refuse to start.
const collect = (globalThis as { gc?: () => void }).gc
if (collect === undefined) throw new Error('Could not load the heap probe. Start the process with --expose-gc.')

if (process.send !== undefined) {
  process.on('message', (message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== HEAP_MESSAGE || typeof message.id !== 'number') return
    collect()
    const answer: HeapAnswer = { type: HEAP_MESSAGE, id: message.id, heapUsed: process.memoryUsage().heapUsed }
    process.send?.(answer)
  })
  // The bench closes the channel before it stops the service; if the bench dies instead, the service must
  // not live on without it: shut it down the way the bench would have.
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'))
}

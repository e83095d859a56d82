/** What `closePool` needs from its pool. */
export interface ClosePlan {
  timeoutMillis: number
  /** Checkouts still out. */
  active(): number
  /** Connections not yet closed. */
  open(): number
  onAllReleased(resolve: () => void): void
  onAllRemoved(resolve: () => void): void
  /** Takes back what is still checked out, closing those connections. */
  revoke(): void
  /** pg-pool's end(). */
  end(): Promise<void>
}

// pg-pool's end() resolves as soon as its list is empty, a moment before the sockets have closed.
const socketsCloseMillis = 2000

/** Waits for checkouts to come back (up to the timeout), revokes the rest, ends pg-pool, waits for the sockets. */
export async function closePool(plan: ClosePlan): Promise<void> {
  if (plan.active() > 0) {
    const returned = await within(plan.timeoutMillis, (resolve) => plan.onAllReleased(resolve))
    if (!returned) plan.revoke()
  }
  await plan.end()
  if (plan.open() > 0) await within(socketsCloseMillis, (resolve) => plan.onAllRemoved(resolve))
}

function within(timeoutMillis: number, register: (resolve: () => void) => void): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMillis)
    register(() => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

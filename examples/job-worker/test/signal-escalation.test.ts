import { ManualClock } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createSignalEscalation } from '../src/signal-escalation.js'

const Escalation = suite('createSignalEscalation')

Escalation('the first signal shuts down; a repeat within the grace is a copy, ignored', () => {
  const clock = new ManualClock()
  const escalation = createSignalEscalation({ clock })
  assert.is(escalation.receive(), 'shut-down')
  assert.is(clock.foregroundTimers, 0, 'the grace never holds the process')
  assert.is(escalation.receive(), 'ignore')
  assert.is(escalation.receive(), 'ignore')
})

Escalation('a repeat once the grace has passed forces, once; the moment is announced first', async () => {
  const clock = new ManualClock()
  const announced: number[] = []
  const escalation = createSignalEscalation({ clock, graceMillis: 1_000, onForceAvailable: () => announced.push(clock.now()) })
  escalation.receive()
  await clock.advance(999)
  assert.is(escalation.receive(), 'ignore', 'still within the grace')
  assert.equal(announced, [])
  await clock.advance(1)
  assert.is(announced.length, 1, 'announced when the grace ends')
  assert.is(escalation.receive(), 'force')
  assert.is(escalation.receive(), 'ignore', 'forced already')
})

Escalation('a settled shutdown ignores later signals and announces nothing', async () => {
  const clock = new ManualClock()
  let announced = false
  const escalation = createSignalEscalation({ clock, onForceAvailable: () => (announced = true) })
  escalation.receive()
  escalation.settle()
  await clock.advance(5_000)
  assert.is(announced, false)
  assert.is(escalation.receive(), 'ignore')
})

Escalation.run()

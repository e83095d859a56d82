import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate } from '../src/internal/aggregate.js'
import { StepTrial } from '../src/internal/step-trial.js'
import { window } from './_helpers/window.js'

const rules = { kneeEfficiency: 0.05, leapEfficiency: 0.5, kneeWindows: 4 }

function trial(direction: 'up' | 'down', from: number, to: number, perSecond: number): StepTrial {
  const baseline = aggregate([window(from, perSecond), window(from, perSecond)])
  if (baseline === undefined) throw new Error('no baseline')
  const step = new StepTrial(direction, from, to, baseline)
  step.add(window(to, perSecond)) // the window in which the connections opened: dropped
  return step
}

const verdicts = suite('StepTrial verdicts')

verdicts('drops the window in which the step`s connections opened', () => {
  const step = trial('up', 20, 40, 2000)
  assert.is(step.windows.length, 0)
  assert.is(step.judge(rules).kind, 'wait')
})

verdicts('more connections that paid: a verdict on the first two windows, never on one', () => {
  const step = trial('up', 20, 40, 2000)
  step.add(window(40, 3900))
  assert.is(step.judge(rules).kind, 'wait')
  step.add(window(40, 3900))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'leap')
  if (verdict.kind === 'leap') assert.ok(verdict.efficiency > 0.9)
  const partly = trial('up', 20, 40, 2000)
  partly.add(window(40, 2400))
  partly.add(window(40, 2400))
  assert.is(partly.judge(rules).kind, 'climb')
})

verdicts('tells how much more a step down served in its last windows than in the slower of its first ones and the baseline', () => {
  // A slowdown that ended during the step: 2 connections served less than 4 slowed at first, then more.
  const ending = trial('down', 4, 2, 560)
  for (const perSecond of [480, 480, 620, 720]) ending.add(window(2, perSecond))
  assert.ok(Math.abs(ending.lateGain - 670 / 480) < 1e-9, `${ending.lateGain}`)
  // One that ended just before it: the baseline was slow, every window after is not.
  const ended = trial('down', 4, 2, 560)
  for (let i = 0; i < 4; i++) ended.add(window(2, 725))
  assert.ok(Math.abs(ended.lateGain - 725 / 560) < 1e-9, `${ended.lateGain}`)
  const steady = trial('down', 4, 2, 560)
  for (let i = 0; i < 4; i++) steady.add(window(2, 550))
  assert.ok(Math.abs(steady.lateGain - 1) < 1e-9, `${steady.lateGain}`)
})

verdicts('a leap needs no settled window: connections that paid in full while the rest still opened', () => {
  const baseline = aggregate([window(20, 2000), window(20, 2000)])!
  const step = new StepTrial('up', 20, 40, baseline)
  // 30 of the 40 connections open so far, each as busy as before: the gain is already the leap's.
  assert.is(step.add(window(30, 3000)), false)
  assert.is(step.judge(rules).kind, 'wait', 'never on one window')
  assert.is(step.add(window(30, 3000)), false)
  assert.is(step.windows.length, 0)
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'leap')
  // The same windows without the gain prove nothing against the step until it settled.
  const flat = new StepTrial('up', 20, 40, baseline)
  flat.add(window(30, 2000))
  flat.add(window(30, 2000))
  assert.is(flat.judge(rules).kind, 'wait')
})

verdicts('a step that opened nothing leaps on two windows, but climbs only on kneeWindows: its small growth magnifies the noise', () => {
  // The calm kept 5 of 7 connections busy; the burst fills all 7 (growth 1.4x).
  const calm = aggregate([window(5, 900, { idle: 2, waiting: 0 }), window(5, 900, { idle: 2, waiting: 0 })])!
  const partly = new StepTrial('up', 7, 7, calm)
  partly.add(window(7, 990)) // the first window after the burst's start: settling, left out
  partly.add(window(7, 990))
  partly.add(window(7, 990))
  assert.is(partly.judge(rules).kind, 'wait', 'a 10% gain (efficiency 0.25) on two windows')
  partly.add(window(7, 990))
  partly.add(window(7, 990))
  const verdict = partly.judge(rules)
  assert.is(verdict.kind, 'climb')
  if (verdict.kind === 'climb') assert.ok(Math.abs(verdict.efficiency - 0.25) < 1e-9, String(verdict.efficiency))
  const paid = new StepTrial('up', 7, 7, calm)
  for (let i = 0; i < 3; i++) paid.add(window(7, 1260))
  assert.is(paid.judge(rules).kind, 'leap')
  // A step that opened connections climbs on its first two windows, as before.
  const opened = new StepTrial('up', 5, 7, calm)
  for (let i = 0; i < 3; i++) opened.add(window(7, 990))
  assert.is(opened.judge(rules).kind, 'climb')
})

verdicts('a step that opened nothing climbs only at three times the knee`s bar: a 4% gain on it is noise at a knee', () => {
  // 5 of 7 connections busy in the calm, all 7 in the burst (growth 1.4x): a 4% gain is efficiency 0.1,
  // twice the knee's bar, with the use time up by a third (the database's, rising with the connections).
  const calm = aggregate([window(5, 900, { idle: 2, waiting: 0 }), window(5, 900, { idle: 2, waiting: 0 })])!
  const judged = (perSecond: number, from: number) => {
    const step = new StepTrial('up', from, 7, calm)
    step.add(window(7, perSecond)) // settling, left out
    for (let i = 0; i < rules.kneeWindows; i++) step.add(window(7, perSecond))
    return step.judge(rules)
  }
  const noise = judged(936, 7)
  assert.is(noise.kind, 'knee')
  if (noise.kind === 'knee') assert.ok(Math.abs(noise.efficiency - 0.1) < 1e-9, String(noise.efficiency))
  // Three times the knee's bar (a 6% gain) climbs; so does the same 4% gain on a step that opened connections.
  assert.is(judged(954, 7).kind, 'climb')
  assert.is(judged(936, 5).kind, 'climb')
})

verdicts('a leap is seen in the window still open: it leaps with it as the judge will once it closes, never on it alone', () => {
  const baseline = aggregate([window(20, 2000), window(20, 2000)])!
  const step = new StepTrial('up', 20, 40, baseline)
  assert.not.ok(step.leapsWith(window(30, 3000), rules), 'never on one window')
  step.add(window(30, 3000))
  assert.ok(step.leapsWith(window(30, 3000), rules))
  assert.not.ok(step.leapsWith(window(30, 1000), rules), 'an open window without the gain weighs as much as the closed one')
  step.add(window(30, 3000))
  assert.is(step.judge(rules).kind, 'leap')
  // Nothing else is read early: a probe above a knee waits for its windows, and a step down never leaps.
  const patient = new StepTrial('up', 20, 40, baseline, { patient: true })
  patient.add(window(30, 3000))
  assert.not.ok(patient.leapsWith(window(30, 3000), rules))
  const down = new StepTrial('down', 40, 20, aggregate([window(40, 3000), window(40, 3000)])!)
  down.add(window(20, 1500))
  assert.not.ok(down.leapsWith(window(20, 1500), rules))
})

verdicts('above a knee found before, a partial gain climbs only at three times the knee`s bar', () => {
  // 4 -> 6 connections: growth 1.5. A 5% gain is twice the knee's bar (2.5%): a climb from below a knee,
  // a knee found again above one. An 8% gain climbs either way.
  const baseline = aggregate([window(4, 700), window(4, 700)])!
  const judged = (perSecond: number, patient: boolean) => {
    const step = new StepTrial('up', 4, 6, baseline, { patient })
    step.add(window(6, perSecond)) // opening: dropped
    for (let i = 0; i < rules.kneeWindows; i++) step.add(window(6, perSecond))
    return step.judge(rules).kind
  }
  assert.is(judged(735, false), 'climb')
  assert.is(judged(735, true), 'knee')
  assert.is(judged(756, true), 'climb')
})

verdicts('a step down is judged once its busy connections have closed, not on the windows in which they still ran', () => {
  const baseline = aggregate([window(60, 3000), window(60, 3000)])!
  const step = new StepTrial('down', 60, 40, baseline)
  // 55, then 48 connections still open: busy ones close only as their queries end, and while they close
  // fewer checkouts start (a dip that says nothing about 40 connections).
  assert.is(step.add(window(55, 1500)), false)
  assert.is(step.add(window(48, 1700)), false)
  assert.is(step.windows.length, 0)
  assert.is(step.judge(rules).kind, 'wait', 'no restore on the closing windows')
  // Then the step itself: 40 connections serve what 60 did (after the window in which the last closed), and it is kept.
  assert.is(step.add(window(40, 3000)), false)
  for (let i = 0; i < rules.kneeWindows; i++) assert.is(step.add(window(40, 3000)), true)
  assert.is(step.judge(rules).kind, 'keep')
  // A step whose connections never finish closing is judged after 1.5 s all the same.
  const stuck = new StepTrial('down', 60, 40, baseline)
  for (let i = 0; i < 15; i++) assert.is(stuck.add(window(50, 3000)), false)
  assert.is(stuck.add(window(50, 3000)), true)
})

verdicts('a step down is judged once the server has let its connections go, not while they were still closing', () => {
  // Closing a connection costs the server CPU (measured: about 18 ms each on a 2-core machine, half a
  // second for 32): while 20 close, the 40 left serve less, which says nothing about 40 connections.
  const baseline = aggregate([window(60, 3000), window(60, 3000)])!
  const step = new StepTrial('down', 60, 40, baseline)
  for (const closing of [20, 14, 6]) assert.is(step.add(window(40, 1800, { closing })), false, `${closing} still closing`)
  assert.is(step.judge(rules).kind, 'wait', 'no restore while they close')
  assert.is(step.add(window(40, 3000)), false, 'the window in which the last closed')
  for (let i = 0; i < rules.kneeWindows; i++) assert.is(step.add(window(40, 3000)), true)
  assert.is(step.judge(rules).kind, 'keep')
})

verdicts('with queries longer than a window, a step down is judged after one use time and over a few of them', () => {
  // 60 connections, 240 checkouts/s: each query holds its connection 250 ms, five of the trial's 50 ms windows.
  const slow = (active: number, perSecond: number) => window(active, perSecond, { millis: 50 })
  const baseline = aggregate([slow(60, 240), slow(60, 240), slow(60, 240), slow(60, 240)])!
  const step = new StepTrial('down', 60, 40, baseline)
  assert.is(step.add(slow(40, 200)), false, 'the window in which the connections closed')
  // Queries begun at 60 connections still end at that pace: for one use time the rate falls with the
  // connections (their full share lost), then the 40 left serve what 60 did. Only the latter is judged.
  for (let i = 0; i < 4; i++) assert.is(step.add(slow(40, 160)), false, `window ${i + 1} of the first use time`)
  assert.is(step.judge(rules).kind, 'wait')
  const counted: number[] = []
  let verdict = step.judge(rules)
  for (let i = 0; verdict.kind === 'wait' && i < 40; i++) {
    step.add(slow(40, 240))
    counted.push(step.span)
    verdict = step.judge(rules)
  }
  assert.is(verdict.kind, 'keep')
  // `kneeWindows` use times of evidence: 1 s, twenty windows, before a step down is kept.
  assert.is(step.windows.length, 20)
  assert.is(counted[9], 2, 'ten windows cover two use times')
  // The same trial with 5 ms queries is judged on windows alone.
  const fast = aggregate([slow(60, 12000), slow(60, 12000)])!
  const quick = new StepTrial('down', 60, 40, fast)
  quick.add(slow(40, 12000))
  for (let i = 0; i < rules.kneeWindows; i++) quick.add(slow(40, 12000))
  assert.is(quick.judge(rules).kind, 'keep')
})

verdicts('a step up with queries longer than the window: no verdict against it before it covered kneeWindows use times', () => {
  // 20 connections, 80 checkouts/s: each query holds its connection 250 ms, five 50 ms windows.
  const slow = (active: number, perSecond: number) => window(active, perSecond, { millis: 50 })
  const baseline = aggregate([slow(20, 80), slow(20, 80), slow(20, 80), slow(20, 80)])!
  const step = new StepTrial('up', 20, 40, baseline)
  step.add(slow(40, 80)) // the window in which the connections opened
  // The 20 new connections are busy from the start, but none of their queries has ended yet: the rate is
  // the old one. Judged on these `kneeWindows` windows the step did not pay, and growth would hold.
  for (let i = 0; i < rules.kneeWindows; i++) step.add(slow(40, 80))
  assert.is(step.judge(rules).kind, 'wait')
  assert.ok(step.span < 1, `four windows cover less than one use time: ${step.span}`)
  // Once their queries end, 40 connections serve twice as many: read with the flat windows, a partial
  // gain at once. A verdict for more connections needs windows, not use times.
  step.add(slow(40, 160))
  step.add(slow(40, 160))
  assert.is(step.judge(rules).kind, 'climb')
  // Had they not paid (the use time doubling with the connections), the knee waits for kneeWindows use
  // times: 1 s, twenty windows.
  const flat = new StepTrial('up', 20, 40, baseline)
  flat.add(slow(40, 80))
  let windows = 0
  for (; flat.judge(rules).kind === 'wait' && windows < 40; windows++) flat.add(slow(40, 80))
  assert.is(windows, 20)
  assert.is(flat.judge(rules).kind, 'knee')
})

verdicts('a step up whose connections open slowly is judged once they are open, not on the windows their opening slowed', () => {
  // 14 connections serve 2,600 checkouts/s; the step asks for 56. Opening them on a busy machine takes most
  // of a second: the connections open so far serve fewer checkouts than before, each use time tripled.
  const baseline = aggregate([window(14, 2600, { millis: 50 }), window(14, 2600, { millis: 50 })])!
  const step = new StepTrial('up', 14, 56, baseline)
  const opening = [16, 18, 21, 25, 26, 31, 31, 36, 40, 44, 48, 52]
  for (const open of opening) {
    assert.is(step.add(window(open, 1800, { millis: 50, waiting: 100 - open })), false, `${open} of 56 open`)
    assert.is(step.judge(rules).kind, 'wait', `no knee while ${open} of 56 are open`)
  }
  // All 56 open (the window in which they did is left out), and they serve four times the checkouts: a leap,
  // although they are still warming up (see below).
  assert.is(step.add(window(56, 9000, { millis: 50, waiting: 44 })), false)
  step.add(window(56, 9000, { millis: 50, waiting: 44 }))
  step.add(window(56, 9000, { millis: 50, waiting: 44 }))
  assert.is(step.judge(rules).kind, 'leap')
  // Connections that never all open are waited for no longer than 1.5 s, and then as long again as they
  // warm up: then the step is judged as it stands.
  const stuck = new StepTrial('up', 14, 56, baseline)
  let waited = 0
  while (!stuck.add(window(30, 1800, { millis: 50, waiting: 70 }))) waited += 50
  assert.is(waited, 3000)
})

verdicts('a step up is no knee until its new connections have warmed up for as long as they took to open', () => {
  // 28 connections serve 4,900 checkouts/s; the step to 95 takes 300 ms to open them all, and the
  // database is slow for as long again while their first queries are paid for.
  const baseline = aggregate([window(28, 4900, { millis: 50 }), window(28, 4900, { millis: 50 })])!
  const step = new StepTrial('up', 28, 95, baseline)
  for (const open of [40, 52, 64, 76, 88, 94]) assert.is(step.add(window(open, 3000, { millis: 50, waiting: 100 - open })), false)
  assert.is(step.add(window(95, 3000, { millis: 50, waiting: 5 })), false, 'the window in which they opened')
  for (let i = 0; i < 6; i++) {
    assert.is(step.add(window(95, 3500, { millis: 50, waiting: 5 })), false, `${50 * (i + 1)} ms after they opened`)
    assert.is(step.judge(rules).kind, 'wait', `no verdict against the step ${50 * (i + 1)} ms after they opened`)
  }
  // Warmed up: a step that does not pay now is judged on the windows since (here, still as slow: a knee).
  for (let i = 1; i < rules.kneeWindows; i++) {
    assert.is(step.add(window(95, 3500, { millis: 50, waiting: 5 })), true)
    assert.is(step.judge(rules).kind, 'wait')
  }
  step.add(window(95, 3500, { millis: 50, waiting: 5 }))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'knee')
  assert.is(verdict.kind === 'knee' && verdict.measured.windows, rules.kneeWindows)
})

verdicts('a knee needs kneeWindows windows: one flat window proves nothing yet', () => {
  const step = trial('up', 20, 40, 2000)
  for (let i = 1; i < rules.kneeWindows; i++) {
    step.add(window(40, 2000))
    assert.is(step.judge(rules).kind, 'wait', `after ${i} window(s)`)
  }
  step.add(window(40, 2000))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'knee')
  if (verdict.kind === 'knee') assert.ok(verdict.useTimeElasticity > 0.9, `use time doubled with the connections: ${verdict.useTimeElasticity}`)
})

verdicts('a bad window among good ones is outweighed, not believed', () => {
  const step = trial('up', 20, 40, 2000)
  step.add(window(40, 1000)) // a stall: half the baseline's rate
  assert.is(step.judge(rules).kind, 'wait')
  step.add(window(40, 3900))
  // Read together, the three windows still show the new connections paying: the climb goes on.
  assert.is(step.judge(rules).kind, 'climb')
})

verdicts('no gain with the use time explained by the event-loop delay is this process starving, not a knee', () => {
  const knee = trial('up', 20, 40, 2000)
  const starved = trial('up', 20, 40, 2000)
  for (let i = 0; i < rules.kneeWindows; i++) {
    knee.add(window(40, 2000))
    // Same throughput and use time (20 ms), but 9 of those ms were spent waiting for this process's event loop.
    starved.add(window(40, 2000, { loopDelayMillis: 9 }))
  }
  assert.is(knee.judge(rules).kind, 'knee')
  const verdict = starved.judge(rules)
  assert.is(verdict.kind, 'starved')
  if (verdict.kind === 'starved') assert.ok(verdict.useTimeElasticity < 0.5)
})

verdicts('a loop busy all the time is no evidence of starving by itself; its utilization is in the details', () => {
  // Traced on a 2-core machine shared with the database: CPU-bound queries at 42 to 95 connections kept
  // this process's loop busy in every window (utilization 1), with the client waiting on the server.
  const baseline = aggregate([window(42, 1500, { loopDelayMillis: 1, loopUtilization: 1 }), window(42, 1500, { loopDelayMillis: 1, loopUtilization: 1 })])!
  const step = new StepTrial('up', 42, 63, baseline)
  step.add(window(63, 1500)) // the connections opened: dropped
  for (let i = 0; i < rules.kneeWindows; i++) step.add(window(63, 1500, { loopDelayMillis: 1.5, loopUtilization: 1 }))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'knee')
  if (verdict.kind === 'knee') assert.is(step.details(verdict)['eventLoopUtilization'], 1)
})

verdicts('one stall of this process among settled windows does not hide a knee', () => {
  // Traced on a busy 2-core machine: 56 -> 95 connections of 5 ms sleeps. The settled windows at 95 show
  // the use time up with the connections (a knee); one window in four, the loop stalls for 40 ms and few
  // checkouts end in it. That window is no evidence: the verdict waits for a fourth steady one.
  const baseline = aggregate([window(56, 9500, { loopDelayMillis: 0.3 }), window(56, 9500, { loopDelayMillis: 0.3 })])!
  const step = new StepTrial('up', 56, 95, baseline)
  step.add(window(95, 9000)) // the connections opened: dropped
  for (let i = 0; i < rules.kneeWindows; i++) step.add(i === 2 ? window(95, 2300, { loopDelayMillis: 40, millis: 50 }) : window(95, 9300, { loopDelayMillis: 1.5 }))
  assert.is(step.judge(rules).kind, 'wait')
  assert.is(step.span, rules.kneeWindows - 1)
  step.add(window(95, 9300, { loopDelayMillis: 1.5 }))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'knee')
  if (verdict.kind === 'knee') assert.ok(verdict.useTimeElasticity > 0.5, `use time up 1.7x with 1.7x the connections: ${verdict.useTimeElasticity}`)
})

verdicts('one stall of this process does not turn a step that paid into a knee', () => {
  // Traced on a quiet 2-core machine: a probe from 42 to 63 connections of 5 ms sleeps. Three windows
  // gained a seventh on the 7,000 q/s before; in the fourth the loop stalled and few checkouts ended.
  const baseline = aggregate([window(42, 7000, { loopDelayMillis: 0.5 }), window(42, 7000, { loopDelayMillis: 0.5 })])!
  const steady = (perSecond: number) => window(63, perSecond, { loopDelayMillis: 0.5, millis: 50 })
  const stalled = () => {
    const step = new StepTrial('up', 42, 63, baseline)
    step.add(steady(8000)) // the connections opened: dropped
    for (const perSecond of [8000, 8000, 8000]) step.add(steady(perSecond))
    step.add(window(63, 2000, { loopDelayMillis: 20, millis: 50 }))
    return step
  }
  const verdict = stalled().judge(rules)
  assert.is(verdict.kind, 'climb')
  if (verdict.kind === 'climb') assert.ok(Math.abs(verdict.gain - 8 / 7) < 1e-9, `the gain of the steady windows: ${verdict.gain}`)
  // Read with the stall, the four windows served less than before the step, with the use time up: a knee.
  const withStall = aggregate(stalled().windows)!
  assert.ok(withStall.checkoutsPerSecond < baseline.checkoutsPerSecond, String(withStall.checkoutsPerSecond))
})

verdicts('a process slow in every window keeps every window: its slowness is part of the verdict', () => {
  // A busy neighbour: every window's loop delay is high, none stands out. No window is left out, and a
  // step that did not pay while the delay explains the use time reads as this process starving.
  const step = trial('up', 20, 40, 2000)
  for (const delay of [8, 12, 9, 11]) step.add(window(40, 2000, { loopDelayMillis: delay }))
  assert.is(step.span, rules.kneeWindows)
  assert.is(step.judge(rules).kind, 'starved')
})

verdicts('checkouts waiting while connections sit idle are read as the client`s doing', () => {
  const step = trial('up', 20, 40, 2000)
  for (let i = 0; i < rules.kneeWindows; i++) step.add(window(40, 2000, { idle: 3, waiting: 20 }))
  assert.is(step.judge(rules).kind, 'starved')
})

verdicts('a step down is kept only after kneeWindows windows show it cost nothing', () => {
  const step = trial('down', 60, 40, 2000)
  for (let i = 1; i < rules.kneeWindows; i++) {
    step.add(window(40, 2000))
    assert.is(step.judge(rules).kind, 'wait')
  }
  step.add(window(40, 2000))
  assert.is(step.judge(rules).kind, 'keep')
})

verdicts('a step down that cost a little is kept but ends the descent; one that cost nothing lets it go on', () => {
  // A third of 60 connections taken away; the 20 removed carried 1%, 10% or 30% of their share of 3,000 q/s.
  const judged = (perSecond: number) => {
    const step = trial('down', 60, 40, 3000)
    for (let i = 0; i < rules.kneeWindows; i++) step.add(window(40, perSecond))
    return step.judge(rules)
  }
  assert.is(judged(2990).kind, 'keep', 'a 1% share: nothing')
  const settled = judged(2900)
  assert.is(settled.kind, 'settle', 'a 10% share: a little')
  if (settled.kind === 'settle') assert.ok(Math.abs(settled.efficiency - 0.1) < 0.01, `efficiency ${settled.efficiency}`)
  assert.is(judged(2700).kind, 'restore', 'a 30% share: past halfway from a knee`s share to a leap`s')
})

verdicts('a step down that clearly hurt is undone on the first two windows', () => {
  const step = trial('down', 60, 40, 3000)
  step.add(window(40, 2000))
  step.add(window(40, 2000))
  const verdict = step.judge(rules)
  assert.is(verdict.kind, 'restore')
  if (verdict.kind === 'restore') assert.ok(Math.abs(verdict.efficiency - 1) < 0.01, `the removed connections carried their share: ${verdict.efficiency}`)
})

verdicts.run()

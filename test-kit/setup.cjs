// Preloaded before every test file (`uvu -r tsx -r @lifeguard/test-kit/setup test`): an unhandled
// rejection anywhere fails the run instead of passing unnoticed.
process.on('unhandledRejection', (reason) => {
  console.error('Unhandled rejection in tests:', reason)
  process.exitCode = 1
  throw reason
})

// Preloaded before every test file: an unhandled rejection anywhere fails the run.
process.on('unhandledRejection', (reason) => {
  console.error('Unhandled rejection in tests:', reason)
  process.exitCode = 1
  throw reason
})

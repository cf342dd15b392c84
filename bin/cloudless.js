#!/usr/bin/env node
// Entry point. Plain JavaScript that any Node can parse, so an old Node gets a clear message
// instead of a crash deep inside a dependency. The CLI itself is TypeScript, run by Node 22's
// built-in type stripping (no build step).
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 18) || typeof Promise.withResolvers !== 'function') {
  process.stderr.write(
    `cloudless needs Node.js 22.18 or newer, but this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      'Run it through npm from the project folder, which uses the Node 22 pinned in package.json:\n' +
      '  npm install && npm start -- <command>\n' +
      'or install Node.js 22 LTS (https://nodejs.org) and run cloudless again.\n',
  )
  process.exit(1)
}

// The node (`cloudless start`, and `npm start` with no command) runs for days, and is started with
// settings that only take effect at process start (set at run time, V8 flags corrupted the heap
// here): the process replaces itself, keeping its pid, with one started with them.
//
// The young generation: V8 collects it each time it fills, and whatever is still in flight then is
// copied, and soon promoted. Mirroring 10k tracks allocates ~100 KB of short-lived objects per track
// (promises, buffers, stream frames); with --optimize-for-size (which forces a 1 MB semi-space) the
// receiver collected ~80 times a second and its GC took as much CPU as its own work: 85-96 MB/s.
// With 8 MB semi-spaces: 116 MB/s on half the GC CPU. V8 grows the young generation to that only
// while a node allocates fast, and the node gives it back after each burst (collect-garbage.ts):
// a node holding 100k tracks holds 200-257 MB (bench:sync). CLOUDLESS_V8_DEFAULTS=1 keeps V8's own
// settings (16 MB semi-spaces on 64-bit).
const YOUNG_GENERATION = '--max-semi-space-size=8'
// --expose-gc: the node collects after bursts of work (src/node/daemon/collect-garbage.ts).
const V8_FLAGS =
  process.env.CLOUDLESS_V8_DEFAULTS === undefined ? [YOUNG_GENERATION, '--expose-gc'] : ['--expose-gc']
// glibc's malloc, left to itself, keeps a node holding 100k tracks ~80 MB larger (measured at start:
// 261 MB RSS, against 182 MB with these): one arena per thread (libuv, LevelDB, libdatachannel) that
// each keep freed memory, and a mmap threshold that rises after the first big buffers are freed, so
// later catalog-sized buffers come from the heap and are never given back. Two arenas and a fixed
// 128 KiB threshold (big buffers are mapped, and unmapped when freed). A value the user set wins.
const MALLOC_TUNING = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' }
const firstWord = process.argv.slice(2).find((arg) => !arg.startsWith('-'))
const runsNode = firstWord === undefined || firstWord === 'start'
if (runsNode && process.env.CLOUDLESS_NODE_PROCESS === undefined && typeof process.execve === 'function') {
  process.execve(
    process.execPath,
    [process.execPath, ...V8_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
    { ...MALLOC_TUNING, ...process.env, CLOUDLESS_NODE_PROCESS: '1' },
  )
}
await import('../src/node/cli/main.ts')

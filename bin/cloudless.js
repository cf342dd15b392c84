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
await import('../src/node/cli/main.ts')

import { createWriteStream, promises as fs } from 'node:fs'
import path from 'node:path'
import { ManifestBuilder } from '../../../blobs/index.ts'
import { findRunningNode } from '../../control/client.ts'
import { resolveTrackOp } from '../../ops/media-ops.ts'
import type { Command } from '../command.ts'
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../errors.ts'
import { runOp } from '../library.ts'
import { formatBytes, printJson, println } from '../output.ts'

export const getCommand: Command = {
  name: 'get',
  usage: `Usage: cloudless get <trackId> -o <file> [--json]

Writes the track's bytes to a file: from this device's own copy, its cache, or another device of
the library (verified block by block, and the whole file once more against its content ID).
Needs the running node (cloudless start). A unique prefix of the track id is enough.

Options:
  -o, --output <file>  where to write (an existing file is replaced only when the copy is complete)
  --json               print JSON: id, path, bytes, seconds
  --home <dir>         this device's data folder
  -h, --help           show this help`,
  options: { output: { type: 'string', short: 'o' } },
  async run(ctx) {
    const [given] = ctx.positionals
    const output = ctx.values.output as string | undefined
    if (given === undefined || ctx.positionals.length !== 1) throw new UsageError('give one track id')
    if (output === undefined) throw new UsageError('give the file to write: -o <file>')
    const node = await findRunningNode(ctx.home)
    if (node === undefined) throw new Error('this needs the running node: start it with `cloudless start`')
    const track = await runOp(ctx, resolveTrackOp, { track: given })
    const started = performance.now()
    const target = path.resolve(output)
    const temp = `${target}.cloudless-${process.pid}.part`
    const response = await fetch(`${node.httpUrl}/stream/${track.id}`, { signal: ctx.signal })
    if (!response.ok || response.body === null) {
      const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } }
      ctx.stderr.write(`cloudless get: ${body.error?.message ?? response.statusText}\n`)
      return EXIT_FAILURE
    }
    const builder = new ManifestBuilder()
    const out = createWriteStream(temp)
    let bytes = 0
    let lastDraw = 0
    const tty = (ctx.stderr as NodeJS.WriteStream).isTTY === true
    try {
      for await (const chunk of response.body) {
        builder.update(chunk)
        bytes += chunk.length
        if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve))
        if (tty && performance.now() - lastDraw > 100) {
          lastDraw = performance.now()
          ctx.stderr.write(`\r\x1b[2K${formatBytes(bytes)} of ${formatBytes(track.size)}`)
        }
      }
      await new Promise<void>((resolve, reject) =>
        out.end((error?: Error | null) => (error ? reject(error) : resolve())),
      )
      if (tty) ctx.stderr.write('\r\x1b[2K')
      if (builder.finish().contentId !== track.contentId) {
        throw new Error(
          'the bytes received do not match the track (a device served a changed file); nothing was written',
        )
      }
      await fs.rename(temp, target)
    } catch (error) {
      out.destroy()
      await fs.rm(temp, { force: true })
      throw error
    }
    const seconds = (performance.now() - started) / 1000
    if (ctx.json) printJson(ctx, { id: track.id, path: target, bytes, seconds })
    else println(ctx, `Wrote ${track.title} to ${target} (${formatBytes(bytes)} in ${seconds.toFixed(2)} s).`)
    return EXIT_OK
  },
}
